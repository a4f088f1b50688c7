"""Evaluate a model on a labelled split: metrics, per-paragraph predictions with probabilities, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from train.config import RunConfig
from train.evaluation.metrics import full_report, predicted_indices, probabilities
from train.evaluation.plots import confusion_matrix_png
from train.inference.scoring import predict_logits
from train.labels import EMPTY_MULTI_LABEL, LabelSet
from train.modeling.calibration import fitting_rows
from train.modeling.thresholds import threshold_vector, tune_on_validation


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


def evaluate_model(cfg: RunConfig, trainer, tokenizer, splits, labels: LabelSet,
                   work: Path) -> tuple[dict, list[dict], dict, dict | None]:
    """Validation and test reports from the best checkpoint; test predictions and the confusion-matrix plot.
    Multi-label runs first tune per-label thresholds on validation; the reports use them.

    Uses our order-preserving inference, not Trainer.predict: with length grouping on, transformers 5.x also
    length-groups the evaluation sampler, so Trainer.predict returns rows in a shuffled order.
    """
    model = trainer.model.eval()
    rows_by_split, logits_by_split = {}, {}
    for split in ("test", *(["test_written"] if "test_written" in splits else []), "validation"):
        rows = rows_by_split[split] = splits[split].to_list()
        logits = predict_logits(model, tokenizer, [r[cfg.data.text_field] for r in rows],
                                batch_size=cfg.training.eval_batch_size, max_length=cfg.model.max_length)
        logits_by_split[split] = (logits, [labels.encode(r[labels.field]) for r in rows])
    fit_on, fit_name = fitting_rows(rows_by_split["validation"], logits_by_split["validation"])
    threshold_info = tune_on_validation(fit_on, labels)
    if threshold_info:
        threshold_info["fitted_on"] = fit_name
    cut = threshold_vector(threshold_info, labels)
    reports, test_records = {}, []
    for split, rows in rows_by_split.items():
        report, records = evaluate_logits(logits_by_split[split][0], rows, labels, fields=cfg.data.fields,
                                          out_dir=work, split_name=split, title=cfg.run_name, thresholds=cut)
        if labels.is_multi_label:
            report["at_0.5"], _ = evaluate_logits(logits_by_split[split][0], rows, labels, fields=cfg.data.fields,
                                                  out_dir=work, split_name=split, title=cfg.run_name)
        reports[split] = report
        if split == "test":
            test_records = records
    return reports, test_records, logits_by_split, threshold_info
