"""`framing train`: load config -> load data -> build model -> train -> evaluate -> save -> card.

Each step is a small function; the run directory is built in a temporary folder and renamed at the end.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from .config import RunConfig, dump_config, load_config
from .data import load_splits
from .evaluation import evaluate_logits
from .labels import LabelSet
from .modeling import build_classifier, resolve_model_source
from .rundir import atomic_directory, check_target, provenance, write_json, write_jsonl


def setup_runtime(cfg: RunConfig) -> None:
    import torch
    from transformers import set_seed

    if cfg.training.num_threads:
        torch.set_num_threads(cfg.training.num_threads)
    set_seed(cfg.seed)


def train_model(cfg: RunConfig, model, tokenizer, splits, labels: LabelSet, work: Path):
    """Fine-tune with the Trainer; returns the trainer (best checkpoint loaded) and training statistics."""
    from .trainer import build_trainer, tokenize_splits

    tokenized = tokenize_splits(splits, tokenizer, labels, text_field=cfg.data.text_field,
                                max_length=cfg.model.max_length)
    tensorboard_dir = work / "logs" if cfg.output.tensorboard else None
    trainer = build_trainer(cfg, model, tokenizer, tokenized, labels, work / "checkpoints", tensorboard_dir)
    result = trainer.train()
    state = trainer.state
    stats = {
        "train_runtime_s": round(result.metrics.get("train_runtime", 0.0), 2),
        "train_samples_per_second": round(result.metrics.get("train_samples_per_second", 0.0), 3),
        "epochs_run": round(state.epoch or 0.0, 3),
        "global_steps": state.global_step,
        "best_checkpoint_metric": state.best_metric,
        "best_epoch": _best_epoch(state),
        "log_history": state.log_history,
    }
    return trainer, stats


def _best_epoch(state) -> float | None:
    for entry in state.log_history:
        if entry.get("eval_macro_f1") == state.best_metric:
            return entry.get("epoch")
    return None


def evaluate_model(cfg: RunConfig, trainer, tokenizer, splits, labels: LabelSet, work: Path) -> tuple[dict, list[dict]]:
    """Validation and test reports from the best checkpoint; test predictions and the confusion-matrix plot.

    Uses our order-preserving inference, not Trainer.predict: with length grouping on, transformers 5.x also
    length-groups the evaluation sampler, so Trainer.predict returns rows in a shuffled order.
    """
    from .inference import predict_logits

    model = trainer.model.eval()
    reports, test_records, logits_by_split = {}, [], {}
    for split in ("validation", "test"):
        rows = splits[split].to_list()
        logits = predict_logits(model, tokenizer, [r[cfg.data.text_field] for r in rows],
                                batch_size=cfg.training.eval_batch_size, max_length=cfg.model.max_length)
        report, records = evaluate_logits(logits, rows, labels, fields=cfg.data.fields, out_dir=work,
                                          split_name=split, title=cfg.run_name)
        reports[split] = report
        logits_by_split[split] = (logits, [labels.encode(r[labels.field]) for r in rows])
        if split == "test":
            test_records = records
    return reports, test_records, logits_by_split


def calibrate(logits_by_split: dict, labels: LabelSet) -> dict | None:
    """Temperature fitted on validation logits; ECE before and after on validation and test."""
    if labels.is_multi_label:
        return None
    from .calibration import expected_calibration_error, fit_temperature, nll, softmax

    val_logits, val_y = logits_by_split["validation"]
    temperature = fit_temperature(val_logits, np.asarray(val_y))
    report = {"temperature": temperature, "fitted_on": "validation"}
    for split, (logits, y) in logits_by_split.items():
        y = np.asarray(y)
        report[split] = {
            "nll_before": nll(logits, y), "nll_after": nll(logits, y, temperature),
            "ece_before": expected_calibration_error(softmax(logits), y),
            "ece_after": expected_calibration_error(softmax(logits, temperature), y),
        }
    return report


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
    if "calibration" in metrics:
        from .calibration import TEMPERATURE_FILE

        write_json(work / TEMPERATURE_FILE, {"temperature": metrics["calibration"]["temperature"],
                                             "fitted_on": "validation", "validation_nll_before":
                                             metrics["calibration"]["validation"]["nll_before"],
                                             "validation_nll_after": metrics["calibration"]["validation"]["nll_after"]})
    write_json(work / "run.json", provenance(base_model, {"run_name": cfg.run_name, "timings_s": timings}))
    shutil.rmtree(work / "checkpoints", ignore_errors=True)


def label_counts(values: list, labels: LabelSet) -> dict[str, int]:
    counts = dict.fromkeys(labels.names, 0)
    for value in values:
        for name in (value if labels.is_multi_label else [value]):
            counts[name] += 1
    return counts


def print_summary(run_dir: Path, metrics: dict, labels: LabelSet) -> None:
    test = metrics["test"]
    print(f"\nRun directory: {run_dir}")
    print(f"Test split: n={test['n']}  macro-F1={test['macro_f1']:.4f}" +
          (f"  accuracy={test['accuracy']:.4f}" if "accuracy" in test else f"  micro-F1={test['micro_f1']:.4f}"))
    print(f"{'label':<20}{'precision':>10}{'recall':>10}{'F1':>8}{'support':>9}")
    for name in labels.names:
        c = test["per_class"][name]
        print(f"{name:<20}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>8.3f}{c['support']:>9d}")


def run_training(config_path: str, overrides: list[str], overwrite: bool = False) -> Path:
    started = time.perf_counter()
    cfg = load_config(config_path, [*overrides, *(["output.overwrite=true"] if overwrite else [])])
    labels = cfg.task.label_set()
    check_target(cfg.run_dir, cfg.output.overwrite)
    setup_runtime(cfg)
    splits = load_splits(cfg.data, labels, cfg.seed)
    print("Data: " + ", ".join(f"{name}={len(ds)}" for name, ds in splits.items()) + f" paragraphs; labels: {', '.join(labels.names)}")
    _, base_model = resolve_model_source(cfg.model.name_or_path)
    tokenizer, model = build_classifier(cfg.model, labels)
    with atomic_directory(cfg.run_dir, cfg.output.overwrite) as work:
        t0 = time.perf_counter()
        trainer, train_stats = train_model(cfg, model, tokenizer, splits, labels, work)
        t1 = time.perf_counter()
        reports, test_records, logits_by_split = evaluate_model(cfg, trainer, tokenizer, splits, labels, work)
        calibration = calibrate(logits_by_split, labels)
        t2 = time.perf_counter()
        metrics = {
            **reports,
            "training": train_stats,
            "split_sizes": {name: len(ds) for name, ds in splits.items()},
            "split_articles": {name: len(set(ds[cfg.data.group_field])) for name, ds in splits.items()},
            "label_counts": {name: label_counts(ds[labels.field], labels) for name, ds in splits.items()},
            **({"calibration": calibration} if calibration else {}),
        }
        timings = {"train": round(t1 - t0, 1), "evaluate": round(t2 - t1, 1)}
        save_run(cfg, trainer, labels, work, metrics, test_records, base_model, timings)
        if cfg.output.evaluate and not labels.is_multi_label:
            from .config import EvalConfig
            from .evaluate_run import DEFAULT_EVAL_DIR, evaluate

            evaluate(EvalConfig(run_dir=str(work), output_dir=str(work / DEFAULT_EVAL_DIR),
                                batch_size=cfg.training.eval_batch_size), shown_run_dir=cfg.run_dir)
        if cfg.output.write_card:
            from .card import write_card

            write_card(work, shown_dir=cfg.run_dir)
        timings["total"] = round(time.perf_counter() - started, 1)
    print_summary(cfg.run_dir, metrics, labels)
    print(f"Took {timings['total']:.0f} s (training {timings['train']:.0f} s).")
    return cfg.run_dir
