"""Templated language: the template persuader (``PersuasionEnv.realise``) and the scripted persuadee's lines.

The template persuader draws one sentence per act from a small bank with ``state.rng``; the sentences carry
the keywords :func:`.persuadee.classify` reads, so a template turn is classified as its act even unlabelled.
The persuadee's line depends on the reply's key (the act it answers, or its decision) and its mood: warm
when the turn raised its willingness noticeably, cool when an argument did not land.
"""

from __future__ import annotations

import random

PERSUADER: dict[str, tuple[str, ...]] = {
    "logical-appeal": ("Every dollar helps provide food and medicine, because the charity works where need is greatest.",
                       "Research shows small donations add up: your gift helps provide schooling for a child.",
                       "Because the money goes to proven programs, your gift helps fund vaccines."),
    "emotion-appeal": ("Imagine a child who goes to bed hungry every night and is scared of tomorrow.",
                       "Millions of children suffer in war zones, alone and without food.",
                       "It's heartbreaking to think of kids dying from diseases we can easily prevent."),
    "credibility-appeal": ("Save the Children was founded in 1919 and is rated highly for transparency.",
                           "It's a reputable charity: about 86 percent of donations go straight to programs.",
                           "Save the Children has worked since 1919 in over 100 countries and is accredited."),
    "foot-in-the-door": ("Even just a few cents from your payment would make a difference.",
                         "Would you consider only $0.10 to start? Every bit counts.",
                         "Even a little, just a dollar or less, goes a long way."),
    "self-modeling": ("I will donate part of my own payment to Save the Children too.",
                      "I'm going to donate myself, because I believe in what they do.",
                      "I also donate to them every month."),
    "personal-story": ("I remember when my friend volunteered with them and saw the kids they fed.",
                       "When I was younger, my family relied on help from a charity like this.",
                       "My sister worked at a school they funded, and it changed those children's lives."),
    "donation-information": ("The donation comes out of your task payment and goes directly to Save the Children.",
                             "You can choose any amount from your payment, from $0 to $2, and it goes directly "
                             "to Save the Children.",
                             "The researchers send the amount from your payment directly to Save the Children."),
    "source-related-inquiry": ("Have you heard of Save the Children before?", "Do you know about Save the Children?",
                               "Are you familiar with Save the Children and their work?"),
    "task-related-inquiry": ("Do you ever donate to charities?", "Have you ever given to a charity before?",
                             "Do you support any causes?"),
    "personal-related-inquiry": ("Do you have any children of your own?", "Do you have kids?",
                                 "Are you a parent yourself?"),
    "greeting": ("Hello! How are you doing today?", "Hi there, hope your day is going well.",
                 "Hey, nice to chat with you!"),
    "proposition-of-donation": ("Would you like to donate part of your payment to Save the Children?",
                                "Would you be willing to donate some of your earnings to help?",
                                "Would you consider donating to Save the Children today?"),
    "ask-donation-amount": ("How much would you like to donate?", "How much of your payment would you donate?",
                            "What amount would you like to donate to the children?"),
    "thank": ("Thank you for listening to me.", "Thanks so much for your time.", "Thank you, I appreciate it."),
    "other": ("It's a nice day to do something good.", "I'm glad we get to talk about this.",
              "Let me know what you think."),
}

PERSUADEE: dict[str, tuple[str, ...]] = {
    "warm": ("That really makes me think.", "Wow, I didn't realise that.", "That's touching, honestly.",
             "Okay, that's a good point."),
    "neutral": ("I see.", "Okay.", "Hmm, alright.", "Sure."),
    "cool": ("I'm not really convinced by that.", "I hear that a lot, to be honest.", "That doesn't move me much.",
             "Okay, but I'm still not sure."),
    "greeting": ("Hi, I'm doing well, thanks!", "Hello, good, how about you?"),
    "knows": ("Yes, I've heard of them, they help kids around the world.", "Yes, I know Save the Children."),
    "unknown": ("No, I've never heard of them. Who are they?", "Not really, what do they do?"),
    "task-related-inquiry": ("Sometimes, when I can afford it.", "Now and then, for causes I trust."),
    "personal-related-inquiry": ("I do, actually.", "Not yet, but I have nieces and nephews."),
    "thank": ("You're welcome.", "No problem."),
    "other": ("Sure.", "Okay."),
    "not-yet": ("I'm not sure I want to donate yet.", "I'd rather keep my payment for now.",
                "Let me think about it, I'm not ready to give."),
    "donate": ("Okay, I'll donate ${amount:.2f}.", "Alright, I can give ${amount:.2f} of my payment.",
               "Sure, put me down for ${amount:.2f}."),
    "no-refuse": ("No, I've decided not to donate.", "Sorry, I'm going to keep my payment."),
    "no-tired": ("I think I've heard enough, I won't donate today.", "Okay, I'd like to stop here. No donation."),
    "no-last": ("I don't think I'll donate this time.", "I'll pass on donating, sorry."),
}
"""Persuadee lines by key; a persuasion strategy's reply is the mood line alone."""


def persuader_line(rng: random.Random, act: str) -> str:
    return rng.choice(PERSUADER[act])


def persuadee_line(rng: random.Random, key: str, mood: str, amount: float | None = None) -> str:
    """The persuadee's line for ``key`` (an act with its own lines, or a decision), else its ``mood`` line."""
    lines = PERSUADEE.get(key) or PERSUADEE[mood]
    return rng.choice(lines).format(amount=amount or 0.0)
