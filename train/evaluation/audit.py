"""`framing data audit FILE`: can names alone predict the labels? Shortcut audit of a labelled corpus.

Lists the most label-pure tokens and compares, on grouped (by article) cross-validation, a names-only
bag-of-words model against a TF-IDF + logistic-regression model that sees the full text.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline

from train.evaluation.baselines import tfidf_logreg

_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|[\"“‘(]\s*|[:;]\s+|\s-\s|—\s*)$")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’\-]*")
_WORD = re.compile(r"[a-z][a-z'\-]+")
# Capitalised but not names of states, groups or people: the pronoun and calendar words (datelines).
NOT_NAMES = frozenset(
    "i monday tuesday wednesday thursday friday saturday sunday january february march april may june july "
    "august september october november december jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def names_in(text: str) -> list[str]:
    """Capitalised tokens that do not open a sentence or a quote: a proxy for names of states, groups, people."""
    found = []
    for match in _CAPITALISED.finditer(text):
        before = text[: match.start()]
        if _SENTENCE_START.search(before):
            continue
        token = match.group(0).strip("'’-").lower()
        if token not in NOT_NAMES:
            found.append(token)
    return found


def label_purity(texts: list[str], gold: list[str], min_count: int = 20, top: int = 20) -> list[dict]:
    """Tokens (in at least `min_count` paragraphs) whose paragraphs most often share one label."""
    by_token: dict[str, Counter] = defaultdict(Counter)
    for text, label in zip(texts, gold):
        for token in set(_WORD.findall(text.lower())):
            by_token[token][label] += 1
    rows = []
    for token, counts in by_token.items():
        total = sum(counts.values())
        if total >= min_count:
            label, hits = counts.most_common(1)[0]
            rows.append({"token": token, "count": total, "label": label, "purity": hits / total})
    rows.sort(key=lambda r: (-r["purity"], -r["count"], r["token"]))
    return rows[:top]


def grouped_cv_macro_f1(pipeline_factory, texts, gold, groups, folds: int = 5, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of macro-F1 over stratified folds grouped by article."""
    texts, gold, groups = np.asarray(texts, dtype=object), np.asarray(gold), np.asarray(groups)
    scores = []
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(texts, gold, groups):
        model = pipeline_factory()
        model.fit(texts[train_idx], gold[train_idx])
        scores.append(f1_score(gold[test_idx], model.predict(texts[test_idx]), average="macro"))
    return float(np.mean(scores)), float(np.std(scores))


def names_only_model():
    return make_pipeline(
        CountVectorizer(analyzer=names_in, binary=True),
        LogisticRegression(max_iter=2000, class_weight="balanced", C=4.0),
    )


def audit(records: list[dict], fields=("frame", "stance"), folds: int = 5) -> dict:
    texts = [r["text"] for r in records]
    groups = [r["article_id"] for r in records]
    result = {"paragraphs": len(records), "distinct_names": len({n for t in texts for n in names_in(t)})}
    for field in fields:
        gold = [r[field] for r in records]
        full = grouped_cv_macro_f1(tfidf_logreg, texts, gold, groups, folds)
        names = grouped_cv_macro_f1(names_only_model, texts, gold, groups, folds)
        result[field] = {
            "full_text_tfidf_lr": {"mean": full[0], "std": full[1]},
            "names_only": {"mean": names[0], "std": names[1]},
            "gap_points": 100 * (full[0] - names[0]),
            "purest_tokens": label_purity(texts, gold),
        }
    return result


def format_audit(result: dict, folds: int = 5) -> str:
    lines = [f"paragraphs: {result['paragraphs']}   distinct names (capitalised, not sentence-initial): "
             f"{result['distinct_names']}"]
    for field, block in result.items():
        if not isinstance(block, dict):
            continue
        full, names = block["full_text_tfidf_lr"], block["names_only"]
        lines += [
            f"\n[{field}] grouped {folds}-fold cross-validation, macro-F1:",
            f"  TF-IDF + logistic regression, full text: {100 * full['mean']:.1f} ± {100 * full['std']:.1f}",
            f"  names-only bag of words:                 {100 * names['mean']:.1f} ± {100 * names['std']:.1f}",
            f"  gap: {block['gap_points']:.1f} points",
            "  20 purest tokens (at least 20 paragraphs):",
        ]
        lines += [f"    {r['token']:<18}{r['count']:>5}  {r['label']:<18}{100 * r['purity']:5.1f}%"
                  for r in block["purest_tokens"]]
    return "\n".join(lines)
