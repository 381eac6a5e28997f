"""Tool use after the Berkeley Function-Calling Leaderboard v4 (BFCL; Patil et al., "The Berkeley Function
Calling Leaderboard", 2024/2025): :mod:`.bfcl` loads the shared single-turn items and their allowed answers,
:mod:`.ast_checker` decides whether a list of function calls is a right answer. Importing this package loads
nothing."""
