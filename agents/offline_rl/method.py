"""``workbench train offline-rl``, registered (options and run in ``agents.offline_rl.run``)."""

from workbench.methods import Method

METHOD = Method("offline-rl", "strategy planner from stored dialogues: BC, filtered BC, advantage-weighted "
                "regression, or DPO on simulated preference labels",
                "agents.offline_rl.run:OfflineRLConfig", "agents.offline_rl.run:run_offline_rl",
                "a run directory of episodes (self-play or hindsight-regenerated), or its preference pairs",
                inputs=("env", "data"))
