"""Retroformer (Yao et al., ICLR 2024): a retrospective model trained by policy gradient to write reflections that
make a frozen actor succeed on its next trial; Reflexion's untrained reflections (Shinn et al. 2023) beside it."""
