"""The chat-model methods of ``workbench train``: TRL's trainers and the workbench's PPO, registered.

Their options are ``workbench.training.config``'s per-method configs and their backend is
``workbench.training.trainers.train``; this module adds what the core leaves to agents: with
``--env``, RLOO and Online DPO score a trained turn by the episode it opens, played on by the
template agent under the ``--continuation`` strategy policy.
"""

from __future__ import annotations

from typing import Any

from workbench.methods import Method

_CONFIG = "workbench.training.config:"
_RUN = "agents.trl_methods:run"
_OFFLINE = ("model", "data")
_ONLINE = ("model", "env")
_PAIRS = "preference pairs: episodes (paired by --pairs) or a TRL preference dataset (chosen / rejected)"
_PLAYED = "episodes played against --env (or --data prompts scored by --reward_model)"

METHODS = (
    Method("sft", "supervised fine-tuning; in multi-turn dialogues only the agent's turns carry loss",
           _CONFIG + "SFTTrainConfig", _RUN, "dialogues: episodes or a TRL conversational / text dataset", _OFFLINE),
    Method("reward", "reward model on preference pairs (Bradley-Terry)", _CONFIG + "RewardTrainConfig", _RUN,
           _PAIRS, _OFFLINE),
    Method("dpo", "direct preference optimisation and its loss variants (--loss_type, --f_divergence_type)",
           _CONFIG + "DPOTrainConfig", _RUN, _PAIRS, _OFFLINE),
    Method("kto", "Kahneman-Tversky optimisation on unpaired good / bad replies", _CONFIG + "KTOTrainConfig", _RUN,
           "good / bad replies: episodes or a TRL unpaired dataset (prompt / completion / label)", _OFFLINE),
    Method("orpo", "odds-ratio preference optimisation, no reference model", _CONFIG + "ORPOTrainConfig", _RUN,
           _PAIRS, _OFFLINE),
    Method("simpo", "SimPO: length-normalised reward margin, no reference model", _CONFIG + "SimPOTrainConfig",
           _RUN, _PAIRS, _OFFLINE),
    Method("grpo", "group-relative policy optimisation; with --env whole episodes against the simulator",
           _CONFIG + "GRPOTrainConfig", _RUN, _PLAYED, _ONLINE),
    Method("rloo", "REINFORCE leave-one-out; with --env the turn's reward is its episode's return",
           _CONFIG + "RLOOTrainConfig", _RUN, _PLAYED, _ONLINE),
    Method("online-dpo", "online DPO: pairs sampled from the policy, ranked by the reward",
           _CONFIG + "OnlineDPOTrainConfig", _RUN, _PLAYED, _ONLINE),
    Method("ppo", "PPO (PPO-max stabilisers) over whole episodes against the simulator (workbench's own)",
           _CONFIG + "PPOTrainConfig", _RUN, "episodes played against --env", _ONLINE),
)


def continuation_agent(config: Any) -> Any:
    """The template agent under ``config.continuation``, for a method that plays episodes on (else None)."""
    if not (getattr(config, "continuation", None) and getattr(config, "env", None)):
        return None
    from agents.policies import make_policy
    from agents.template import TemplateAgent
    from workbench.errors import WorkbenchError
    from workbench.registry import env_class

    cls = env_class(config.env)
    policy = make_policy(config.continuation, cls)
    if policy is None:
        raise WorkbenchError("--continuation must be a strategy policy (random, most-frequent, fixed:<name>, "
                             "planner:<folder>)")
    return TemplateAgent(cls, policy)


def choose_out(config: Any) -> None:
    """Set ``config.out`` for a run without ``--out``: one new ``runs/<method>-<date>-<time>`` folder, named by the
    main process and shared with the others under ``accelerate launch``."""
    if config.out is not None:
        return
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    from workbench.config import resolve_out as new_out

    PartialState()  # the process group, where there is one
    config.out = broadcast_object_list([new_out(None, config.resume, config.method)])[0]  # the main process's name


def run(config: Any) -> tuple[Any, str]:
    """Train ``config.method``; return the run and its summary lines."""
    from workbench.training.config import check_trackers
    from workbench.training.trainers import train

    check_trackers(config)
    choose_out(config)
    trained, summary = train(config, continuation=continuation_agent(config))
    return trained, "\n".join(f"{k}: {v}" for k, v in summary.items())
