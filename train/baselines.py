"""Baselines trained on the same training split as the model (scikit-learn): TF-IDF + logistic regression,
and the majority class. Each takes training texts and label indices and returns predictions for new texts."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline


def tfidf_logreg():
    """Word uni- and bigrams, sublinear TF-IDF, class-balanced logistic regression."""
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(max_iter=2000, class_weight="balanced", C=4.0),
    )


def tfidf_baseline(train_texts: list[str], train_y: list[int], texts: list[str]) -> np.ndarray:
    model = tfidf_logreg()
    model.fit(train_texts, train_y)
    return np.asarray(model.predict(texts))


def majority_baseline(train_texts: list[str], train_y: list[int], texts: list[str]) -> np.ndarray:
    values, counts = np.unique(np.asarray(train_y), return_counts=True)
    return np.full(len(texts), values[np.argmax(counts)])
