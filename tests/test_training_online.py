"""Environment in the loop: GRPO, RLOO, Online DPO and PPO raise the toy task's mean episode return."""

import pytest
import torch

from tests.toy_training import ENV, TURNS, coin_episodes, load, mean_return, tiny_policy, toy_cases, toy_env
from tests.helpers import train_method
from workbench.training.config import PPOTrainConfig
from workbench.training.episodic import EpisodePlayer
from workbench.training.ppo import gae, ppo_loss


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    """The tiny model after SFT on coin-flip dialogues: it says A or B, about half and half."""
    root = tmp_path_factory.mktemp("online")
    episodes = coin_episodes(root / "episodes", n=64)
    run, _ = train_method("sft", model=str(tiny_policy(root / "tiny")), data=str(episodes), out=str(root / "sft"),
                          epochs=10, batch_size=8, lr=3e-3, logging_steps=10)
    return {"root": root, "model": run.path / "model", "return": mean_return(run.path / "model")}


def online(policy, method, out=None, **kw):
    base = dict(model=str(policy["model"]), env=ENV, max_turns=TURNS, prompts=16, batch_size=8,
                max_new_tokens=12, lr=5e-4, seed=0, logging_steps=1)
    if method != "online-dpo":
        base["num_generations"] = 8
    return train_method(method, **{**base, **kw}, out=str(policy["root"] / (out or method)))


def test_played_episodes_mask_exactly_the_policys_turns(policy):
    model, tok = load(policy["model"])
    player = EpisodePlayer(toy_env(), tok, chat=False, max_new_tokens=12)
    torch.manual_seed(0)
    for p in player.play(model, toy_cases(4), seed=0):
        agent = [t for t in p.episode.turns if t.role == "Therapist"]
        said = tok.decode([t for t, m in zip(p.completion_ids, p.agent_mask) if m])
        assert said == "".join(f" {t.text}\n" for t in agent)
        assert p.turn_rewards == [t.reward for t in agent] and len(p.turn_ends) == len(agent)
        assert all(p.agent_mask[e] == 1 and (e + 1 == len(p.agent_mask) or p.agent_mask[e + 1] == 0)
                   for e in p.turn_ends)
        assert tok.decode(p.prompt_ids).endswith("Therapist:")  # the opening is the prompt


def test_the_sft_policy_says_both(policy):
    assert -2.0 < policy["return"] < -0.8  # between always-A (about -0.2) and always-B (about -2.6)


@pytest.mark.parametrize("method,kw", [
    ("grpo", {"max_steps": 30, "trl": ["beta=0.0"]}),
    ("rloo", {"max_steps": 40, "continuation": "most-frequent"}),
    ("online-dpo", {"max_steps": 40, "continuation": "most-frequent"}),
    ("ppo", {"max_steps": 10, "batch_size": 4, "num_generations": 4, "lr": 1e-3}),
])
def test_rl_in_the_loop_raises_the_mean_episode_return(policy, method, kw):
    run, summary = online(policy, method, **kw)
    after = mean_return(run.path / "model")
    assert after > policy["return"] + 0.3, (policy["return"], after, summary)
    assert (run.path / "plots" / "train.png").is_file()


def test_gae_skips_the_users_tokens():
    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0, 2.0]])
    values = torch.tensor([[0.5, 0.0, 0.2, 0.0, 0.0, 0.1]])
    actions = torch.tensor([[1.0, 0.0, 1.0, 0.0, 0.0, 1.0]])
    adv, ret = gae(rewards, values, actions, gamma=1.0, lam=1.0)
    # with gamma = lambda = 1 the advantage is the sum of later action rewards minus the value
    assert torch.allclose(adv, torch.tensor([[2.5, 0.0, 2.8, 0.0, 0.0, 1.9]]))
    assert torch.allclose(ret * actions, torch.tensor([[3.0, 0.0, 3.0, 0.0, 0.0, 2.0]]))


def test_ppo_loss_clips_and_dual_clips():
    config = PPOTrainConfig(clip_range=0.2, value_clip=0.2, vf_coef=0.0)
    mask = torch.ones(1, 2)
    old = torch.zeros(1, 2)
    adv = torch.tensor([[1.0, -1.0]])
    logps = torch.log(torch.tensor([[2.0, 5.0]]))  # ratios 2 and 5
    loss, _ = ppo_loss(logps, old, old, old, adv, old, mask, config)
    assert loss.item() == pytest.approx((-1.2 + 5.0) / 2)  # max(-rA, -clip(r)A) per token
    config.dual_clip = 3.0
    loss, _ = ppo_loss(logps, old, old, old, adv, old, mask, config)
    assert loss.item() == pytest.approx((-1.2 + 3.0) / 2)  # the negative advantage's loss is capped at -cA
