"""``workbench train ppdpp``, registered (options in ``agents.ppdpp.config``, run in ``agents.ppdpp.run``)."""

from workbench.methods import Method

METHOD = Method("ppdpp", "PPDPP plug-in strategy planner: SFT on annotated strategies, then self-play REINFORCE",
                "agents.ppdpp.config:PPDPPConfig", "agents.ppdpp.run:run_ppdpp",
                "the environment's strategy-annotated dialogues (SFT), then self-play against its simulator (RL)",
                inputs=("env",))
