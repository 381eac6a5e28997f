"""HotpotQA in the distractor setting as a ReAct environment (:mod:`.env`): answer scoring (:mod:`.answers`), the
question's local document store (:mod:`.docstore`), cases (:mod:`.cases`) and prompts (:mod:`.prompts`). Importing
this package loads nothing."""
