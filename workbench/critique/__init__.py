"""Critiques as data (Lan et al. 2024, "Training Language Models to Critique With Multi-agent Feedback",
MultiCritique): analytical critique units, their prompts and parsing, merging, MARV pairs, ground-truth labels from
scripted simulators, and a critique model as an environment's critic."""
