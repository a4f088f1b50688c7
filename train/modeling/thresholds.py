"""Per-label decision thresholds for multi-label runs, tuned on the validation split.

Macro-F1 is the mean of per-label F1s, and each label's F1 depends only on its own threshold, so tuning each
label separately maximises macro-F1. The grid contains 0.5, so the tuned thresholds never score below the
fixed 0.5 rule on the split they were tuned on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from train.errors import UserError
from train.labels import LabelSet

THRESHOLDS_FILE = "thresholds.json"
DEFAULT_THRESHOLD = 0.5
# 0.05 .. 0.95 in steps of 0.01; wider cut-offs would rest on a handful of validation paragraphs.
GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def binary_f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum(gold & predicted))
    denominator = float(np.sum(gold) + np.sum(predicted))
    return 2 * tp / denominator if denominator else 0.0


def tune_thresholds(probs: np.ndarray, gold: np.ndarray, labels: LabelSet) -> dict:
    """Best threshold per label on (probs, gold 0/1 matrix); ties go to the candidate closest to 0.5."""
    gold = np.asarray(gold).astype(bool)
    chosen, at_default, tuned = {}, [], []
    for j, name in enumerate(labels.names):
        scores = np.array([binary_f1(gold[:, j], probs[:, j] >= t) for t in GRID])
        best = np.flatnonzero(scores == scores.max())
        pick = best[np.argmin(np.abs(GRID[best] - DEFAULT_THRESHOLD))]
        chosen[name] = float(GRID[pick])
        at_default.append(binary_f1(gold[:, j], probs[:, j] >= DEFAULT_THRESHOLD))
        tuned.append(float(scores[pick]))
    return {
        "thresholds": chosen,
        "fitted_on": "validation",
        "rule": "per label, the grid value 0.05..0.95 (step 0.01) with the best validation F1; ties -> nearest 0.5",
        "validation_macro_f1_at_0.5": float(np.mean(at_default)),
        "validation_macro_f1_tuned": float(np.mean(tuned)),
        "validation_f1_per_label": {"at_0.5": dict(zip(labels.names, at_default)), "tuned": dict(zip(labels.names, tuned))},
    }


def threshold_vector(info: dict | None, labels: LabelSet) -> np.ndarray | None:
    """thresholds.json content -> thresholds in the label order; None for single-label runs."""
    if not labels.is_multi_label:
        return None
    if info is None:
        return np.full(len(labels.names), DEFAULT_THRESHOLD)
    missing = [n for n in labels.names if n not in info.get("thresholds", {})]
    if missing:
        raise UserError(f"{THRESHOLDS_FILE}: no threshold for {', '.join(missing)}; re-run `framing train` or add them")
    return np.asarray([float(info["thresholds"][n]) for n in labels.names])


def read_thresholds(run_dir: Path, labels: LabelSet) -> np.ndarray | None:
    """A run directory's tuned thresholds (0.5 everywhere if the run has none)."""
    from train.rundir import read_json

    path = Path(run_dir) / THRESHOLDS_FILE
    return threshold_vector(read_json(path) if path.is_file() else None, labels)


def tune_on_validation(validation: tuple, labels: LabelSet) -> dict | None:
    """Per-label thresholds (multi-label runs only), fitted on validation logits."""
    if not labels.is_multi_label:
        return None
    from train.labels import probabilities

    logits, gold = validation
    return tune_thresholds(probabilities(logits, labels), np.asarray(gold), labels)
