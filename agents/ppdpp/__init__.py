"""PPDPP: a plug-and-play dialogue policy planner (Deng et al., ICLR 2024)."""
