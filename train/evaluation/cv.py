"""`framing cv CONFIG --folds K`: grouped (by article), stratified K-fold cross-validation of the full recipe.

Each fold holds out 1/K of the articles as its test set, carves a validation set from the rest (for early
stopping and the best checkpoint), trains exactly as `framing train` does and scores the TF-IDF baseline on the
same fold. Per-fold results and a summary (mean ± std) go to <output.dir>/<run_name>-cv<K>/.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from train.config import load_config
from train.data.corpus import grouped_kfold, label_strata, load_corpus, split_train_validation, to_datasets
from train.errors import UserError
from train.evaluation.baselines import tfidf_baseline
from train.evaluation.metrics import full_report
from train.labels import LabelSet
from train.rundir import atomic_directory, provenance, write_json


def grouped_folds(records: list[dict], labels: LabelSet, folds: int, seed: int, group_field: str):
    """(rest, test) record lists per fold; every article is in exactly one test fold."""
    groups = [r[group_field] for r in records]
    for rest_idx, test_idx in grouped_kfold(label_strata(records, labels), groups, folds, seed):
        yield [records[i] for i in rest_idx], [records[i] for i in test_idx]


def _summary(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "folds": [float(v) for v in values]}


def load_cv_corpus(config_path: str, overrides: list[str]):
    """(config, labels, records) for a cross-validation: one data.path corpus, a single-label task."""
    cfg = load_config(config_path, [*overrides, "output.tensorboard=false", "output.write_card=false"])
    if cfg.data.train_file or cfg.data.test_conflicts:
        raise UserError("framing cv splits data.path itself; drop the split files / test_conflicts from the config")
    labels = cfg.task.label_set()
    if labels.is_multi_label:
        raise UserError("framing cv scores single-label tasks; use a frame or stance config")
    return cfg, labels, load_corpus(cfg.data.path, labels, cfg.data.licences, **cfg.data.fields)


def train_and_score_fold(cfg, labels: LabelSet, rest: list[dict], test: list[dict], validation_share: float,
                         fold_dir: Path) -> tuple[dict, list[dict], dict, dict, dict]:
    """Train the recipe on `rest` (a validation share carved from it by article), score it and the TF-IDF baseline
    on `test`: (model reports, test predictions, training stats, split sizes, TF-IDF report)."""
    from train.evaluation.metrics import make_compute_metrics
    from train.evaluation.splits import evaluate_model
    from train.modeling.fit import setup_runtime, train_model
    from train.modeling.models import build_classifier

    splits = to_datasets({**split_train_validation(rest, labels, validation_share, cfg.seed + 1, cfg.data.group_field),
                          "test": test}, cfg.data, labels)
    setup_runtime(cfg)
    tokenizer, model = build_classifier(cfg.model, labels)
    trainer, stats = train_model(cfg, model, tokenizer, splits, labels, fold_dir, resume=False,
                                 compute_metrics=make_compute_metrics(labels))
    reports, predictions, _, _ = evaluate_model(cfg, trainer, tokenizer, splits, labels, fold_dir)
    train_rows = splits["train"].to_list()
    y_test = np.asarray([labels.encode(r[labels.field]) for r in test])
    base_pred = tfidf_baseline([r[cfg.data.text_field] for r in train_rows],
                               [labels.encode(r[labels.field]) for r in train_rows],
                               [r[cfg.data.text_field] for r in test])
    shutil.rmtree(fold_dir / "checkpoints", ignore_errors=True)
    return (reports, predictions, stats, {s: len(d) for s, d in splits.items()},
            full_report(y_test, base_pred, labels))


def run_cv(config_path: str, overrides: list[str], folds: int, overwrite: bool = False) -> Path:
    if folds < 2:
        raise UserError(f"--folds {folds}: need at least 2")
    cfg, labels, records = load_cv_corpus(config_path, overrides)
    out_dir = Path(cfg.output.dir) / f"{cfg.run_name}-cv{folds}"
    started = time.perf_counter()
    per_fold = []
    with atomic_directory(out_dir, overwrite or cfg.output.overwrite) as work:
        share = cfg.data.validation_size / (1.0 - 1.0 / folds)
        for k, (rest, test) in enumerate(grouped_folds(records, labels, folds, cfg.seed, cfg.data.group_field)):
            print(f"\n=== fold {k + 1}/{folds}: {len(test)} test paragraphs from "
                  f"{len({r[cfg.data.group_field] for r in test})} articles")
            fold_dir = work / f"fold{k}"
            fold_dir.mkdir()
            reports, _, stats, sizes, tfidf = train_and_score_fold(cfg, labels, rest, test, share, fold_dir)
            fold = {"fold": k, "sizes": sizes, "model": reports["test"], "tfidf_logreg": tfidf,
                    "training": {key: v for key, v in stats.items() if key != "log_history"}}
            write_json(fold_dir / "metrics.json", fold)
            per_fold.append(fold)
            print(f"fold {k + 1}: model macro-F1 {fold['model']['macro_f1']:.4f}  "
                  f"TF-IDF macro-F1 {fold['tfidf_logreg']['macro_f1']:.4f}")
        summary = {"folds": folds, "config": config_path, "overrides": overrides,
                   "wall_time_s": round(time.perf_counter() - started, 1)}
        for system in ("model", "tfidf_logreg"):
            summary[system] = {
                "macro_f1": _summary([f[system]["macro_f1"] for f in per_fold]),
                "per_class_f1": {n: _summary([f[system]["per_class"][n]["f1"] for f in per_fold]) for n in labels.names},
            }
        write_json(work / "summary.json", summary)
        write_json(work / "run.json", provenance(cfg.model.name_or_path, {"kind": "cross-validation"}))
        (work / "summary.md").write_text(format_cv(summary, labels), encoding="utf-8")
    print("\n" + format_cv(summary, labels))
    return out_dir


def format_cv(summary: dict, labels: LabelSet) -> str:
    def pm(entry: dict) -> str:
        return f"{entry['mean']:.3f} ± {entry['std']:.3f}"

    lines = [f"# Grouped {summary['folds']}-fold cross-validation", "",
             f"Wall time {summary['wall_time_s'] / 60:.1f} min. Folds are grouped by article and stratified by label.", "",
             "| | fine-tuned model | TF-IDF + logistic regression |", "|---|---|---|",
             f"| macro-F1 | {pm(summary['model']['macro_f1'])} | {pm(summary['tfidf_logreg']['macro_f1'])} |"]
    lines += [f"| F1 `{n}` | {pm(summary['model']['per_class_f1'][n])} | {pm(summary['tfidf_logreg']['per_class_f1'][n])} |"
              for n in labels.names]
    return "\n".join(lines) + "\n"
