"""iTool: iterative reinforced fine-tuning for tool use (Zeng et al., "iTool: Reinforced Fine-Tuning with Dynamic
Deficiency Calibration for Advanced Tool Use", 2025, arXiv 2501.09766).

:mod:`.data` turns a tool-use environment's expert replies into the warm-up SFT rows (easy -> medium -> hard);
:mod:`.rewards` gives MCTS's fast node value (format validity + call overlap with the expert's reply);
:mod:`.deficiency` ranks training items by the policy's perplexity of their ground truth and
keeps the hardest share (the deficiency set); :mod:`.mcts` searches over call-by-call continuations of a response
and turns sibling nodes whose values differ into fine-grained preference pairs in TRL's format
(``prompt``/``chosen``/``rejected``). The rewards (ground-truth overlap, the AST or execution check) reach them as
callables, so this package does not depend on ``simulators``.
"""
