"""`framing train`: load config -> load data -> build model -> train -> evaluate -> save -> card.

Each step is a small function; the run directory is built in a temporary folder and renamed at the end.
"""

from __future__ import annotations

from collections import Counter

import shutil
import time
from pathlib import Path

import numpy as np

from .config import RunConfig, dump_config, load_config
from .data import load_splits
from .evaluation import evaluate_logits
from .labels import LabelSet
from .thresholds import THRESHOLDS_FILE, threshold_vector
from .modeling import build_classifier, resolve_model_source
from .resume import CHECKPOINT_DIR, is_main_process, newest_complete_checkpoint, training_directory, world_size
from .rundir import check_target, provenance, write_json, write_jsonl


def setup_runtime(cfg: RunConfig) -> None:
    """Threads and seeds; under torchrun, the process group (gloo on CPU) before any process touches files."""
    import os

    import torch
    from transformers import set_seed

    if world_size() > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() and not cfg.training.use_cpu else "gloo")
        if not cfg.training.num_threads:  # processes on one machine share its cores
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    if cfg.training.num_threads:
        torch.set_num_threads(cfg.training.num_threads)
    set_seed(cfg.seed)


def train_model(cfg: RunConfig, model, tokenizer, splits, labels: LabelSet, work: Path, resume: bool):
    """Fine-tune with the Trainer; returns the trainer (best checkpoint loaded) and training statistics.
    With `resume`, training continues from the newest complete checkpoint (optimizer, scheduler, RNG, data order)."""
    from .trainer import build_trainer, tokenize_splits

    tokenized = tokenize_splits(splits, tokenizer, labels, text_field=cfg.data.text_field,
                                max_length=cfg.model.max_length)
    tensorboard_dir = work / "logs" if cfg.output.tensorboard and is_main_process() else None
    trainer = build_trainer(cfg, model, tokenizer, tokenized, labels, work / CHECKPOINT_DIR, tensorboard_dir)
    checkpoint = newest_complete_checkpoint(work) if resume else None
    if resume and is_main_process():
        print(f"Resuming from {checkpoint}" if checkpoint else "No complete checkpoint yet: training from the start")
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
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


def evaluate_model(cfg: RunConfig, trainer, tokenizer, splits, labels: LabelSet,
                   work: Path) -> tuple[dict, list[dict], dict, dict | None]:
    """Validation and test reports from the best checkpoint; test predictions and the confusion-matrix plot.
    Multi-label runs first tune per-label thresholds on validation; the reports use them.

    Uses our order-preserving inference, not Trainer.predict: with length grouping on, transformers 5.x also
    length-groups the evaluation sampler, so Trainer.predict returns rows in a shuffled order.
    """
    from .inference import predict_logits

    model = trainer.model.eval()
    rows_by_split, logits_by_split = {}, {}
    for split in ("test", *(["test_written"] if "test_written" in splits else []), "validation"):
        rows = rows_by_split[split] = splits[split].to_list()
        logits = predict_logits(model, tokenizer, [r[cfg.data.text_field] for r in rows],
                                batch_size=cfg.training.eval_batch_size, max_length=cfg.model.max_length)
        logits_by_split[split] = (logits, [labels.encode(r[labels.field]) for r in rows])
    fit_on, fit_name = fitting_rows(rows_by_split["validation"], logits_by_split["validation"])
    threshold_info = tune_on_validation(fit_on, labels)
    if threshold_info:
        threshold_info["fitted_on"] = fit_name
    cut = threshold_vector(threshold_info, labels)
    reports, test_records = {}, []
    for split, rows in rows_by_split.items():
        report, records = evaluate_logits(logits_by_split[split][0], rows, labels, fields=cfg.data.fields,
                                          out_dir=work, split_name=split, title=cfg.run_name, thresholds=cut)
        if labels.is_multi_label:
            report["at_0.5"], _ = evaluate_logits(logits_by_split[split][0], rows, labels, fields=cfg.data.fields,
                                                  out_dir=work, split_name=split, title=cfg.run_name)
        reports[split] = report
        if split == "test":
            test_records = records
    return reports, test_records, logits_by_split, threshold_info


# Fewer real validation rows than this and temperature and thresholds are fitted on the whole validation split.
MIN_REAL_FIT_ROWS = 50


def fitting_rows(rows: list[dict], validation: tuple) -> tuple[tuple, str]:
    """The validation (logits, gold) that calibration and thresholds are fitted on: its real paragraphs where
    there are enough of them, because real text is what the model will score."""
    real = [i for i, r in enumerate(rows) if r.get("origin") == "real"]
    if len(real) < MIN_REAL_FIT_ROWS or len(real) == len(rows):
        return validation, "validation"
    logits, gold = validation
    return (logits[real], [gold[i] for i in real]), f"validation (real paragraphs only, n={len(real)})"


def tune_on_validation(validation: tuple, labels: LabelSet) -> dict | None:
    """Per-label thresholds (multi-label runs only), fitted on validation logits."""
    if not labels.is_multi_label:
        return None
    from .metrics import probabilities
    from .thresholds import tune_thresholds

    logits, gold = validation
    return tune_thresholds(probabilities(logits, labels), np.asarray(gold), labels)


def calibrate(logits_by_split: dict, labels: LabelSet, fit_on: tuple | None = None,
              fit_name: str = "validation") -> dict | None:
    """Temperature fitted on validation logits (or `fit_on`); ECE before and after on every split."""
    if labels.is_multi_label:
        return None
    from .calibration import expected_calibration_error, fit_temperature, nll, softmax

    val_logits, val_y = fit_on or logits_by_split["validation"]
    temperature = fit_temperature(val_logits, np.asarray(val_y))
    report = {"temperature": temperature, "fitted_on": fit_name}
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
    if "thresholds" in metrics:
        write_json(work / THRESHOLDS_FILE, metrics["thresholds"])
    if "calibration" in metrics:
        from .calibration import TEMPERATURE_FILE

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
        print("Data: " + ", ".join(f"{name}={len(ds)}" for name, ds in splits.items()) + f" paragraphs; labels: {', '.join(labels.names)}")
    _, base_model = resolve_model_source(cfg.model.name_or_path)
    tokenizer, model = build_classifier(cfg.model, labels)
    with training_directory(cfg, cfg.output.overwrite, resume) as work:
        t0 = time.perf_counter()
        trainer, train_stats = train_model(cfg, model, tokenizer, splits, labels, work, resume)
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
            from .config import EvalConfig
            from .evaluate_run import DEFAULT_EVAL_DIR, evaluate

            if "test_written" in splits:  # first, so the card (rewritten after eval-test) can show it beside
                evaluate(EvalConfig(run_dir=str(work), split="test_written", output_dir=str(work / "eval-test_written"),
                                    batch_size=cfg.training.eval_batch_size), shown_run_dir=cfg.run_dir)
            evaluate(EvalConfig(run_dir=str(work), output_dir=str(work / DEFAULT_EVAL_DIR),
                                batch_size=cfg.training.eval_batch_size), shown_run_dir=cfg.run_dir)
        if cfg.output.write_card:
            from .card import write_card

            write_card(work, shown_dir=cfg.run_dir)
        timings["total"] = round(time.perf_counter() - started, 1)
    print_summary(cfg.run_dir, metrics, labels)
    print(f"Took {timings['total']:.0f} s (training {timings['train']:.0f} s).")
    return cfg.run_dir
