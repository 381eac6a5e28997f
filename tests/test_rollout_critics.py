from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agents.policies import FixedPolicy, RandomPolicy
from agents.template import TemplateAgent
from simulators.negotiation import NegotiationEnv
from workbench.critics import GroundTruthCritic, LLMCritic
from workbench.episodes import Turn
from workbench.rollout import rollout, rollout_many
from workbench.runs import Run


def scripted_env(max_turns=8):
    return NegotiationEnv(NegotiationEnv.scripted_simulator(), GroundTruthCritic(NegotiationEnv.ground_truth),
                          max_turns=max_turns)


class CountingAgent(TemplateAgent):
    def __init__(self, *args):
        super().__init__(*args)
        self.batches: list[int] = []

    def act(self, states):
        self.batches.append(len(states))
        return super().act(states)


def test_lockstep_batches_and_determinism(cb_file):
    cases = NegotiationEnv.cases(cb_file)
    agent = CountingAgent(NegotiationEnv, RandomPolicy(NegotiationEnv.strategies))
    eps = rollout(scripted_env(), agent, cases, n=40, seed=7, batch_size=16, progress=False)
    assert [e.provenance["index"] for e in eps] == list(range(40))
    assert max(agent.batches) == 16 and len(agent.batches) < 40  # many episodes per agent call
    again = rollout(scripted_env(), TemplateAgent(NegotiationEnv, RandomPolicy(NegotiationEnv.strategies)),
                    cases, n=40, seed=7, batch_size=3, progress=False)
    assert [e.to_row() for e in again] == [e.to_row() for e in eps]  # batch composition does not matter
    other = rollout(scripted_env(), TemplateAgent(NegotiationEnv, RandomPolicy(NegotiationEnv.strategies)),
                    cases, n=40, seed=8, batch_size=16, progress=False)
    assert [e.to_row() for e in other] != [e.to_row() for e in eps]


def test_several_agents_share_one_lockstep(cb_file):
    cases = NegotiationEnv.cases(cb_file)
    agents = {"random": CountingAgent(NegotiationEnv, RandomPolicy(NegotiationEnv.strategies)),
              "counter": CountingAgent(NegotiationEnv, FixedPolicy(NegotiationEnv.strategy("counter")))}
    env = scripted_env()
    calls = []
    judge = env.critic.judge
    env.critic.judge = lambda states: calls.append(len(states)) or judge(states)
    both = rollout_many(env, agents, cases, n=10, seed=3, batch_size=20, progress=False,
                        provenance={"random": {"planner": "random"}, "counter": {"planner": "counter"}})
    assert calls[0] == 20  # one critic batch over both agents' dialogues
    for key, agent in agents.items():
        assert max(agent.batches) == 10
        alone = rollout(scripted_env(), agent, cases, n=10, seed=3, progress=False, provenance={"planner": key})
        assert [e.to_row() for e in both[key]] == [e.to_row() for e in alone]


def test_episode_shape(cb_file):
    cases = NegotiationEnv.cases(cb_file)
    (ep,) = rollout(scripted_env(max_turns=3), TemplateAgent(NegotiationEnv, FixedPolicy(NegotiationEnv.strategy("greet"))),
                    cases, n=1, progress=False)
    agent_turns = [t for t in ep.turns if t.role == "Buyer" and t.strategy]
    assert len(agent_turns) == 3 and all(t.strategy == "greet" and t.reward is not None for t in agent_turns)
    assert ep.outcome["success"] is False and ep.outcome["turns"] == 3


def test_rollout_appends_and_resumes(tmp_path, cb_file):
    cases = NegotiationEnv.cases(cb_file)
    agent = TemplateAgent(NegotiationEnv, RandomPolicy(NegotiationEnv.strategies))
    full = rollout(scripted_env(), agent, cases, n=12, seed=1, batch_size=4, progress=False)
    run = Run.open(tmp_path / "r", {"seed": 1})
    first = rollout(scripted_env(), agent, cases, n=5, seed=1, batch_size=4, run=run, progress=False)
    assert len(run.episodes()) == 5
    rest = rollout(scripted_env(), agent, cases, n=12, seed=1, batch_size=4, run=run, progress=False,
                   skip=[e.provenance["index"] for e in run.episodes()])
    assert len(rest) == 7
    stored = sorted(run.episodes(), key=lambda e: e.provenance["index"])
    assert [e.to_row() for e in stored] == [e.to_row() for e in full]
    assert first[0].to_row() == full[0].to_row()


