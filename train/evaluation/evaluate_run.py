"""`framing evaluate CONFIG`: a finished run scored with article-bootstrap CIs, baselines, calibration, error analysis.

Reads the run directory (model, tokenizer, labels.json, config.yaml, temperature.json) and, for the split and
the baselines, the run's own data re-split with its own seed. Writes an evaluation directory atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from train.config import EvalConfig, RunConfig
from train.data.corpus import METADATA_FIELDS, load_records, load_splits
from train.errors import UserError
from train.evaluation.baselines import majority_baseline, tfidf_baseline
from train.evaluation.bootstrap import (
    bootstrap_f1,
    bootstrap_macro_f1_difference,
    bootstrap_multilabel,
    bootstrap_multilabel_macro_f1_difference,
)
from train.evaluation.metrics import full_report, predicted_indices, probabilities
from train.evaluation.plots import confusion_matrix_png
from train.evaluation.report import render_report
from train.evaluation.splits import prediction_records
from train.labels import LabelSet
from train.modeling.calibration import TEMPERATURE_FILE, expected_calibration_error, reliability_png, softmax
from train.modeling.thresholds import THRESHOLDS_FILE, threshold_vector
from train.rundir import atomic_directory, read_json, write_json, write_jsonl


def run_label_set(run_dir: Path) -> LabelSet:
    info = read_json(run_dir / "labels.json")
    return LabelSet.from_json(info)


def run_config(run_dir: Path) -> RunConfig:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise UserError(f"{path}: missing; is {run_dir} a complete run directory?")
    return RunConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _eval_rows(ecfg: EvalConfig, cfg: RunConfig, labels: LabelSet, splits) -> tuple[list[dict], str]:
    if not ecfg.data_file:
        if ecfg.split not in splits:
            raise UserError(f"{ecfg.run_dir}: the run has no {ecfg.split!r} split (its splits: {', '.join(splits)})")
        if ecfg.split == "test" and cfg.data.test_articles and "test_written" in splits:
            return splits["test"].to_list(), f"real test split (articles in {cfg.data.test_articles})"
        if ecfg.split == "test_written":
            return splits[ecfg.split].to_list(), "written test split (the project's own text)"
        paths = cfg.data.path if isinstance(cfg.data.path, str) else " + ".join(cfg.data.path or [])
        return splits[ecfg.split].to_list(), f"{ecfg.split} split of {paths or cfg.data.test_file}"
    rows = load_records(ecfg.data_file, labels, **cfg.data.fields)
    return rows, ecfg.data_file


def _breakdown(rows: list[dict], y: np.ndarray, pred: np.ndarray, labels: LabelSet, field: str) -> list[dict]:
    from sklearn.metrics import f1_score

    if not rows or not all(isinstance(r.get(field), str) for r in rows):
        return []
    values = np.asarray([r[field] for r in rows])
    out = []
    for value in sorted(set(values)):
        mask = values == value
        hits = y[mask] == pred[mask]
        out.append({"value": value, "n": int(mask.sum()),
                    "macro_f1": float(f1_score(y[mask], pred[mask], labels=range(len(labels.names)),
                                               average="macro", zero_division=0)),
                    # multi-label: exact match (every label decision right)
                    "accuracy": float((hits.all(axis=1) if hits.ndim == 2 else hits).mean())})
    return out


def _confident_errors(rows, probs, y, pred, labels: LabelSet, text_field: str, top: int) -> list[dict]:
    """The wrong decisions the model was surest of: the top class (single-label) or the label whose probability
    sits furthest on the wrong side of its threshold (multi-label)."""
    if labels.is_multi_label:
        wrongness = np.where(pred != y, np.abs(probs - 0.5) + 0.5, 0.0).max(axis=1)
        wrong = np.flatnonzero(wrongness > 0)
        confidence = wrongness
    else:
        wrong = np.flatnonzero(pred != y)
        confidence = probs[np.arange(len(pred)), pred]
    ranked = wrong[np.argsort(-confidence[wrong], kind="stable")][:top]

    def name(i, vector):
        return labels.decode(vector[i].astype(float), np.full(len(labels.names), 0.5)) if labels.is_multi_label \
            else labels.names[vector[i]]

    return [{"id": rows[i].get("id"), "text": rows[i][text_field], "gold": name(i, y), "predicted": name(i, pred),
             "probability": float(confidence[i])} for i in ranked]


def _scored(name: str, y, pred, groups, labels: LabelSet, ecfg: EvalConfig) -> dict:
    report = full_report(y, pred, labels)
    if labels.is_multi_label:
        report["bootstrap"] = bootstrap_multilabel(y, pred, groups, n_boot=ecfg.bootstrap_samples, seed=ecfg.seed)
    else:
        report["bootstrap"] = bootstrap_f1(y, pred, groups, len(labels.names), n_boot=ecfg.bootstrap_samples,
                                           seed=ecfg.seed)
    report["name"] = name
    return report


def _gain(y, pred, base_pred, groups, labels: LabelSet, ecfg: EvalConfig) -> dict:
    if labels.is_multi_label:
        return bootstrap_multilabel_macro_f1_difference(y, pred, base_pred, groups, n_boot=ecfg.bootstrap_samples,
                                                        seed=ecfg.seed)
    return bootstrap_macro_f1_difference(y, pred, base_pred, groups, len(labels.names),
                                         n_boot=ecfg.bootstrap_samples, seed=ecfg.seed)


DEFAULT_EVAL_DIR = "eval-test"


def _calibration(logits, y, labels: LabelSet, run: Path, work: Path, title: str, ecfg: EvalConfig,
                 shown: Path) -> dict:
    """Temperature scaling's effect (single-label) or the thresholds used (multi-label)."""
    if labels.is_multi_label:
        info = read_json(run / THRESHOLDS_FILE) if (run / THRESHOLDS_FILE).is_file() else None
        return {"thresholds": dict(zip(labels.names, threshold_vector(info, labels).tolist())),
                "thresholds_source": str(shown / THRESHOLDS_FILE) if info else None}
    temperature_path = run / TEMPERATURE_FILE
    temperature = read_json(temperature_path)["temperature"] if temperature_path.is_file() else 1.0
    probs_raw, probs = softmax(logits), softmax(logits, temperature)
    reliability_png({"raw": (probs_raw, y), f"T = {temperature:.2f}": (probs, y)}, work / "reliability.png",
                    f"{title}: reliability", ecfg.calibration_bins)
    # `shown` is the final run directory: during training `run` is still the temporary folder.
    return {"temperature": temperature, "temperature_source": str(shown / TEMPERATURE_FILE) if temperature != 1.0 else None,
            "ece_before": expected_calibration_error(probs_raw, y, ecfg.calibration_bins),
            "ece_after": expected_calibration_error(probs, y, ecfg.calibration_bins),
            "bins": ecfg.calibration_bins}


