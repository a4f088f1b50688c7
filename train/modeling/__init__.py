"""Modeling: a config, a tokenizer and rows in; a trained model, its temperature and thresholds out.

Loads or builds tokenizers and classifiers safely (safetensors only, no remote code), sets up the Trainer, keeps
the resumable training directory, fits temperature and multi-label thresholds, and runs domain-adaptive
pretraining. Knows nothing about the command line or about how results are reported.
"""
