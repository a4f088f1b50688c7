"""Label sets from the codebook, and single- vs multi-label encoding. Knows nothing about files."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SINGLE_LABEL = "single_label_classification"
MULTI_LABEL = "multi_label_classification"

# The codebook's label sets, in the codebook's order (data/codebook.md).
CODEBOOK_LABELS: dict[str, list[str]] = {
    "frame": ["counter_terrorism", "power_projection", "humanitarian", "none"],
    "frames": ["counter_terrorism", "power_projection", "humanitarian"],
    "stance": ["support", "oppose", "neutral"],
}
CODEBOOK_PROBLEM_TYPE: dict[str, str] = {"frame": SINGLE_LABEL, "frames": MULTI_LABEL, "stance": SINGLE_LABEL}

# A multi-label paragraph with no label above threshold is reported under this name (codebook: frame `none`).
EMPTY_MULTI_LABEL = "none"


@dataclass(frozen=True)
class LabelSet:
    """The ordered labels of one task. The order fixes the model's output indices."""

    field: str
    names: tuple[str, ...]
    problem_type: str

    @property
    def is_multi_label(self) -> bool:
        return self.problem_type == MULTI_LABEL

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    def encode(self, value) -> int | list[float]:
        """One row's gold value -> model target (class index, or a multi-hot float vector)."""
        if self.is_multi_label:
            hot = [0.0] * len(self.names)
            for name in value:
                hot[self.label2id[name]] = 1.0
            return hot
        return self.label2id[value]

    def decode(self, probabilities: np.ndarray, thresholds: np.ndarray | None = None):
        """Probabilities of one row -> label name (single) or list of names (multi; [EMPTY_MULTI_LABEL] when no
        probability reaches its threshold)."""
        if self.is_multi_label:
            cut = thresholds if thresholds is not None else np.full(len(self.names), 0.5)
            return [n for n, p, t in zip(self.names, probabilities, cut) if p >= t] or [EMPTY_MULTI_LABEL]
        return self.names[int(np.argmax(probabilities))]

    @classmethod
    def from_json(cls, info: dict) -> "LabelSet":
        """The inverse of to_json: a run directory's labels.json."""
        return cls(field=info["field"], names=tuple(info["labels"]), problem_type=info["problem_type"])

    def to_json(self) -> dict:
        return {
            "field": self.field,
            "problem_type": self.problem_type,
            "labels": list(self.names),
            "id2label": {str(i): n for i, n in self.id2label.items()},
            "label2id": self.label2id,
        }


def label_set_for(field: str, names: list[str] | None, problem_type: str | None) -> LabelSet:
    """The config's labels, or the codebook's when the config names none."""
    chosen = list(names) if names else CODEBOOK_LABELS[field]
    kind = problem_type or CODEBOOK_PROBLEM_TYPE[field]
    return LabelSet(field=field, names=tuple(chosen), problem_type=kind)


# Here rather than in metrics.py so that `framing predict` never imports scikit-learn (0.8 s of start-up).
def probabilities(logits: np.ndarray, labels: LabelSet) -> np.ndarray:
    """Logits -> softmax (single-label) or per-label sigmoid (multi-label), computed stably in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    if labels.is_multi_label:
        return 1.0 / (1.0 + np.exp(-logits))
    return softmax(logits)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature, shifted by the row maximum so large logits do not overflow."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