def evaluate(ecfg: EvalConfig, shown_run_dir: Path | None = None) -> Path:
    """`shown_run_dir` is the name reports use while the run directory is still being built."""
    from train.inference.scoring import predict_logits
    from train.modeling.models import load_trained

    run = Path(ecfg.run_dir)
    labels = run_label_set(run)
    cfg = run_config(run)
    splits = load_splits(cfg.data, labels, cfg.seed)
    rows, source = _eval_rows(ecfg, cfg, labels, splits)
    out_dir = Path(ecfg.output_dir or run / f"eval-{ecfg.split if not ecfg.data_file else Path(ecfg.data_file).stem}")
    shown = Path(shown_run_dir or run)
    title = f"{shown.name}: {Path(source).name if ecfg.data_file else ecfg.split}"
    tokenizer, model = load_trained(run)
    text_field, group_field = cfg.data.text_field, cfg.data.group_field
    with atomic_directory(out_dir, ecfg.overwrite) as work:
        logits = predict_logits(model, tokenizer, [r[text_field] for r in rows], batch_size=ecfg.batch_size,
                                max_length=cfg.model.max_length)
        y = np.asarray([labels.encode(r[labels.field]) for r in rows]).astype(int)
        results = {"source": source, "run_dir": str(shown), "n": len(rows), "labels": list(labels.names),
                   "problem_type": labels.problem_type}
        results["calibration"] = _calibration(logits, y, labels, run, work, title, ecfg, shown)
        if labels.is_multi_label:
            thresholds = np.asarray([results["calibration"]["thresholds"][n] for n in labels.names])
            probs = probabilities(logits, labels)
        else:
            thresholds, probs = None, softmax(logits, results["calibration"]["temperature"])
        pred = predicted_indices(probs, labels, thresholds)
        groups = [r[group_field] for r in rows]
        results["articles"] = len(set(groups))
        results["model"] = model_report = _scored("model", y, pred, groups, labels, ecfg)
        if ecfg.baselines:
            train_rows = splits["train"].to_list()
            texts = [r[text_field] for r in rows]
            for name, fit in (("tfidf_logreg", tfidf_baseline), ("majority", majority_baseline)):
                base_pred = fit([r[text_field] for r in train_rows],
                                [labels.encode(r[labels.field]) for r in train_rows], texts)
                results[name] = _scored(name, y, base_pred, groups, labels, ecfg)
                results[name]["gain_macro_f1"] = _gain(y, pred, base_pred, groups, labels, ecfg)
        results["errors"] = _confident_errors(rows, probs, y, pred, labels, text_field, ecfg.top_errors)
        results["by_field"] = {f: _breakdown(rows, y, pred, labels, f) for f in (cfg.data.conflict_field, *METADATA_FIELDS)
                               if f != labels.field}
        results["by_field"] = {k: v for k, v in results["by_field"].items() if v}
        if "confusion_matrix" in model_report:
            confusion_matrix_png(model_report["confusion_matrix"]["matrix"], list(labels.names),
                                 work / "confusion_matrix.png", title)
        write_jsonl(work / "predictions.jsonl", prediction_records(rows, probs, labels, **cfg.data.fields,
                                                                   thresholds=thresholds))
        written = run / "eval-test_written" / "metrics.json"
        if ecfg.split == "test" and not ecfg.data_file and written.is_file():
            w = read_json(written)
            results["beside"] = {"name": "written test split", "n": w["n"], "articles": w["articles"],
                                 "macro_f1": w["model"]["bootstrap"]["macro_f1"], "report": "../eval-test_written/report.md"}
        write_json(work / "metrics.json", results)
        (work / "report.md").write_text(render_report(results, ecfg), encoding="utf-8")
    _print_results(results, source, shown / out_dir.relative_to(run) if out_dir.is_relative_to(run) else out_dir)
    return out_dir


def _print_results(results: dict, source: str, shown_out: Path) -> None:
    boot = results["model"]["bootstrap"]
    m = boot["macro_f1"]
    print(f"{source}: n={results['n']}  macro-F1 {m['point']:.4f} (95% CI {m['ci'][0]:.4f}-{m['ci'][1]:.4f})  -> {shown_out}")
    if "micro_f1" in boot:
        print(f"  micro-F1 {boot['micro_f1']['point']:.4f}  exact match {boot['exact_match']['point']:.4f}  "
              f"Hamming loss {boot['hamming_loss']['point']:.4f}")
    for name in ("tfidf_logreg", "majority"):
        if name in results:
            g = results[name]["gain_macro_f1"]
            print(f"  vs {name}: macro-F1 {results[name]['macro_f1']:.4f}; gain {g['point']:+.4f} "
                  f"(95% CI {g['ci'][0]:+.4f} to {g['ci'][1]:+.4f})")
    c = results["calibration"]
    if "ece_before" in c:
        print(f"  ECE {c['ece_before']:.4f} -> {c['ece_after']:.4f} with temperature {c['temperature']:.3f}")
    else:
        print("  thresholds: " + ", ".join(f"{n} {v:.2f}" for n, v in c["thresholds"].items()))
