import pytest
import torch

from agents.ppdpp.planner import PlannerPolicy, StrategyPlanner
from agents.ppdpp.returns import discounted_returns
from agents.ppdpp.standardise import FeatureStandardiser
from simulators.negotiation import NegotiationEnv
from simulators.tutoring import TutoringEnv
from workbench.critics import GroundTruthCritic
from workbench.errors import WorkbenchError
from workbench.llm.tiny import tiny_encoder


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory):
    return str(tiny_encoder(tmp_path_factory.mktemp("encoder")))


def tiny_planner(strategies, max_length=32) -> StrategyPlanner:
    torch.manual_seed(0)
    return StrategyPlanner.from_encoder(strategies, str(tiny_encoder()), max_length)


def test_discounted_returns_exact_and_normalised():
    assert discounted_returns([0.0, 0.0, 1.0], gamma=0.5, normalise=False).tolist() == [0.25, 0.5, 1.0]
    g = discounted_returns([-0.1, -0.1, 0.8], gamma=0.999)
    assert abs(g.mean().item()) < 1e-6 and abs(g.std(unbiased=False).item() - 1) < 1e-5
    assert g[2] > g[1] > g[0]
    assert discounted_returns([0.5]).tolist() == [0.0]


def test_forward_backward_and_left_truncation():
    names = [s.name for s in NegotiationEnv.strategies]
    planner = tiny_planner(names, max_length=16)
    logits = planner(["Buyer: hi\nSeller: it is $100", "Buyer: would you take $80?"])
    assert logits.shape == (2, len(names))
    torch.nn.functional.cross_entropy(logits, torch.tensor([3, 4])).backward()
    assert planner.head.weight.grad.abs().sum() > 0
    assert planner.encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    # truncated from the left: only the end of a long history matters
    tail = " and then the seller said that the price of the old red bike is final at one hundred dollars today"
    a, b = planner.eval()(["Buyer: hello there friend " * 10 + tail, "Seller: good morning to you " * 10 + tail])
    assert torch.allclose(a, b)


def test_pooling_is_saved_and_checked(tmp_path):
    names = [s.name for s in TutoringEnv.strategies]
    planner = StrategyPlanner.from_encoder(names, str(tiny_encoder(tmp_path / "enc")), 32, pooling="cls")
    loaded = StrategyPlanner.load(planner.save(tmp_path / "planner"))
    assert loaded.pooling == "cls"
    assert torch.allclose(planner.eval()(["Student: ciao"]), loaded(["Student: ciao"]), atol=1e-6)
    with pytest.raises(WorkbenchError, match="unknown pooling 'max'"):
        StrategyPlanner.from_encoder(names, str(tmp_path / "enc"), 32, pooling="max")


def test_feature_standardisation_tracks_the_data_and_never_changes_the_policy():
    torch.manual_seed(0)
    standardise, head = FeatureStandardiser(3), torch.nn.Linear(3, 4)
    data = torch.randn(50, 3) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([2.0, -3.0, 7.0])
    probe = torch.randn(6, 3) + 2
    before = head(standardise(probe))
    assert torch.equal(standardise(probe), probe)  # the identity before any data
    standardise.observe(data[:20], head)
    standardise.observe(data[20:], head)  # merged statistics equal those of all the data at once
    assert torch.allclose(standardise.mean, data.mean(0), atol=1e-5)
    assert torch.allclose(standardise.var, data.var(0, unbiased=False), atol=1e-4) and standardise.count == 50
    assert torch.allclose(head(standardise(probe)), before, atol=1e-4)  # the head was re-parametrised
    z = standardise(data)
    assert torch.allclose(z.mean(0), torch.zeros(3), atol=1e-4) and torch.allclose(z.std(0, unbiased=False),
                                                                                    torch.ones(3), atol=1e-3)


def test_save_load_and_strategy_set_check(tmp_path):
    env = NegotiationEnv(NegotiationEnv.scripted_simulator(), GroundTruthCritic(NegotiationEnv.ground_truth))
    planner = tiny_planner([s.name for s in NegotiationEnv.strategies])
    history = ["Buyer: Hi, how much is the bike?\nSeller: It is $100."]
    planner.standardise.observe(torch.randn(5, planner.head.in_features), planner.head)  # saved with it
    path = planner.save(tmp_path / "planner")
    loaded = StrategyPlanner.load(path)
    assert torch.allclose(planner.eval()(history), loaded(history), atol=1e-6)
    with pytest.raises(WorkbenchError, match="environment 'tutoring' has"):
        PlannerPolicy(loaded, TutoringEnv)
    with pytest.raises(WorkbenchError, match="no planner"):
        StrategyPlanner.load(tmp_path)
    states = [env.begin(c, seed=i) for i, c in enumerate(NegotiationEnv.cases()[:4])]
    greedy = PlannerPolicy(loaded, NegotiationEnv, greedy=True).choose(states)
    assert all(s in NegotiationEnv.strategies and 0 < p <= 1 for s, p in greedy)
    assert greedy == PlannerPolicy(loaded, NegotiationEnv, greedy=True).choose(states)


def test_saved_planner_plugs_into_selfplay(tmp_path, capsys):
    from apps.cli import main
    from workbench.runs import Run

    path = tiny_planner([s.name for s in TutoringEnv.strategies]).save(tmp_path / "planner")
    assert main(["selfplay", "--env", "tutoring", "--policy", f"planner:{path}", "-n", "6",
                 "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    episodes = Run(tmp_path / "run").episodes()
    assert len(episodes) == 6 and all(0 < t.info["strategy_prob"] <= 1 for e in episodes for t in e.turns
                                      if t.role == "Teacher" and t.strategy)
    capsys.readouterr()
    assert main(["selfplay", "--env", "negotiation", "--policy", f"planner:{path}",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "environment 'negotiation' has" in capsys.readouterr().err
