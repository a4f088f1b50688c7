"""Calibration: expected calibration error, temperature scaling fitted on validation logits, reliability plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from train.labels import LabelSet, softmax

TEMPERATURE_FILE = "temperature.json"


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    probs = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T > 0 that minimises the negative log-likelihood of softmax(logits / T); searched on log T."""
    result = minimize_scalar(lambda log_t: nll(logits, y, float(np.exp(log_t))), bounds=(-3.0, 3.0),
                             method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def reliability_bins(probs: np.ndarray, y: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Top-label confidence vs accuracy in equal-width confidence bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            bins.append({"low": float(low), "high": float(high), "n": int(inside.sum()),
                         "confidence": float(confidence[inside].mean()), "accuracy": float(correct[inside].mean())})
    return bins


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """Sum over bins of |accuracy - confidence| weighted by the bin's share of rows."""
    total = len(y)
    return float(sum(b["n"] / total * abs(b["accuracy"] - b["confidence"]) for b in reliability_bins(probs, y, n_bins)))


def reliability_png(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str, n_bins: int = 10) -> Path:
    """One reliability curve per entry (e.g. before and after temperature scaling), with the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    for name, (probs, y) in curves.items():
        bins = reliability_bins(probs, y, n_bins)
        ece = expected_calibration_error(probs, y, n_bins)
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o",
                label=f"{name} (ECE {ece:.3f})")
    ax.set_xlabel("confidence (top-label probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# Fewer real validation rows than this and temperature and thresholds are fitted on the whole validation split.
MIN_REAL_FIT_ROWS = 50


def fitting_rows(rows: list[dict], validation: tuple) -> tuple[tuple, str]:
    """The validation (logits, gold) that calibration and thresholds are fitted on: its real paragraphs where
    there are enough of them, because real text is what the model will score."""
    real = [i for i, r in enumerate(rows) if r.get("origin") == "real"]
    if len(real) < MIN_REAL_FIT_ROWS or len(real) == len(rows):
        return validation, "validation"
    logits, gold = validation
    return (logits[real], [gold[i] for i in real]), f"validation (real paragraphs only, n={len(real)})"


def calibrate(logits_by_split: dict, labels: LabelSet, fit_on: tuple | None = None,
              fit_name: str = "validation") -> dict | None:
    """Temperature fitted on validation logits (or `fit_on`); ECE before and after on every split."""
    if labels.is_multi_label:
        return None
    val_logits, val_y = fit_on or logits_by_split["validation"]
    temperature = fit_temperature(val_logits, np.asarray(val_y))
    report = {"temperature": temperature, "fitted_on": fit_name}
    for split, (logits, y) in logits_by_split.items():
        y = np.asarray(y)
        report[split] = {
            "nll_before": nll(logits, y), "nll_after": nll(logits, y, temperature),
            "ece_before": expected_calibration_error(softmax(logits), y),
            "ece_after": expected_calibration_error(softmax(logits, temperature), y),
        }
    return report
