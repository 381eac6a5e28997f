"""The tool-using Assistant's three moves, the planner's action space: call a tool (OpenAGI RLTF, Ge et al. 2023;
iTool, Zeng et al. 2025), ask the User for a detail the request leaves out, or answer."""

from __future__ import annotations

from workbench.env import Strategy

STRATEGIES: tuple[Strategy, ...] = (
    Strategy("call-tool", "Call the tool that takes the next step toward the answer, as the call format says."),
    Strategy("ask-user", "Ask the User one short question for a detail that the request leaves out."),
    Strategy("answer", "Give the User the final answer in one sentence, from the tools' results."),
)
