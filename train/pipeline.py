"""`framing train`: load config -> load data -> build model -> train -> evaluate -> save -> card.

Each step is a small function; the run directory is built in a temporary folder and renamed at the end.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path

from train.config import RunConfig, dump_config, load_config
from train.data.corpus import load_splits
from train.evaluation.metrics import make_compute_metrics
from train.evaluation.splits import evaluate_model
from train.labels import LabelSet
from train.modeling.calibration import TEMPERATURE_FILE, calibrate, fitting_rows
from train.modeling.fit import setup_runtime, train_model
from train.modeling.models import build_classifier, resolve_model_source
from train.modeling.resume import CHECKPOINT_DIR, is_main_process, training_directory
from train.modeling.thresholds import THRESHOLDS_FILE
from train.rundir import check_target, provenance, write_json, write_jsonl


def save_run(cfg: RunConfig, trainer, labels: LabelSet, work: Path, metrics: dict, test_records: list[dict],
             base_model: str, timings: dict) -> None:
    """Everything that makes the run directory self-describing; checkpoints are dropped (best model kept)."""
    trainer.save_model(str(work))
    # The Trainer pickles its arguments next to the model; the run directory ships no pickles
    # (config.yaml already records every setting).
    (work / "training_args.bin").unlink(missing_ok=True)
    (work / "config.yaml").write_text(dump_config(cfg), encoding="utf-8")
    write_json(work / "labels.json", labels.to_json())
    write_json(work / "metrics.json", metrics)
    write_jsonl(work / "test_predictions.jsonl", test_records)
    if "thresholds" in metrics:
        write_json(work / THRESHOLDS_FILE, metrics["thresholds"])
    if "calibration" in metrics:
        write_json(work / TEMPERATURE_FILE, {"temperature": metrics["calibration"]["temperature"],
                                             "fitted_on": metrics["calibration"]["fitted_on"],
                                             "validation_nll_before":
                                             metrics["calibration"]["validation"]["nll_before"],
                                             "validation_nll_after": metrics["calibration"]["validation"]["nll_after"]})
    write_json(work / "run.json", provenance(base_model, {"run_name": cfg.run_name, "timings_s": timings}))
    shutil.rmtree(work / CHECKPOINT_DIR, ignore_errors=True)


def provenance_counts(splits) -> dict[str, dict[str, int]]:
    """Rows the model learnt from (train and validation) by licence, origin and source: the card lists them."""
    out = {}
    for field in ("licence", "origin", "source"):
        values = [v for name in ("train", "validation") if field in splits[name].column_names
                  for v in splits[name][field]]
        out[field] = dict(Counter(values).most_common())
    return out


def label_counts(values: list, labels: LabelSet) -> dict[str, int]:
    counts = dict.fromkeys(labels.names, 0)
    for value in values:
        for name in (value if labels.is_multi_label else [value]):
            counts[name] += 1
    return counts


def test_split_name(metrics: dict) -> str:
    """What `test` holds: real news held out by article, or the written corpus's own test split."""
    return "real test split (published news, held out by article)" if "test_written" in metrics or \
        metrics.get("split_origins", {}).get("test") == "real" else "test split"


def print_summary(run_dir: Path, metrics: dict, labels: LabelSet) -> None:
    test = metrics["test"]
    print(f"\nRun directory: {run_dir}")
    print(f"{test_split_name(metrics)[0].upper() + test_split_name(metrics)[1:]}: n={test['n']}  "
          f"macro-F1={test['macro_f1']:.4f}" +
          (f"  accuracy={test['accuracy']:.4f}" if "accuracy" in test else f"  micro-F1={test['micro_f1']:.4f}"))
    if "test_written" in metrics:
        written = metrics["test_written"]
        print(f"Written test split (the project's own text): n={written['n']}  macro-F1={written['macro_f1']:.4f}")
    print(f"{'label':<20}{'precision':>10}{'recall':>10}{'F1':>8}{'support':>9}")
    for name in labels.names:
        c = test["per_class"][name]
        print(f"{name:<20}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>8.3f}{c['support']:>9d}")
    if labels.is_multi_label:
        c = test["no_label"]
        print(f"{'(' + c['name'] + ')':<20}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>8.3f}{c['support']:>9d}")
        t = metrics["thresholds"]
        print(f"exact match {test['exact_match']:.4f}  Hamming loss {test['hamming_loss']:.4f}  "
              f"(at 0.5: macro-F1 {test['at_0.5']['macro_f1']:.4f})")
        print("thresholds tuned on validation: " + ", ".join(f"{n} {v:.2f}" for n, v in t["thresholds"].items())
              + f"  (validation macro-F1 {t['validation_macro_f1_at_0.5']:.4f} at 0.5 -> "
              f"{t['validation_macro_f1_tuned']:.4f})")


