"""Templated language: the template therapist (``EmotionalSupportEnv.realise``) and the scripted patient.

The template therapist needs no model: its utterance for each of the 8 strategies is drawn from a
small phrase bank with ``state.rng`` and filled with the case's emotion and problem. Each line is
written so that :func:`.patient.classify` reads it back as its own strategy (tested), so the
scripted patient reacts the same to a labelled and an unlabelled template turn.

The patient's lines are keyed by its *stance* after the turn (guarded, disclose, open, annoyed,
resisting, unheard, better, worse, plan, solved) and reveal it in words; a patient that feels
understood but has no plan yet ends an open or better line with a *ready* cue (asking what to do).
"""

from __future__ import annotations

from workbench.env import DialogueState

THERAPIST: dict[str, tuple[str, ...]] = {
    "Question": ("Can you tell me more about what has been happening with {problem}?",
                 "How long have you been feeling this way?",
                 "What part of the {problem} weighs on you the most?",
                 "When did you first notice these feelings of {emotion}?"),
    "Self-disclosure": ("I went through something similar once, and I remember how hard it was.",
                        "I have had times like that too, when everything felt like too much.",
                        "When I was in a similar place, I also felt a lot of {emotion}."),
    "Affirmation and Reassurance": ("You are doing the right thing by talking about it, and it's okay to feel this way.",
                                    "You are not alone in this, and you are stronger than you think.",
                                    "It's okay to struggle with {problem}; reaching out shows real courage."),
    "Providing Suggestions": ("Maybe you could try writing down one small step you can take about the {problem} this week.",
                              "Have you considered talking to someone you trust about the {problem}?",
                              "It might help to set aside a little time each day just for yourself."),
    "Others": ("Thank you for sharing that with me.", "I'm here with you.", "Take your time."),
    "Reflection of feelings": ("You must be feeling a lot of {emotion} right now.",
                               "It sounds like you're feeling overwhelmed and {emotion} about the {problem}.",
                               "That must feel really painful."),
    "Information": ("Many people go through {problem} at some point, and it often gets easier with support.",
                    "Research shows that {emotion} tends to ease when we talk about it and take small steps.",
                    "It is common to feel {emotion} in a situation like this; counsellors and support groups are good resources."),
    "Restatement or Paraphrasing": ("So you are saying that the {problem} has left you feeling stuck.",
                                    "If I understand correctly, this has been going on for a while and it's wearing you down.",
                                    "It sounds like the {problem} has taken over a lot of your life lately."),
}

PATIENT: dict[str, tuple[str, ...]] = {
    "guarded": ("I'm not sure how to explain it.", "It's hard to talk about.", "I don't know, it's complicated."),
    "disclose": ("Honestly, the real problem is the {problem}, and I feel so much {emotion} I can't think straight.",
                 "I haven't told anyone, but the {problem} is eating me up and I feel {emotion} all the time."),
    "open": ("Yes, that's what it's like.", "Mm, I suppose so.", "Yeah."),
    "annoyed": ("Why all these questions? I already told you.", "I don't want to keep answering questions."),
    "resisting": ("You don't even know what's going on yet.", "That's easy to say, but you don't understand my situation.",
                  "I don't need advice right now."),
    "unheard": ("I don't think you really understand how I feel.", "That's not really helpful, I just feel unheard."),
    "better": ("Thank you, that actually makes me feel a little better.", "I feel a bit lighter talking about it.",
               "That helps, I feel somewhat better."),
    "worse": ("That makes me feel worse.", "I'm feeling even more down now."),
    "plan": ("That could work, I think I can try that.", "Okay, that gives me something to try."),
    "ready": ("But I still don't know what to do about the {problem}.", "What can I even do about it?",
              "I just wish I knew what to do next."),
    "solved": ("Thank you so much, I feel much better and I know what to do now.",
               "I feel a lot better, I think I can handle the {problem} now. Thank you."),
}


def _fill(line: str, state: DialogueState) -> str:
    f = state.case.fields
    return line.format(problem=str(f.get("problem_type", "situation")).strip().lower(),
                       emotion=str(f.get("emotion_type", "sad")).strip().lower())


def therapist_utterance(state: DialogueState, strategy: str) -> str:
    """The template therapist's line for ``strategy`` (one of the 8 names)."""
    return _fill(state.rng.choice(THERAPIST[strategy]), state)


def patient_line(state: DialogueState, stance: str, ready: bool = False) -> str:
    """One of the scripted patient's lines for ``stance``, followed by a ready cue when ``ready``."""
    line = _fill(state.rng.choice(PATIENT[stance]), state)
    return f"{line} {_fill(state.rng.choice(PATIENT['ready']), state)}" if ready else line
