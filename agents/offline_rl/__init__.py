"""Offline RL for the strategy planner from stored (and hindsight-regenerated) dialogues."""
