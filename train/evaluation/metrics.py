"""Metrics with scikit-learn (nothing fetched from a hub): macro-F1 first, per class always."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    hamming_loss,
    precision_recall_fscore_support,
)

from train.labels import EMPTY_MULTI_LABEL, LabelSet, probabilities, softmax  # noqa: F401  (re-exported)


def predicted_indices(probs: np.ndarray, labels: LabelSet, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Class index per row (single-label) or a 0/1 matrix (multi-label)."""
    if labels.is_multi_label:
        cut = thresholds if thresholds is not None else 0.5
        return (probs >= cut).astype(int)
    return probs.argmax(axis=1)


def headline_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: LabelSet) -> dict[str, float]:
    """The few numbers the Trainer logs each evaluation; `macro_f1` selects the best checkpoint."""
    ids = list(range(len(labels.names)))
    if labels.is_multi_label:
        y_true = np.asarray(y_true).astype(int)
        return {
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
            "exact_match": float(accuracy_score(y_true, y_pred)),
            "hamming_loss": float(hamming_loss(y_true, y_pred)),
        }
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=ids, average="weighted", zero_division=0)),
    }


def full_report(y_true: np.ndarray, y_pred: np.ndarray, labels: LabelSet) -> dict:
    """Headline metrics + per-class precision/recall/F1/support + confusion matrix (single-label)."""
    report = headline_metrics(y_true, y_pred, labels)
    ids = list(range(len(labels.names)))
    y_true_eval = np.asarray(y_true).astype(int) if labels.is_multi_label else y_true
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true_eval, y_pred, labels=ids, zero_division=0
    )
    report["per_class"] = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(labels.names, precision, recall, f1, support)
    }
    report["n"] = int(len(y_true))
    if labels.is_multi_label:
        # "No frame at all" is not an output unit of a multi-label model, but users read it as a label.
        empty_gold, empty_pred = ~np.asarray(y_true_eval).any(axis=1), ~np.asarray(y_pred).astype(bool).any(axis=1)
        p, r, f, _ = precision_recall_fscore_support(empty_gold, empty_pred, average="binary", zero_division=0)
        report["no_label"] = {"name": EMPTY_MULTI_LABEL, "precision": float(p), "recall": float(r), "f1": float(f),
                              "support": int(empty_gold.sum())}
    else:
        report["confusion_matrix"] = {
            "labels": list(labels.names),
            "rows_are": "gold",
            "matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
        }
    return report


def make_compute_metrics(labels: LabelSet):
    """compute_metrics for the Trainer: EvalPrediction -> headline metrics."""

    def compute_metrics(eval_pred) -> dict[str, float]:
        logits, y_true = eval_pred.predictions, eval_pred.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        probs = probabilities(logits, labels)
        # `n` shows in the logs that the whole validation split was scored (under DDP too, not one rank's share)
        return {**headline_metrics(y_true, predicted_indices(probs, labels), labels), "n": float(len(y_true))}

    return compute_metrics
