"""``RLHGConfig``: the options of RLHG training (:mod:`agents.rlhg.train`), in a module light enough for ``--help``.

The PPO options ``clip_range``, ``dual_clip``, ``value_clip`` and ``vf_coef`` carry the names that
:func:`workbench.training.ppo.ppo_loss` reads, so the config is passed to it as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.config import out_field

STAGES = ("self", "value", "gain", "shaping")
"""``self``: PPO on the task reward; ``value``: Stage I, fit V_phi with the self-centred agent frozen; ``gain``:
Stage II, RLHG; ``shaping``: baseline, PPO on task reward + alpha * (scaled) human-goal reward."""


@dataclass
class RLHGConfig:
    stage: str = field(default="self", metadata={"help": "self, value, gain or shaping", "choices": STAGES})
    game: str = field(default="moba", metadata={"help": "vector game (a name in the workbench.games entry points)"})
    persona: str = field(default="allrounder-high", metadata={"help": "the scripted human's persona"})
    init: str | None = field(default=None, metadata={
        "help": "run folder of the previous stage (its model.pt): the self-centred agent for value and shaping, the "
                "value stage's run (agent + V_phi) for gain", "path": "in"})
    num_envs: int = field(default=64, metadata={"help": "matches played in lockstep (B)", "min": 1})
    rollout_steps: int = field(default=128, metadata={"help": "steps per match per update (T)", "min": 1})
    updates: int = field(default=50, metadata={"help": "updates (one rollout of T x B steps each)", "min": 1})
    ppo_epochs: int = field(default=4, metadata={"help": "passes over each rollout", "min": 1})
    minibatches: int = field(default=4, metadata={"help": "minibatches per pass", "min": 1})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate (policy, gain and human value nets)",
                                              "gt": 0})
    hidden: int = field(default=128, metadata={"help": "hidden width of the MLPs", "min": 1})
    gamma: float = field(default=0.995, metadata={"help": "discount of the task reward", "min": 0, "max": 1})
    lam: float = field(default=0.95, metadata={"help": "GAE lambda of the task advantage", "min": 0, "max": 1})
    human_gamma: float = field(default=0.995, metadata={"help": "discount of the human-goal returns", "min": 0,
                                                        "max": 1})
    human_lambda: float = field(default=0.95, metadata={
        "help": "lambda of the human gain and of V_phi's targets (1: G = R_H - V_phi(s) from the Monte-Carlo return, "
                "the paper's; lower bootstraps from V_phi: less variance, some bias)",
        "min": 0, "max": 1})
    task_reward_scale: float = field(default=0.1, metadata={
        "help": "factor on the game's task reward (a win is 10 there)", "gt": 0})
    goal_scales: list[float] = field(default_factory=lambda: [1.0, 0.01, 1.0, 1.0], metadata={
        "help": "factor on each human-goal reward (kills, gold, towers, -deaths)"})
    clip_range: float = field(default=0.2, metadata={"help": "PPO ratio clip", "gt": 0})
    dual_clip: float | None = field(default=3.0, metadata={
        "help": "dual clip c (Ye et al. 2020): for A < 0 the loss is capped at -c*A; none: off", "gt": 1})
    value_clip: float = field(default=1.0, metadata={"help": "task value clip around the old values", "gt": 0})
    vf_coef: float = field(default=0.5, metadata={"help": "weight of the task value loss", "min": 0})
    ent_coef: float = field(default=0.003, metadata={"help": "entropy bonus", "min": 0})
    alpha: float = field(default=2.0, metadata={
        "help": "weight of the human-gain advantage (gain) or of the human-goal reward (shaping)", "min": 0})
    beta: float = field(default=0.5, metadata={
        "help": "probability that a match's rollout is in human-agent mode (gain stage); else agent-only: the "
                "human's observation is gated to zero and only the task advantage counts", "min": 0, "max": 1})
    max_grad_norm: float = field(default=0.5, metadata={"help": "gradient clipping norm", "gt": 0})
    eval_matches: int = field(default=0, metadata={
        "help": "full matches played greedily at the end for the summary (0: none)", "min": 0})
    save_every: int = field(default=10, metadata={"help": "checkpoint every N updates", "min": 1})
    seed: int = field(default=0, metadata={"help": "random seed (networks, sampling, matches)"})
    out: str | None = out_field("rlhg")
    resume: bool = field(default=False, metadata={"help": "continue an interrupted run in --out"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar", "no_help": "hide the progress bar"})
