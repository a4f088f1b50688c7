"""Baselines trained on the same training split as the model (scikit-learn): TF-IDF + logistic regression,
and the majority class. Each takes training texts and label indices and returns predictions for new texts."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline


def tfidf_logreg(multi_label: bool = False):
    """Word uni- and bigrams, sublinear TF-IDF, class-balanced logistic regression (one per label if multi-label)."""
    classifier = LogisticRegression(max_iter=2000, class_weight="balanced", C=4.0)
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        OneVsRestClassifier(classifier) if multi_label else classifier,
    )


def tfidf_baseline(train_texts: list[str], train_y: list, texts: list[str]) -> np.ndarray:
    """Class indices in, class indices out; or a 0/1 matrix in (multi-label), one classifier per label, 0/1 out."""
    y = np.asarray(train_y)
    model = tfidf_logreg(multi_label=y.ndim == 2)
    model.fit(train_texts, y.astype(int))
    return np.asarray(model.predict(texts))


def majority_baseline(train_texts: list[str], train_y: list, texts: list[str]) -> np.ndarray:
    """The most frequent class; multi-label: each label that is on in most training paragraphs."""
    y = np.asarray(train_y)
    if y.ndim == 2:
        return np.tile((y.mean(axis=0) > 0.5).astype(int), (len(texts), 1))
    values, counts = np.unique(y, return_counts=True)
    return np.full(len(texts), values[np.argmax(counts)])
