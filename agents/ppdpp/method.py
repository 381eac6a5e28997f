"""``workbench train ppdpp``, registered (options and run in ``agents.ppdpp.run``)."""

from workbench.methods import Method

METHOD = Method("ppdpp", "PPDPP plug-in strategy planner: SFT on annotated strategies, then self-play REINFORCE",
                "agents.ppdpp.run:PPDPPConfig", "agents.ppdpp.run:run_ppdpp",
                "the environment's strategy-annotated dialogues (SFT), then self-play against its simulator (RL)",
                inputs=("env",))
