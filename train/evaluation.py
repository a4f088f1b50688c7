"""Evaluate a model on a labelled split: metrics, per-paragraph predictions with probabilities, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .labels import EMPTY_MULTI_LABEL, LabelSet
from .metrics import full_report, predicted_indices, probabilities
from .plots import confusion_matrix_png


def gold_matrix(gold_values: list, labels: LabelSet) -> np.ndarray:
    """Gold labels as class indices (single-label) or a 0/1 matrix (multi-label)."""
    encoded = [labels.encode(v) for v in gold_values]
    return np.asarray(encoded, dtype=int)


def prediction_records(rows: list[dict], probs: np.ndarray, labels: LabelSet, *, id_field: str,
                       group_field: str, text_field: str, thresholds: np.ndarray | None = None) -> list[dict]:
    records = []
    for row, p in zip(rows, probs):
        records.append({
            "id": row[id_field],
            "article_id": row[group_field],
            "text": row[text_field],
            "gold": (row[labels.field] or [EMPTY_MULTI_LABEL]) if labels.is_multi_label else row[labels.field],
            "predicted": labels.decode(p, thresholds),
            "probabilities": {name: round(float(v), 6) for name, v in zip(labels.names, p)},
        })
    return records


def evaluate_logits(logits: np.ndarray, rows: list[dict], labels: LabelSet, *, fields: dict,
                    out_dir: Path, split_name: str, title: str,
                    thresholds: np.ndarray | None = None) -> tuple[dict, list[dict]]:
    """Logits for `rows` -> (metrics report, prediction records); writes the confusion-matrix PNG.
    Multi-label decisions use `thresholds` (0.5 for every label when None)."""
    probs = probabilities(logits, labels)
    y_true = gold_matrix([r[labels.field] for r in rows], labels)
    report = full_report(y_true, predicted_indices(probs, labels, thresholds), labels)
    records = prediction_records(rows, probs, labels, **fields, thresholds=thresholds)
    if "confusion_matrix" in report:
        confusion_matrix_png(report["confusion_matrix"]["matrix"], list(labels.names),
                             out_dir / "confusion_matrix.png", f"{title}: {split_name} split (n={len(rows)})")
    return report, records
