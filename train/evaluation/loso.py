"""`framing cv CONFIG --group-field source`: leave-one-group-out evaluation on real news.

Each fold trains the full recipe without every row whose `--group-field` has one value (a source, a conflict, an
outlet) and scores the real paragraphs with that value alone, beside a TF-IDF baseline trained on the same rows.
Written rows are never held out when grouping by source (they are not a real source). Articles of the real test
split (data.test_articles) take no part at all, so choosing a recipe by these figures never looks at the test split.
Per-group results and the mean go to <output.dir>/<run_name>-lo<field>o/.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np

from train.data.corpus import read_article_list
from train.errors import UserError
from train.evaluation.cv import load_cv_corpus, train_and_score_fold
from train.evaluation.metrics import full_report
from train.evaluation.report import group_table
from train.labels import LabelSet
from train.rundir import atomic_directory, provenance, write_json

# Groups with fewer real paragraphs than this are listed as skipped: their macro-F1 would be noise.
MIN_GROUP_ROWS = 30


def held_out_groups(records: list[dict], field: str, min_rows: int = MIN_GROUP_ROWS) -> tuple[list[str], dict]:
    """The values of `field` among real rows with enough paragraphs to score, and the ones skipped."""
    counts = Counter(r.get(field) for r in records if r.get("origin") == "real")
    missing = counts.pop(None, 0)
    if missing:
        raise UserError(f"--group-field {field}: {missing} real row(s) have no {field!r} field")
    if not counts:
        raise UserError(f"--group-field {field}: no real rows (origin: real) to hold out; add data/real/*.jsonl to "
                        "data.path")
    kept = sorted(g for g, n in counts.items() if n >= min_rows)
    skipped = {g: n for g, n in counts.items() if n < min_rows}
    if len(kept) < 2:
        raise UserError(f"--group-field {field}: fewer than two values with {min_rows}+ real paragraphs "
                        f"({dict(counts)})")
    return kept, skipped


def run_leave_one_out(config_path: str, overrides: list[str], field: str, overwrite: bool = False,
                      only: list[str] | None = None, min_rows: int = MIN_GROUP_ROWS) -> Path:
    cfg, labels, records = load_cv_corpus(config_path, overrides)
    group = cfg.data.group_field
    if cfg.data.test_articles:
        test = read_article_list(cfg.data.test_articles)
        records = [r for r in records if r[group] not in test]
    groups, skipped = held_out_groups(records, field, min_rows)
    if only:
        unknown = sorted(set(only) - set(groups))
        if unknown:
            raise UserError(f"--only {unknown}: not among the {field} values that can be held out: {', '.join(groups)}")
        groups = [g for g in groups if g in only]
    out_dir = Path(cfg.output.dir) / f"{cfg.run_name}-lo{field}o"
    started = time.perf_counter()
    per_group, pooled_gold, pooled_pred = [], [], []
    with atomic_directory(out_dir, overwrite or cfg.output.overwrite) as work:
        for k, value in enumerate(groups):
            scored = [r for r in records if r.get(field) == value and r.get("origin") == "real"]
            rest = [r for r in records if r.get(field) != value]
            print(f"\n=== {field} {k + 1}/{len(groups)}: {value!r}, {len(scored)} real paragraphs held out; "
                  f"training on {len(rest)}")
            fold_dir = work / f"fold{k}"
            fold_dir.mkdir()
            reports, predictions, stats, sizes, base = train_and_score_fold(cfg, labels, rest, scored,
                                                                            cfg.data.validation_size, fold_dir)
            present = [n for n in labels.names if reports["test"]["per_class"][n]["support"] > 0]
            fold = {"group": value, "n": len(scored), "articles": len({r[group] for r in scored}),
                    "macro_f1": present_macro_f1(reports["test"], present), "labels_present": present,
                    "macro_f1_all_labels": reports["test"]["macro_f1"],
                    "per_class_f1": {n: reports["test"]["per_class"][n]["f1"] for n in labels.names},
                    "support": {n: reports["test"]["per_class"][n]["support"] for n in labels.names},
                    "tfidf_macro_f1": present_macro_f1(base, present), "train_rows": sizes["train"],
                    "epochs_run": stats["epochs_run"], "train_runtime_s": stats["train_runtime_s"]}
            write_json(fold_dir / "metrics.json", {**fold, "model": reports["test"], "tfidf_logreg": base})
            per_group.append(fold)
            pooled_gold += [r["gold"] for r in predictions]
            pooled_pred += [r["predicted"] for r in predictions]
            print(f"{value}: macro-F1 {fold['macro_f1']:.4f}  TF-IDF {fold['tfidf_macro_f1']:.4f}  (n={len(scored)})")
        summary = summarise(per_group, labels, pooled=pooled_report(pooled_gold, pooled_pred, labels), field=field,
                            config=config_path, overrides=overrides,
                            skipped=skipped, min_rows=min_rows, wall_time_s=round(time.perf_counter() - started, 1))
        write_json(work / "summary.json", summary)
        write_json(work / "run.json", provenance(cfg.model.name_or_path, {"kind": f"leave-one-{field}-out"}))
        (work / "summary.md").write_text(format_leave_one_out(summary), encoding="utf-8")
    print("\n" + format_leave_one_out(summary))
    return out_dir


def present_macro_f1(report: dict, present: list[str]) -> float:
    """Macro-F1 over the labels the held-out group has: a source with no `oppose` paragraph cannot score on it,
    so averaging its undefined F1 as 0 would measure the source's mix, not the model."""
    return float(np.mean([report["per_class"][n]["f1"] for n in present]))


