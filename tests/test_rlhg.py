"""RLHG (agents/rlhg): the human-gain pieces on hand-worked numbers, the batched GAE against the workbench's,
the dual-clipped surrogate through ``ppo_loss``, each stage's training, and exact resume."""

import ast
import math
from pathlib import Path

import pytest
import torch

from agents.rlhg.config import RLHGConfig
from agents.rlhg.losses import batched_gae, gain_loss, human_advantage, total_advantage
from agents.rlhg.rollout import Collector
from agents.rlhg.train import MODEL, run_rlhg
from simulators.moba.vector_env import HUMAN_SLICE, MobaVectorEnv, human_obs_mask
from workbench.runs import Run
from workbench.training.ppo import gae, ppo_loss

G = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
DELTA = torch.tensor([[1.0, 0.5], [1.5, 1.0]])


def test_gain_loss_counts_only_positive_gains_and_trains_only_delta():
    # 1{G>0}(G - Delta)^2 = [[1, 0], [1, 4]]; 0.5 * mean over goals = [0.25, 1.25]; mean over samples 0.75
    gain, delta = G.clone().requires_grad_(), DELTA.clone().requires_grad_()
    loss = gain_loss(gain, delta)
    assert loss.item() == pytest.approx(0.75)
    loss.backward()
    assert gain.grad is None
    # d/dDelta = -1{G>0}(G - Delta) / (2 samples * 2 goals)
    assert delta.grad.flatten().tolist() == pytest.approx([-0.25, 0.0, 0.25, -0.5])
    assert gain_loss(G, DELTA, torch.tensor([1.0, 0.0])).item() == pytest.approx(0.25)  # agent-only sample dropped


def test_human_advantage_and_total_advantage():
    delta = DELTA.clone().requires_grad_()
    adv_h = human_advantage(G, delta)
    assert adv_h.tolist() == pytest.approx([(2 - 1) + (-1 - 0.5), (0.5 - 1.5) + (3 - 1)])  # [-0.5, 1.0]
    assert not adv_h.requires_grad  # sg(Delta)
    total = total_advantage(torch.tensor([0.3, -0.2]), adv_h, torch.tensor([1.0, 0.0]), alpha=2.0)
    assert total.tolist() == pytest.approx([0.3 + 2 * -0.5, -0.2])  # agent-only: task advantage alone
    # a human who pursues only the second goal: A_H = G_2 - Delta_2
    only_second = human_advantage(G, delta, torch.tensor([0.0, 1.0]))
    assert only_second.tolist() == pytest.approx([-1 - 0.5, 3 - 1])


def test_human_gain_is_discounted_return_minus_primitive_value_cut_at_episode_ends():
    rewards = torch.tensor([[[1.0], [0.0], [2.0]]])  # one match, T = 3, one goal
    values = torch.full((1, 3, 1), 0.5)
    gain, returns = batched_gae(rewards, values, 0.5, 1.0, last_values=torch.tensor([[1.0]]))
    # R_H = [1 + 0.5 * 1.25, 0 + 0.5 * 2.5, 2 + 0.5 * 1] = [1.625, 1.25, 2.5]
    assert returns.flatten().tolist() == pytest.approx([1.625, 1.25, 2.5])
    assert gain.flatten().tolist() == pytest.approx([1.125, 0.75, 2.0])
    gain, _ = batched_gae(rewards, values, 0.5, 1.0, dones=torch.tensor([[0.0, 1.0, 0.0]]),
                          last_values=torch.tensor([[1.0]]))
    assert gain.flatten().tolist() == pytest.approx([1.0 - 0.5, 0.0 - 0.5, 2.5 - 0.5])


def test_batched_gae_equals_the_workbench_gae_row_by_row():
    g = torch.Generator().manual_seed(0)
    rewards, values = torch.randn(6, 15, generator=g), torch.randn(6, 15, generator=g)
    actions = (torch.rand(6, 15, generator=g) > 0.3).float()
    actions[2] = 0  # a row without actions
    want_adv, want_ret = gae(rewards, values, actions, 0.9, 0.8)
    adv, ret = batched_gae(rewards, values, 0.9, 0.8, mask=actions)
    assert torch.allclose(adv, want_adv, atol=1e-6) and torch.allclose(ret, want_ret, atol=1e-6)


def test_dual_clip_surrogate_through_the_workbench_ppo_loss():
    config = RLHGConfig()
    assert (config.clip_range, config.dual_clip) == (0.2, 3.0)
    logps = torch.tensor([2.0, math.log(2.0)])  # ratios e^2 and 2 against old log-probs 0
    values = torch.tensor([1.0, 1.0])
    loss, info = ppo_loss(logps, values, torch.zeros(2), values, torch.tensor([-1.0, 1.0]), values,
                          torch.ones(2), config)
    # A = -1: max(e^2 * 1, 1.2 * 1) = 7.39, dual-clipped to 3 * 1 = 3; A = +1: max(-2, -1.2) = -1.2
    assert info["policy_loss"] == pytest.approx((3.0 - 1.2) / 2)
    assert info["value_loss"] == 0.0 and loss.item() == pytest.approx(0.9)


def test_agent_only_rows_see_no_human_input():
    env = MobaVectorEnv(2, seed=0)
    collector = Collector(env, 0, human_obs_mask(), 1.0, [1.0] * 4)
    full = torch.as_tensor(collector.obs)
    seen = collector.gate(full, torch.tensor([1.0, 0.0]))
    assert torch.equal(seen[0], full[0])
    assert seen[1, HUMAN_SLICE].abs().sum() == 0 and full[1, HUMAN_SLICE].abs().sum() > 0
    assert torch.equal(seen[1, HUMAN_SLICE.stop:], full[1, HUMAN_SLICE.stop:])


