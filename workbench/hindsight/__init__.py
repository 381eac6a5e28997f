"""Hindsight: regenerate finished dialogues (Hong et al. 2024) and label preferences after simulating
consequences (Liang et al. 2025, RLHS)."""
