"""Marketplace (after RLHS, Liang et al. 2025): a shopping assistant who knows what the customer cannot see."""

from .env import MarketplaceEnv

__all__ = ["MarketplaceEnv"]
