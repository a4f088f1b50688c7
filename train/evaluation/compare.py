"""`framing compare RUN BASELINE`: two trained runs scored on the same paragraphs (RUN's test split by default),
with the macro-F1 gain and its 95% bootstrap interval over resampled articles (a paired comparison).

The baseline must not have trained or validated on any article it is scored on; that is checked first.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from train.data.corpus import load_splits
from train.errors import UserError
from train.evaluation.bootstrap import bootstrap_f1, bootstrap_macro_f1_difference
from train.evaluation.evaluate_run import run_config, run_label_set


def compare_runs(run_dir: str, baseline_dir: str, split: str = "test", n_boot: int = 1000, seed: int = 0) -> dict:
    from train.inference.scoring import predict_logits
    from train.modeling.models import load_trained

    run, base = Path(run_dir), Path(baseline_dir)
    labels, base_labels = run_label_set(run), run_label_set(base)
    if labels.names != base_labels.names or labels.field != base_labels.field:
        raise UserError(f"{base}: labels {base_labels.field} {list(base_labels.names)} differ from {run}'s "
                        f"{labels.field} {list(labels.names)}; compare runs of one task")
    if labels.is_multi_label:
        raise UserError("framing compare scores single-label runs (frame, stance)")
    cfg, base_cfg = run_config(run), run_config(base)
    splits = load_splits(cfg.data, labels, cfg.seed)
    if split not in splits:
        raise UserError(f"{run}: no {split!r} split (its splits: {', '.join(splits)})")
    rows = splits[split].to_list()
    group = cfg.data.group_field
    scored_articles = {r[group] for r in rows}
    base_splits = load_splits(base_cfg.data, base_labels, base_cfg.seed)
    seen = {a for name in ("train", "validation") for a in base_splits[name][base_cfg.data.group_field]}
    leaked = sorted(scored_articles & seen)
    if leaked:
        raise UserError(f"{base}: trained or validated on {len(leaked)} of the {len(scored_articles)} articles being "
                        f"scored (e.g. {leaked[:3]}); the comparison would flatter it")
    texts = [r[cfg.data.text_field] for r in rows]
    y = np.asarray([labels.encode(r[labels.field]) for r in rows])
    groups = [r[group] for r in rows]
    preds = {}
    for name, directory, run_cfg in (("run", run, cfg), ("baseline", base, base_cfg)):
        tokenizer, model = load_trained(directory)
        logits = predict_logits(model, tokenizer, texts, batch_size=64, max_length=run_cfg.model.max_length)
        preds[name] = np.asarray(logits).argmax(axis=1)
    k = len(labels.names)
    result = {"run": str(run), "baseline": str(base), "split": split, "n": len(rows), "articles": len(scored_articles)}
    for name in ("run", "baseline"):
        result[name + "_macro_f1"] = bootstrap_f1(y, preds[name], groups, k, n_boot=n_boot, seed=seed)["macro_f1"]
    result["gain"] = bootstrap_macro_f1_difference(y, preds["run"], preds["baseline"], groups, k, n_boot=n_boot,
                                                   seed=seed)
    return result


def format_comparison(result: dict) -> str:
    def ci(entry):
        return f"{entry['point']:.4f} (95% CI {entry['ci'][0]:.4f}-{entry['ci'][1]:.4f})"

    gain = result["gain"]
    return "\n".join([
        f"{result['split']} split of {result['run']}: n={result['n']} paragraphs, {result['articles']} articles",
        f"  run       macro-F1 {ci(result['run_macro_f1'])}",
        f"  baseline  macro-F1 {ci(result['baseline_macro_f1'])}  ({result['baseline']})",
        f"  gain {gain['point']:+.4f} (95% CI {gain['ci'][0]:+.4f} to {gain['ci'][1]:+.4f}, articles resampled)",
    ])


def write_comparison(result: dict, output: Path, overwrite: bool) -> None:
    if output.exists() and not overwrite:
        raise UserError(f"{output}: exists; pass --overwrite to replace it")
    partial = output.with_name(f".{output.name}.partial")
    partial.write_text(json.dumps(result, indent=2), encoding="utf-8")
    partial.replace(output)
