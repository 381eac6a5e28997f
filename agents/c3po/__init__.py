"""RLVF / C3PO (Stephan et al., ICML 2024): one verbal feedback becomes a LoRA adapter that follows it
where it applies and leaves the model's behaviour unchanged elsewhere.

``generate`` writes the data (scoped prompts, baseline and revised replies), ``trainer`` trains the
adapter (DPO in scope plus cross-entropy on near- and out-of-scope baselines) and the baselines,
``evaluate`` scores S_in / S_out, ``library`` stores, enables, combines and attaches adapters, and
``pipeline`` runs a feedback from text to a stored adapter (``workbench feedback add``).
"""
