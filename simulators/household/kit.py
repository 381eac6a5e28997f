"""What a trained Commander user agent is built from, in one place for code outside the simulators layer
(``agents.user_agents``), which reaches it through the environment class (``HouseholdEnv.commander_kit()``)
instead of importing ``simulators``: the TEACh games and their steps, the Commander's acts, the prompt and
answer formats, the parser, and the scoring, baselines and user-agent registry of :mod:`.humanlike`."""

from __future__ import annotations

from .acts import COMMANDER_ACTS
from .games import Context, Decision, Game, contexts, load_games, split_games
from .humanlike import RuleAfterDriverSpeaks, UserAgentKind, confusion_png, evaluate, register_user_agent, table
from .parse import parse_response
from .prompts import history_text, sft_example, sft_prompt

__all__ = ["COMMANDER_ACTS", "Context", "Decision", "Game", "RuleAfterDriverSpeaks", "UserAgentKind", "confusion_png",
           "contexts", "evaluate", "history_text", "load_games", "parse_response", "register_user_agent", "sft_example",
           "sft_prompt", "split_games", "table"]