def small(stage, out, **kw):
    options = dict(num_envs=4, rollout_steps=8, updates=2, ppo_epochs=2, minibatches=2, hidden=16, save_every=1,
                   progress=False) | kw
    return RLHGConfig(stage=stage, out=str(out), **options)


def weights(folder):
    return torch.load(Path(folder) / MODEL, weights_only=False)


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_each_stage_trains_two_updates(tmp_path):
    run, _ = run_rlhg(small("self", tmp_path / "self"), MobaVectorEnv)
    rows = run.metrics()
    assert [r["update"] for r in rows] == [1, 2] and all(math.isfinite(r["policy_loss"]) for r in rows)
    assert rows[-1]["env_steps"] == 2 * 4 * 8
    assert (tmp_path / "self" / "plots" / "training.png").stat().st_size > 0
    run_rlhg(small("value", tmp_path / "value", init=str(tmp_path / "self")), MobaVectorEnv)
    this, before = weights(tmp_path / "value"), weights(tmp_path / "self")
    assert same(this["policy"], before["policy"])  # Stage I: the self-centred agent is frozen
    assert this["human_value"] is not None
    assert "human_value_loss" in Run(tmp_path / "value").metrics()[0]
    run, _ = run_rlhg(small("gain", tmp_path / "gain", init=str(tmp_path / "value"), beta=0.5), MobaVectorEnv)
    gained = weights(tmp_path / "gain")
    assert same(gained["human_value"], this["human_value"])  # Stage II: V_phi stays the primitive value
    assert not same(gained["policy"], this["policy"]) and gained["gain"] is not None
    assert all("gain_loss" in r and "human_advantage" in r for r in run.metrics())
    assert this["goal_std"].shape == (4,) and (this["goal_std"] > 0).all()  # the goal units of Stage II
    assert torch.equal(gained["goal_std"], this["goal_std"])
    run, _ = run_rlhg(small("shaping", tmp_path / "shaping", init=str(tmp_path / "value")), MobaVectorEnv)
    assert len(run.metrics()) == 2


def test_gain_needs_a_value_run(tmp_path):
    from workbench.errors import WorkbenchError

    run_rlhg(small("self", tmp_path / "self"), MobaVectorEnv)
    for stage in ("gain", "shaping"):
        with pytest.raises(WorkbenchError, match="starts from a value run"):
            run_rlhg(small(stage, tmp_path / stage, init=str(tmp_path / "self")), MobaVectorEnv)
    with pytest.raises(WorkbenchError, match="needs --init"):
        run_rlhg(small("value", tmp_path / "value"), MobaVectorEnv)
    with pytest.raises(WorkbenchError, match="no model.pt"):
        run_rlhg(small("value", tmp_path / "value", init=str(tmp_path)), MobaVectorEnv)
    (tmp_path / "junk.pt").write_text("not a model")
    with pytest.raises(WorkbenchError, match="not a model file"):
        run_rlhg(small("value", tmp_path / "value", init=str(tmp_path / "junk.pt")), MobaVectorEnv)
    with pytest.raises(WorkbenchError, match=r"--goal_scales has 2 factors but moba has 4 human goals \(kills, gold"):
        run_rlhg(small("self", tmp_path / "bad", goal_scales=[1.0, 2.0]), MobaVectorEnv)
    with pytest.raises(WorkbenchError, match="unknown persona 'nobody'"):
        run_rlhg(small("self", tmp_path / "bad", persona="slayer-high,nobody"), MobaVectorEnv)
    assert not any((tmp_path / name).exists() for name in ("gain", "shaping", "value", "bad"))


@pytest.mark.parametrize("stage", ["self", "gain"])
def test_resume_gives_the_same_parameters_as_an_uninterrupted_run(tmp_path, stage):
    init = {}
    if stage == "gain":
        run_rlhg(small("self", tmp_path / "self"), MobaVectorEnv)
        run_rlhg(small("value", tmp_path / "value", init=str(tmp_path / "self")), MobaVectorEnv)
        init = {"init": str(tmp_path / "value")}
    config = lambda out, updates, **kw: small(stage, tmp_path / out, save_every=2, updates=updates,  # noqa: E731
                                              **init, **kw)
    run_rlhg(config("straight", 4), MobaVectorEnv)
    run_rlhg(config("resumed", 2), MobaVectorEnv)
    checkpoint = tmp_path / "resumed" / "checkpoints" / "last.pt"
    at_two = checkpoint.read_bytes()
    run_rlhg(config("resumed", 3, resume=True), MobaVectorEnv)
    checkpoint.write_bytes(at_two)  # as if it had died after update 3, before checkpointing it
    run_rlhg(config("resumed", 4, resume=True), MobaVectorEnv)
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    for key in ("policy", "human_value", "gain"):
        assert (a[key] is None and b[key] is None) or same(a[key], b[key])
    rows_a = [{k: v for k, v in r.items() if k != "seconds"} for r in Run(tmp_path / "straight").metrics()]
    rows_b = [{k: v for k, v in r.items() if k != "seconds"} for r in Run(tmp_path / "resumed").metrics()]
    assert rows_a == rows_b


def test_the_agent_package_does_not_import_simulators_or_apps():
    for file in Path("agents/rlhg").glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("simulators", "apps") for n in names), file