class RuleModel(BaseChatModel):
    """Answers by a rule on the prompt text, and records how many prompts each batch held."""

    batches: list[int] = []

    @property
    def _llm_type(self) -> str:
        return "rule"

    def batch(self, inputs, config=None, **kwargs: Any):
        self.batches.append(len(inputs))
        return super().batch(inputs, config, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        text = "\n".join(str(m.content) for m in messages)
        reply = "They have reached a deal at $4321." if "$4321" in text else "banana"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(reply))])


def test_llm_critic_batches_samples_and_counts_unparsable(cb_file):
    case = NegotiationEnv.cases(cb_file)[0]
    env = scripted_env()
    states = [env.begin(case, seed=s) for s in (0, 1)]
    states[0].turns += [Turn("Buyer", "I can pay $4321."), Turn("Seller", "OK, $4321 it is.")]
    states[1].turns += [Turn("Buyer", "Hello."), Turn("Seller", "Hi.")]
    model = RuleModel()
    critic = LLMCritic(model, NegotiationEnv.critic_prompt, NegotiationEnv.parse_verdict,
                       NegotiationEnv.aggregate_verdicts, samples=4)
    deal, none = critic.judge(states)
    assert model.batches == [8]  # 2 dialogues x 4 samples in one call
    assert deal.done and deal.success and deal.info["price"] == 4321 and deal.info["unparsable"] == 0
    seller, buyer = case.fields["seller_price"], case.fields["buyer_price"]
    assert abs(deal.reward - (4321 - seller) / (buyer - seller)) < 1e-9
    assert not none.done and none.info["unparsable"] == 4 and none.info["parsed"] == 0
    assert deal.info["samples"] == none.info["samples"] == 4 and none.info["dropped_votes"] == 0


def test_gym_style_reset_step(cb_file):
    env = scripted_env(max_turns=2)
    case = NegotiationEnv.cases(cb_file)[0]
    obs, info = env.reset(case, seed=0)
    assert obs == info["state"].turns[-1].text and info["state"].turns[-1].role == "Seller"
    greet = Turn("Buyer", "Hello there!", strategy="greet")
    obs, reward, terminated, truncated, info = env.step(greet)
    assert obs == info["state"].turns[-1].text and reward == info["verdict"].reward
    assert not terminated and not truncated
    *_, terminated, truncated, info = env.step(Turn("Buyer", "How old is it?", strategy="inquire"))
    assert truncated and not terminated and info["outcome"]["success"] is False
    import pytest

    from workbench.errors import WorkbenchError
    with pytest.raises(WorkbenchError, match="finished dialogue"):
        env.step(greet)


def test_registry_entry_points_and_runtime_registration(monkeypatch):
    import pytest

    from workbench import registry
    from workbench.errors import WorkbenchError
    from workbench.registry import env_class, env_names, make_env, register

    monkeypatch.setattr(registry, "_EXTRA", {})
    assert "negotiation" in env_names() and env_class("negotiation") is NegotiationEnv
    register("bargain-copy", "simulators.negotiation:NegotiationEnv")
    assert env_class("bargain-copy") is NegotiationEnv
    with pytest.raises(WorkbenchError, match="unknown simulator 'human'"):
        make_env("negotiation", simulator="human")
    with pytest.raises(WorkbenchError, match="ground-truth critic needs the scripted"):
        make_env("negotiation", simulator="llm", sim_model=RuleModel(), critic="ground-truth")
    with pytest.raises(WorkbenchError, match="needs a model"):
        make_env("negotiation", simulator="llm")