def pooled_report(gold: list[str], predicted: list[str], labels: LabelSet) -> dict:
    """Every held-out paragraph's prediction together (each made by the model that did not see its group)."""
    y = np.asarray([labels.encode(g) for g in gold])
    p = np.asarray([labels.encode(x) for x in predicted])
    report = full_report(y, p, labels)
    return {"n": report["n"], "macro_f1": report["macro_f1"],
            "per_class_f1": {n: report["per_class"][n]["f1"] for n in labels.names}}


def summarise(per_group: list[dict], labels: LabelSet, **info) -> dict:
    def mean_std(values):
        return {"mean": float(np.mean(values)), "std": float(np.std(values))}

    return {**info, "group_field": info["field"], "labels": list(labels.names), "per_group": per_group,
            "model": {"macro_f1": mean_std([g["macro_f1"] for g in per_group]),
                      "per_class_f1": {n: mean_std([g["per_class_f1"][n] for g in per_group
                                                    if n in g["labels_present"]] or [0.0]) for n in labels.names}},
            "tfidf_logreg": {"macro_f1": mean_std([g["tfidf_macro_f1"] for g in per_group])}}


def format_leave_one_out(summary: dict) -> str:
    field, names = summary["group_field"], summary["labels"]
    lines = [f"# Leave-one-{field}-out", "",
             f"Each row: trained without that {field}, scored on its real paragraphs alone; macro-F1 averages the "
             f"labels the {field} has (a dash marks a label it lacks). Wall time {summary['wall_time_s'] / 60:.1f} min.",
             "", *group_table(summary, label_format="F1 {}")]
    m = summary["model"]
    lines.append(f"| **mean** | | **{m['macro_f1']['mean']:.3f}** | {summary['tfidf_logreg']['macro_f1']['mean']:.3f} |"
                 + "".join(f" {m['per_class_f1'][n]['mean']:.3f} |" for n in names))
    pooled = summary["pooled"]
    lines.append(f"| pooled ({pooled['n']} paragraphs) | | {pooled['macro_f1']:.3f} | |"
                 + "".join(f" {pooled['per_class_f1'][n]:.3f} |" for n in names))
    if summary.get("skipped"):
        lines += ["", f"Not held out (under {summary['min_rows']} real paragraphs): "
                  + ", ".join(f"{g} ({n})" for g, n in summary["skipped"].items())]
    return "\n".join(lines) + "\n"

