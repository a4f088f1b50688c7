"""95% bootstrap confidence intervals that resample whole articles, for single- and multi-label metrics.

Paragraphs of one article are not independent, so the unit of resampling is the article: each replicate
draws articles with replacement and pools their per-article confusion matrices.
"""

from __future__ import annotations

import numpy as np


def per_group_confusions(y_true, y_pred, groups, n_classes: int) -> np.ndarray:
    """(n_groups, k, k) confusion matrices, rows gold, one per article."""
    _, group_idx = np.unique(np.asarray(groups), return_inverse=True)
    flat = (group_idx * n_classes + np.asarray(y_true)) * n_classes + np.asarray(y_pred)
    counts = np.bincount(flat, minlength=(group_idx.max() + 1) * n_classes * n_classes)
    return counts.reshape(-1, n_classes, n_classes).astype(np.float64)


def f1_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class F1 from (..., k, k) confusion matrices; classes with no gold and no predictions get 0."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    gold = cm.sum(axis=-1)
    pred = cm.sum(axis=-2)
    denom = gold + pred
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def _replicate_weights(n_groups: int, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_groups, size=(n_boot, n_groups))
    return np.stack([np.bincount(row, minlength=n_groups) for row in draws]).astype(np.float64)


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_f1(y_true, y_pred, groups, n_classes: int, *, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict:
    """Point estimates and article-bootstrap CIs of macro-F1 and each class's F1 (and accuracy)."""
    per_group = per_group_confusions(y_true, y_pred, groups, n_classes)
    weights = _replicate_weights(len(per_group), n_boot, seed)
    pooled = np.tensordot(weights, per_group, axes=1)
    per_class = f1_from_confusion(pooled)
    point_cm = per_group.sum(axis=0)
    point = f1_from_confusion(point_cm)
    accuracy = np.trace(pooled, axis1=1, axis2=2) / pooled.sum(axis=(1, 2))
    return {
        "n_boot": n_boot,
        "level": level,
        "unit": "article",
        "macro_f1": {"point": float(point.mean()), "ci": _interval(per_class.mean(axis=1), level)},
        "accuracy": {"point": float(np.trace(point_cm) / point_cm.sum()), "ci": _interval(accuracy, level)},
        "per_class_f1": [{"point": float(point[c]), "ci": _interval(per_class[:, c], level)} for c in range(n_classes)],
    }


def bootstrap_macro_f1_difference(y_true, pred_a, pred_b, groups, n_classes: int, *, n_boot: int = 1000,
                                  seed: int = 0, level: float = 0.95) -> dict:
    """Macro-F1(a) - macro-F1(b) on the same resampled articles (a paired interval)."""
    a = per_group_confusions(y_true, pred_a, groups, n_classes)
    b = per_group_confusions(y_true, pred_b, groups, n_classes)
    weights = _replicate_weights(len(a), n_boot, seed)
    diff = (f1_from_confusion(np.tensordot(weights, a, axes=1)).mean(axis=1)
            - f1_from_confusion(np.tensordot(weights, b, axes=1)).mean(axis=1))
    point = f1_from_confusion(a.sum(axis=0)).mean() - f1_from_confusion(b.sum(axis=0)).mean()
    return {"point": float(point), "ci": _interval(diff, level)}


# Multi-label: per article, per label, true positives, false positives and false negatives; plus exact matches,
# wrong label decisions and paragraph counts. Resampling articles pools these counts.

def per_group_multilabel_counts(y_true, y_pred, groups) -> tuple[np.ndarray, np.ndarray]:
    """(n_groups, L, 3) tp/fp/fn counts and (n_groups, 3) [exact matches, wrong decisions, paragraphs]."""
    y, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    _, group_idx = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = group_idx.max() + 1
    per_row = np.stack([y & p, ~y & p, y & ~p], axis=-1).astype(np.float64)
    counts = np.zeros((n_groups, y.shape[1], 3))
    np.add.at(counts, group_idx, per_row)
    rows = np.stack([(y == p).all(axis=1), (y != p).sum(axis=1), np.ones(len(y))], axis=-1).astype(np.float64)
    totals = np.zeros((n_groups, 3))
    np.add.at(totals, group_idx, rows)
    return counts, totals


def _multilabel_f1(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-label F1 (..., L) and micro-F1 (...) from (..., L, 3) counts."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denom = 2 * tp + fp + fn
    per_label = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    micro_denom = denom.sum(axis=-1)
    micro = np.divide(2 * tp.sum(axis=-1), micro_denom, out=np.zeros_like(micro_denom), where=micro_denom > 0)
    return per_label, micro


def bootstrap_multilabel(y_true, y_pred, groups, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Article-bootstrap CIs of macro-F1, micro-F1, exact match, Hamming loss and each label's F1."""
    counts, totals = per_group_multilabel_counts(y_true, y_pred, groups)
    n_labels = counts.shape[1]
    weights = _replicate_weights(len(counts), n_boot, seed)
    pooled, pooled_totals = np.tensordot(weights, counts, axes=1), weights @ totals
    per_label, micro = _multilabel_f1(pooled)
    point_label, point_micro = _multilabel_f1(counts.sum(axis=0))
    point_totals = totals.sum(axis=0)
    return {
        "n_boot": n_boot,
        "level": level,
        "unit": "article",
        "macro_f1": {"point": float(point_label.mean()), "ci": _interval(per_label.mean(axis=1), level)},
        "micro_f1": {"point": float(point_micro), "ci": _interval(micro, level)},
        "exact_match": {"point": float(point_totals[0] / point_totals[2]),
                        "ci": _interval(pooled_totals[:, 0] / pooled_totals[:, 2], level)},
        "hamming_loss": {"point": float(point_totals[1] / (point_totals[2] * n_labels)),
                         "ci": _interval(pooled_totals[:, 1] / (pooled_totals[:, 2] * n_labels), level)},
        "per_class_f1": [{"point": float(point_label[j]), "ci": _interval(per_label[:, j], level)}
                         for j in range(n_labels)],
    }


def bootstrap_multilabel_macro_f1_difference(y_true, pred_a, pred_b, groups, *, n_boot: int = 1000, seed: int = 0,
                                             level: float = 0.95) -> dict:
    """Macro-F1(a) - macro-F1(b) for multi-label predictions, on the same resampled articles."""
    a, _ = per_group_multilabel_counts(y_true, pred_a, groups)
    b, _ = per_group_multilabel_counts(y_true, pred_b, groups)
    weights = _replicate_weights(len(a), n_boot, seed)
    diff = (_multilabel_f1(np.tensordot(weights, a, axes=1))[0].mean(axis=1)
            - _multilabel_f1(np.tensordot(weights, b, axes=1))[0].mean(axis=1))
    point = _multilabel_f1(a.sum(axis=0))[0].mean() - _multilabel_f1(b.sum(axis=0))[0].mean()
    return {"point": float(point), "ci": _interval(diff, level)}
