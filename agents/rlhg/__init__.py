"""RLHG: learning to enhance human gain (Gao et al., "Learning to Enhance Human Gain", ICLR 2024, arXiv 2401.16444).

An agent team plays a game together with a human whose own goals (here the MOBA's kills, gold, towers, survival)
it should help. Stages (:mod:`.train`): ``self`` PPO on the task reward (the self-centred agent); ``value``
(Stage I, human primitive value estimation) fits the human value network V_phi(s), one head per human goal, to the
human's returns while the self-centred agent plays, frozen; ``gain`` (Stage II, human enhancement training)
trains the agent with the task advantage plus ``alpha`` times the human-gain advantage (:mod:`.losses`) and a
non-negative gain network Delta(s); ``shaping`` is the baseline that adds the human-goal reward to the task reward.

The game reaches the agent only through an environment factory passed in (:func:`.train.train`), never by
import, so this package does not depend on ``simulators``.
"""
