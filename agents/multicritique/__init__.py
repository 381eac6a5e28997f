"""MultiCritique (Lan et al. 2024): multi-agent critiques as data, a trained critic, and its benchmark."""
