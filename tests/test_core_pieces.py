"""The core's single implementations: an episode's return, running moments, the lockstep loop (and replay
on it), and the role-play messages of a speaker."""

import pytest
import torch
from langchain_core.messages import AIMessage, HumanMessage

from agents.ppdpp.standardise import FeatureStandardiser
from workbench.env import DialogueState
from workbench.episodes import Case, Episode, Turn
from workbench.errors import WorkbenchError
from workbench.hindsight.replay import plans_from_episodes, replay
from workbench.moments import merge_moments
from workbench.registry import env_class, make_env
from workbench.roleplay import roleplay_messages
from workbench.rollout import rollout, rollout_many
from workbench.runs import Run


def test_an_episodes_return_is_the_undiscounted_sum_of_its_rewards_from_a_turn_on():
    rewards = [None, 0.5, None, -1.25, 2.0]
    episode = Episode("e", "x", Case("c", "x", {}), [Turn("A" if i % 2 else "B", "t", reward=r)
                                                      for i, r in enumerate(rewards)])
    assert episode.total_reward == 1.25 == episode.return_from(0)
    assert (episode.return_from(2), episode.return_from(4), episode.return_from(5)) == (0.75, 2.0, 0.0)


def test_merged_moments_are_those_of_all_the_data_at_once():
    count, mean, var = merge_moments(0.0, torch.zeros(()), torch.ones(()), torch.tensor([1.0, 2.0, 3.0]))
    count, mean, var = merge_moments(count, mean, var, torch.tensor([4.0, 10.0]))
    assert (count, mean.item(), var.item()) == (5.0, 4.0, 10.0)  # [1, 2, 3, 4, 10]: mean 4, variance 50 / 5
    standardise, head = FeatureStandardiser(1), torch.nn.Linear(1, 2)
    standardise.observe(torch.tensor([[1.0], [2.0], [3.0]]), head)
    standardise.observe(torch.tensor([[4.0], [10.0]]), head)
    assert (standardise.count.item(), standardise.mean.item(), standardise.var.item()) == (5.0, 4.0, 10.0)


class Cycling:
    """Speaks the template line of strategy ``3 * turn`` (mod the set): no random draw of its own."""

    def __init__(self, env):
        self.env = env

    def act(self, states):
        strategies = self.env.strategies
        return [Turn(s.agent_role, self.env.realise(s, strategy), strategy=strategy.name)
                for s in states for strategy in [strategies[3 * s.agent_turns % len(strategies)]]]


def test_rollout_takes_given_seeds_and_lets_a_hook_prepare_each_dialogue():
    env = make_env("negotiation")
    cases = env_class("negotiation").cases()[:3]
    begun = []

    def shorten(key, index, state):
        begun.append((key, index, state.agent_turns))
        state.max_turns = index + 1

    (episodes,) = rollout_many(env, {"k": Cycling(env)}, cases, n=3, seeds=[70, 71, 72], on_begin=shorten,
                               batch_size=2, progress=False).values()
    assert [e.id for e in episodes] == [f"{c.id}@{s}" for c, s in zip(cases, (70, 71, 72))]
    assert sorted(begun) == [("k", 0, 0), ("k", 1, 0), ("k", 2, 0)]
    assert all(e.outcome["turns"] <= i + 1 for i, e in enumerate(episodes))
    assert episodes[0].outcome["turns"] == 1
    with pytest.raises(WorkbenchError, match="2 seeds for 3 episodes"):
        rollout_many(env, {"k": Cycling(env)}, cases, n=3, seeds=[1, 2], progress=False)


def test_replaying_a_self_play_run_plays_it_again_exactly(tmp_path):
    env = make_env("negotiation")
    played = rollout(env, Cycling(env), env_class("negotiation").cases()[:4], n=6, seed=3, batch_size=4,
                     run=Run.open(tmp_path / "run", {}), progress=False)
    again = replay(env, plans_from_episodes(type(env), tmp_path / "run", keep_text=False), batch_size=2,
                   progress=False)
    assert [(e.id, e.turns, e.outcome) for e in again] == [(e.id, e.turns, e.outcome) for e in played]
    assert [e.provenance for e in again] == [{"origin": "episode", "source": e.id, "return": e.total_reward}
                                             for e in played]
    assert replay(env, [], progress=False) == []


def test_roleplay_messages_show_the_dialogue_from_the_speakers_side():
    state = DialogueState(case=Case("c", "x", {}), env="x", agent_role="Buyer", user_role="Seller", max_turns=4,
                          seed=0, turns=[Turn("Seller", "It is $100."), Turn("Buyer", "Too much.")])
    assert roleplay_messages(state, "Buyer") == [HumanMessage(content="It is $100.", name="Seller"),
                                                 AIMessage(content="Too much.", name="Buyer")]
