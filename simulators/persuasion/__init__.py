"""Persuasion (PersuasionForGood): the agent persuades a scripted or LLM Persuadee to donate to Save the Children."""

from .env import PersuasionEnv

__all__ = ["PersuasionEnv"]
