"""Inference: a run directory and new articles in; labelled paragraphs and article summaries out.

Scoring backends (torch, ONNX), streaming `predict` with resume and shards, ONNX export, and selection of the
paragraphs most worth labelling. Imports nothing from training, evaluation or scikit-learn (tests check it).
"""
