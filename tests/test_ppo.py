"""PPO: resuming from a checkpoint continues exactly, refuses weights that do not fit, and the played
episodes' rewards sit on their own turns."""

import re

import pytest
import torch
from safetensors.torch import load_file, save_file

from apps.cli import main
from tests.toy_training import ENV, tiny_policy, toy_env
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from workbench.runs import Run
from workbench.training.episodic import EpisodePlayer
from workbench.training.ppo import RunningMoments


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_policy(tmp_path_factory.mktemp("ppo") / "tiny")


def ppo(model, out, steps, *extra):
    """PPO on the marketplace, where even a random policy's returns differ (by whether anything fits)."""
    return main(["train", "ppo", "--model", str(model), "--env", "marketplace", "--max_turns", "3", "--prompts", "8",
                 "--batch_size", "2", "--num_generations", "2", "--max_new_tokens", "8", "--lr", "1e-2",
                 "--seed", "0", "--save_steps", "1", "--max_steps", str(steps), "--out", str(out), *extra])


def weights(folder):
    return {k: v for f in sorted(folder.glob("*.safetensors")) for k, v in load_file(str(f)).items()}


@pytest.mark.parametrize("extra", [(), ("--lora", "--lora_r", "4")], ids=["full", "lora"])
def test_a_resumed_run_makes_the_same_update_as_an_uninterrupted_one(model, tmp_path, extra):
    assert ppo(model, tmp_path / "straight", 3, *extra) == 0
    assert ppo(model, tmp_path / "resumed", 2, *extra) == 0
    assert ppo(model, tmp_path / "resumed", 3, "--resume", *extra) == 0
    straight, resumed = Run(tmp_path / "straight").metrics(), Run(tmp_path / "resumed").metrics()
    steps = [r for r in resumed if "step" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]  # one more iteration, none repeated
    assert steps == [r for r in straight if "step" in r]  # every number of every update, the third after resume
    assert steps[2]["policy_loss"] != steps[1]["policy_loss"]  # the third update is a new one
    a, b = weights(tmp_path / "straight" / "model"), weights(tmp_path / "resumed" / "model")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(*(torch.load(tmp_path / run / "model" / "value_head.pt")["weight"]
                         for run in ("straight", "resumed")))


def test_resume_refuses_a_checkpoint_whose_keys_differ(model, tmp_path, capsys):
    out = tmp_path / "run"
    assert ppo(model, out, 1) == 0
    (file,) = (out / "checkpoints" / "last").glob("*.safetensors")
    saved = load_file(str(file))
    saved["model.norm.scale"] = saved.pop("model.norm.weight")
    save_file(saved, str(file), metadata={"format": "pt"})
    assert ppo(model, out, 2, "--resume") == 2
    message = capsys.readouterr().err
    assert re.search(r"checkpoint does not fit the policy: missing model\.norm\.weight; "
                     r"unexpected model\.norm\.scale", message)


def test_running_moments_of_the_rewards_merge_batches_exactly():
    moments = RunningMoments()
    assert moments.std == 1.0  # no statistics yet: rewards are not scaled
    moments.update([1.0, 2.0, 3.0])
    moments.update([4.0, 10.0])
    assert (moments.count, moments.mean, moments.var) == (5, 4.0, 10.0)  # those of [1, 2, 3, 4, 10]
    assert moments.std == pytest.approx(10.0 ** 0.5)


class WordTokenizer:
    """Whitespace-separated words as tokens: whitespace alone becomes no token."""

    def __call__(self, text, add_special_tokens=True, return_offsets_mapping=True):
        spans = [m.span() for m in re.finditer(r"\S+", text)]
        return {"input_ids": list(range(len(spans))), "offset_mapping": spans}


def played_episode(first: str) -> Episode:
    turns = [Turn("Therapist", first, reward=0.5), Turn("Patient", "I see."),
             Turn("Therapist", "Tell me more.", reward=-1.0), Turn("Patient", "Well.")]
    return Episode("hand@3", ENV, Case("hand", ENV, {}), turns, outcome={"turns": 2})


def test_each_turns_reward_sits_on_its_last_token_or_the_episode_is_refused():
    player = EpisodePlayer(toy_env(), WordTokenizer(), chat=False)
    played = player.tokenize(played_episode("How are you?"))
    # prompt: "Therapist:"; completion: How are you? Patient: I see. Therapist: Tell me more. Patient: Well.
    assert played.agent_mask == [1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    assert (played.turn_ends, played.turn_rewards) == ([2, 9], [0.5, -1.0])
    with pytest.raises(WorkbenchError, match=r"episode 'hand@3': the policy's 2 turns tokenized to 1 separate spans"):
        player.tokenize(played_episode(""))  # an empty first turn would pass its 0.5 on to the second
