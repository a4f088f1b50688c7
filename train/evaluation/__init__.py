"""Evaluation: a trained model and labelled rows in; metrics, confidence intervals, reports and plots out.

Metrics with scikit-learn, article bootstrap, baselines, evaluation runs and report.md, cross-validation and
leave-one-source-out, run comparison, and the name-shortcut audit of a corpus.
"""
