"""Plots people would rather look at than read. matplotlib with the Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def confusion_matrix_png(matrix: list[list[int]], names: list[str], path: Path, title: str) -> Path:
    """Counts and row-normalised (recall) confusion matrices side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(matrix, dtype=float)
    row_sums = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, row_sums, out=np.zeros_like(counts), where=row_sums > 0)
    fig, axes = plt.subplots(1, 2, figsize=(5.2 + 1.3 * len(names), 2.6 + 0.65 * len(names)))
    for ax, data, subtitle, fmt in (
        (axes[0], counts, "counts", "{:.0f}"),
        (axes[1], normalised, "row-normalised (recall)", "{:.2f}"),
    ):
        ax.imshow(data, cmap="Blues", vmin=0, vmax=max(data.max(), 1e-9))
        ax.set_title(subtitle, fontsize=10)
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        threshold = data.max() / 2 if data.max() else 1
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, fmt.format(data[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if data[i, j] > threshold else "black")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