def run_training(config_path: str, overrides: list[str], overwrite: bool = False, resume: bool = False) -> Path | None:
    """Returns the run directory (None on the non-zero ranks of a distributed run, which write nothing)."""
    started = time.perf_counter()
    cfg = load_config(config_path, [*overrides, *(["output.overwrite=true"] if overwrite else [])])
    labels = cfg.task.label_set()
    if not resume:
        check_target(cfg.run_dir, cfg.output.overwrite)
    setup_runtime(cfg)
    splits = load_splits(cfg.data, labels, cfg.seed)
    if is_main_process():
        sizes = ", ".join(f"{name}={len(ds)}" for name, ds in splits.items())
        print(f"Data: {sizes} paragraphs; labels: {', '.join(labels.names)}")
    _, base_model = resolve_model_source(cfg.model.name_or_path)
    tokenizer, model = build_classifier(cfg.model, labels)
    with training_directory(cfg, cfg.output.overwrite, resume) as work:
        t0 = time.perf_counter()
        trainer, train_stats = train_model(cfg, model, tokenizer, splits, labels, work, resume,
                                          compute_metrics=make_compute_metrics(labels))
        t1 = time.perf_counter()
        if not is_main_process():
            return None
        reports, test_records, logits_by_split, threshold_info = evaluate_model(cfg, trainer, tokenizer, splits,
                                                                                labels, work)
        calibration = calibrate(logits_by_split, labels,
                                *fitting_rows(splits["validation"].to_list(), logits_by_split["validation"]))
        t2 = time.perf_counter()
        metrics = {
            **reports,
            "training": train_stats,
            "split_sizes": {name: len(ds) for name, ds in splits.items()},
            "split_articles": {name: len(set(ds[cfg.data.group_field])) for name, ds in splits.items()},
            "split_origins": {name: "+".join(sorted(set(ds["origin"]))) for name, ds in splits.items()
                              if "origin" in ds.column_names},
            "label_counts": {name: label_counts(ds[labels.field], labels) for name, ds in splits.items()},
            "training_data": provenance_counts(splits),
            **({"calibration": calibration} if calibration else {}),
            **({"thresholds": threshold_info} if threshold_info else {}),
        }
        timings = {"train": round(t1 - t0, 1), "evaluate": round(t2 - t1, 1)}
        save_run(cfg, trainer, labels, work, metrics, test_records, base_model, timings)
        if cfg.output.evaluate:
            from train.config import EvalConfig
            from train.evaluation.evaluate_run import DEFAULT_EVAL_DIR, evaluate

            if "test_written" in splits:  # first, so the card (rewritten after eval-test) can show it beside
                evaluate(EvalConfig(run_dir=str(work), split="test_written", output_dir=str(work / "eval-test_written"),
                                    batch_size=cfg.training.eval_batch_size), shown_run_dir=cfg.run_dir)
            evaluate(EvalConfig(run_dir=str(work), output_dir=str(work / DEFAULT_EVAL_DIR),
                                batch_size=cfg.training.eval_batch_size), shown_run_dir=cfg.run_dir)
        if cfg.output.write_card:
            from train.sharing.card import write_card

            write_card(work, shown_dir=cfg.run_dir)
        timings["total"] = round(time.perf_counter() - started, 1)
    print_summary(cfg.run_dir, metrics, labels)
    print(f"Took {timings['total']:.0f} s (training {timings['train']:.0f} s).")
    return cfg.run_dir
