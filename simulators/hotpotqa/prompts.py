"""The ReAct agent's prompt (Yao et al., ICLR 2023: interleaved thoughts and actions), the asker's role-play prompt,
the optional LLM critic's prompt, and the worked example of a reflection (Reflexion, Shinn et al. 2023), for base
models: every prompt carries a worked example written for this workbench (no HotpotQA question is shown)."""

from __future__ import annotations


from langchain_core.messages import BaseMessage, SystemMessage

from workbench.env import DialogueState, Strategy, Verdict
from workbench.roleplay import critic_messages, role_prompt, roleplay_messages

ACTIONS = "Search[entity] (the first sentences of its paragraph), Lookup[keyword] (the next sentence of that " \
          "paragraph containing the keyword) or Finish[answer] (the answer, ending the task)"
EXAMPLE = (
    "User: Were the composers of the operas The Magic Flute and Fidelio born in the same city?\n"
    "Agent: I need the composer of each opera and where each was born. Action: Search[The Magic Flute]\n"
    "Observation: The Magic Flute is an opera in two acts by Wolfgang Amadeus Mozart to a German libretto by "
    "Emanuel Schikaneder. It premiered in Vienna in 1791.\n"
    "Agent: The Magic Flute is by Mozart. Now the composer of Fidelio. Action: Search[Fidelio]\n"
    "Observation: Fidelio is the only opera by Ludwig van Beethoven. It premiered in Vienna in 1805.\n"
    "Agent: I need where Beethoven was born. Action: Lookup[born]\n"
    "Observation: No more results.\n"
    "Agent: Beethoven was born in Bonn and Mozart in Salzburg, so not the same city. Action: Finish[no]")
REFLECTION_EXAMPLE = (
    "User: Which magazine was started first, Arthur's Magazine or First for Women?\n"
    "Agent [search]: I need when each started. Action: Search[Arthur's Magazine]\n"
    "Observation: Arthur's Magazine (1844-1846) was an American literary periodical.\n"
    "Agent [finish]: Arthur's Magazine is old, so it was first. Action: Finish[First for Women]\n"
    "Result: failure (return 0.00)",
    "I answered with the wrong title and never searched First for Women. Next time search both magazines first, "
    "compare their start years, and finish with the title that started earlier.")
"""A worked (attempt, reflection) for the reflector's prompt."""
CRITIC_SYSTEM = "You judge whether an agent's final answer to a question is correct. Answer with one sentence."
CRITIC_QUESTION = 'Question: Is the final answer correct? Answer "The answer is correct." or "The answer is not correct."'
CRITIC_SHOTS = (
    ("User: Who wrote Fidelio?\nAgent: Action: Finish[Ludwig van Beethoven]", "The answer is correct."),
    ("User: Who wrote Fidelio?\nAgent: Action: Finish[Mozart]", "The answer is not correct."),
)


def agent_prompt(state: DialogueState, strategy: Strategy | None) -> list[BaseMessage]:
    """ReAct's prompt: the task, the actions, a worked example, then the question and the steps so far (the
    reflections of the agent's trial memory are added after the example by ``DialogueEnv.with_memory``)."""
    system = ("Now enter the role-playing mode. You play the Agent, who answers the User's question by searching "
              f"a small set of Wikipedia paragraphs. Each of your turns is one line: a short thought, then "
              f"\"Action:\" and one action: {ACTIONS}.\n\nExample:\n{EXAMPLE}")
    return role_prompt(system, state, state.agent_role, strategy)


def user_prompt(state: DialogueState) -> list[BaseMessage]:
    """The asker's role-play prompt: it asked the question and knows nothing more."""
    system = (f"Now enter the role-playing mode. You play the User, who asked: \"{state.case.fields['question']}\" "
              "You do not know the answer. If the Agent talks to you instead of acting, remind it in one short "
              "sentence to search and to answer with Finish[answer].")
    return [SystemMessage(content=system), *roleplay_messages(state, state.user_role)]


def critic_prompt(state: DialogueState) -> list[BaseMessage]:
    return critic_messages(CRITIC_SYSTEM, CRITIC_SHOTS, CRITIC_QUESTION, state)


def aggregate_verdicts(state: DialogueState, parsed: list[bool]) -> Verdict:
    """At a Finish, the majority of the parsed samples: correct -> reward 1 and success; the episode ends at a Finish
    either way, and no other turn earns a reward."""
    finished = len(state.turns) >= 2 and state.turns[-2].info.get("action") == "finish"
    success = finished and bool(parsed) and sum(parsed) > len(parsed) / 2
    return Verdict(reward=1.0 if success else 0.0, done=finished, success=success)
