"""`framing evaluate RUN_DIR DATA --output DIR`: score a finished run on any labelled file.

Reads only the run directory (model, tokenizer, labels.json, config.yaml); writes the output folder atomically.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .data import load_records
from .evaluation import evaluate_logits
from .labels import LabelSet
from .modeling import load_trained
from .rundir import atomic_directory, read_json, write_json, write_jsonl


def run_label_set(run_dir: Path) -> LabelSet:
    info = read_json(run_dir / "labels.json")
    return LabelSet(field=info["field"], names=tuple(info["labels"]), problem_type=info["problem_type"])


def run_data_fields(run_dir: Path) -> dict:
    config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    data = config.get("data", {})
    return {"text_field": data.get("text_field", "text"), "id_field": data.get("id_field", "id"),
            "group_field": data.get("group_field", "article_id"), "max_length": config["model"]["max_length"]}


def evaluate_run_dir(run_dir: str, data_path: str, output: str, *, overwrite: bool = False, batch_size: int = 64) -> dict:
    from .inference import predict_logits

    run = Path(run_dir)
    labels = run_label_set(run)
    fields = run_data_fields(run)
    max_length = fields.pop("max_length")
    rows = load_records(data_path, labels, **fields)
    tokenizer, model = load_trained(run)
    with atomic_directory(Path(output), overwrite) as work:
        logits = predict_logits(model, tokenizer, [r[fields["text_field"]] for r in rows],
                                batch_size=batch_size, max_length=max_length)
        report, records = evaluate_logits(logits, rows, labels, fields=fields, out_dir=work,
                                          split_name=Path(data_path).name, title=run.name)
        write_json(work / "metrics.json", {"data": str(data_path), "run_dir": str(run), **report})
        write_jsonl(work / "predictions.jsonl", records)
    print(f"{data_path}: n={report['n']}  macro-F1={report['macro_f1']:.4f}  -> {output}")
    return report
