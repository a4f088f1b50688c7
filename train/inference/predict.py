"""`framing predict RUN_DIR [RUN_DIR ...] INPUT ... --output OUT`: streaming batch inference on new articles.

Needs only run directories, never training code. Paragraphs are read lazily, scored a buffer at a time (sorted
by length inside the buffer, overlapping windows for long paragraphs) and written as they are done:

- OUT.partial grows buffer by buffer; OUT.partial.progress records (records, bytes) after every buffer, so
  `--resume` truncates to the last finished buffer and continues with identical batches (byte-identical output);
- when the stream ends, per-article summaries are built by re-reading the records, and both files are renamed
  into place (OUT and OUT's `.articles` sibling).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from train.errors import UserError
from train.labels import EMPTY_MULTI_LABEL, LabelSet


@dataclass
class LoadedModel:
    key: str                 # where its output goes in a record: the label field, or the run name on a clash
    run_dir: Path
    labels: LabelSet
    scorer: object
    tokenizer: object
    max_length: int
    temperature: float
    thresholds: np.ndarray | None
    name: str
    revision: str

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        from train.labels import probabilities

        return probabilities(np.asarray(logits, dtype=np.float64) / self.temperature, self.labels)


def is_run_dir(path: str) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "labels.json").is_file() and (p / "config.json").is_file()


def weights_revision(run_dir: Path) -> str:
    """A content hash of the weights: identical files give the same revision wherever they are copied."""
    digest = hashlib.sha256()
    with (run_dir / "model.safetensors").open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


def load_model(run_dir: Path, backend: str, taken: set[str]) -> LoadedModel:
    import yaml

    from train.modeling.models import check_local_model_dir, load_tokenizer
    from train.modeling.thresholds import read_thresholds
    from train.rundir import read_json

    check_local_model_dir(run_dir)
    info = read_json(run_dir / "labels.json")
    labels = LabelSet.from_json(info)
    config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) if (run_dir / "config.yaml").is_file() else {}
    max_length = int(config.get("model", {}).get("max_length", 256))
    temperature = read_json(run_dir / "temperature.json")["temperature"] if (run_dir / "temperature.json").is_file() else 1.0
    thresholds = read_thresholds(run_dir, labels)
    tokenizer = load_tokenizer(str(run_dir))
    if backend == "torch":
        from train.inference.scoring import TorchScorer
        from train.modeling.models import load_trained_model

        scorer = TorchScorer(load_trained_model(run_dir))
    else:
        from train.inference.export import OnnxScorer

        scorer = OnnxScorer(run_dir, int8=backend == "onnx-int8")
    key = labels.field if labels.field not in taken else run_dir.name
    return LoadedModel(key=key, run_dir=run_dir, labels=labels, scorer=scorer, tokenizer=tokenizer,
                       max_length=max_length, temperature=temperature, thresholds=thresholds,
                       name=run_dir.resolve().name, revision=weights_revision(run_dir))


def in_shard(article_id: str, shard: tuple[int, int] | None) -> bool:
    """Deterministic 1/N of the articles (never splitting an article): crc32 of its id modulo N."""
    if shard is None:
        return True
    index, total = shard
    return zlib.crc32(article_id.encode("utf-8")) % total == index - 1


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        index, total = (int(x) for x in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: expected I/N, e.g. 1/4 (I from 1 to N)") from None
    if not 1 <= index <= total:
        raise UserError(f"--shard {text!r}: I must be between 1 and N")
    return index, total


def paragraph_stream(inputs, options, problems: list[str]):
    """Paragraphs from every input in order; a bad file is reported and skipped, or stops the run."""
    from train.data.articles import InputProblem, read_articles

    for path in inputs:
        try:
            for paragraph in read_articles(path, text_field=options.text_field, id_field=options.id_field):
                if in_shard(paragraph.article_id, options.shard):
                    yield paragraph
        except InputProblem as exc:
            if options.on_error == "stop":
                raise
            problems.append(str(exc))
            print(f"skipped: {exc}", file=sys.stderr)


def score_buffer(models: list[LoadedModel], buffer, options) -> list[dict]:
    from train.inference.scoring import window_probabilities

    texts = [p.text for p in buffer]
    records = [{"article_id": p.article_id, "position": p.position, "text": p.text, "source": str(p.source)}
               for p in buffer]
    for m in models:
        probs = window_probabilities(m.scorer, m.tokenizer, texts, max_length=m.max_length,
                                     stride=max(1, m.max_length // 4), batch_size=options.batch_size,
                                     to_probabilities=m.probabilities, sort_by_length=not options.no_sort)
        for record, p in zip(records, probs):
            record[m.key] = m.labels.decode(p, m.thresholds)  # multi-label: ["none"] when no label passes
            record[f"{m.key}_probabilities"] = {n: round(float(v), 6) for n, v in zip(m.labels.names, p)}
    for record in records:
        record["models"] = {m.key: {"name": m.name, "revision": m.revision} for m in models}
    return records


def csv_row(record: dict, models: list[LoadedModel]) -> list:
    row = [record["article_id"], record["position"], record["text"], record["source"]]
    for m in models:
        label = record[m.key]
        row.append(";".join(label) if isinstance(label, list) else label)
        row += [record[f"{m.key}_probabilities"][n] for n in m.labels.names]
    return row


def csv_header(models: list[LoadedModel]) -> list[str]:
    header = ["article_id", "position", "text", "source"]
    for m in models:
        header += [m.key] + [f"{m.key}_p_{n}" for n in m.labels.names]
    return header


class Output:
    """OUT.partial + OUT.partial.progress; finished by `close()`, which renames into place."""

    def __init__(self, target: Path, fmt: str, models: list[LoadedModel], state: dict, resume: bool, overwrite: bool):
        self.target, self.fmt, self.models = target, fmt, models
        self.partial = target.with_name(target.name + ".partial")
        self.progress = target.with_name(target.name + ".partial.progress")
        # Label Studio takes the tasks; the summaries stay JSONL, the records' own format until close().
        suffix = ".jsonl" if fmt == "label-studio" else target.suffix
        self.summary_target = target.with_name(f"{target.stem}.articles{suffix}")
        if target.exists() and not overwrite:
            raise UserError(f"{target}: already exists; pass --overwrite to replace it")
        self.done = self._open(state, resume)

    def _open(self, state: dict, resume: bool) -> int:
        if self.partial.exists() and not resume:
            raise UserError(f"{self.partial}: an interrupted run left this; pass --resume to continue it, or delete it")
        if resume and self.partial.exists() and self.progress.exists():
            lines = self.progress.read_text(encoding="utf-8").splitlines()
            saved = json.loads(lines[0])
            if saved != state:
                raise UserError(f"{self.partial}: --resume with other inputs, models or options than the interrupted "
                                "run; rerun with the same command, or delete the .partial files")
            records, size = (0, 0) if len(lines) == 1 else (int(x) for x in lines[-1].split())
            with self.partial.open("r+b") as handle:
                handle.truncate(size)
            self.handle = self.partial.open("a", encoding="utf-8", newline="")
            return records
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.partial.open("w", encoding="utf-8", newline="")
        if self.fmt == "csv":
            csv.writer(self.handle).writerow(csv_header(self.models))
        self.handle.flush()
        self.progress.write_text(json.dumps(state, sort_keys=True) + "\n0 %d\n" % self.handle.tell(), encoding="utf-8")
        return 0

    def write(self, records: list[dict]) -> None:
        if self.fmt == "csv":
            writer = csv.writer(self.handle)
            for record in records:
                writer.writerow(csv_row(record, self.models))
        else:
            for record in records:
                self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.done += len(records)
        with self.progress.open("a", encoding="utf-8") as log:
            log.write(f"{self.done} {self.handle.tell()}\n")

    def close(self) -> tuple[Path, Path]:
        self.handle.close()
        summary_partial = self.summary_target.with_name(self.summary_target.name + ".partial")
        write_summaries(self.partial, summary_partial, self.fmt, self.models)
        summary_partial.replace(self.summary_target)
        if self.fmt == "label-studio":  # records stream as JSONL (resumable); the task array is built once, at the end
            from train.data.interchange import write_label_studio_predictions

            write_label_studio_predictions(self.partial, self.target)
            self.partial.unlink()
        else:
            self.partial.replace(self.target)
        self.progress.unlink(missing_ok=True)
        return self.target, self.summary_target

    def abandon(self) -> None:
        """A clean stop on bad input: nothing is left behind."""
        self.handle.close()
        for path in (self.partial, self.progress):
            path.unlink(missing_ok=True)


def _read_labels(path: Path, fmt: str, models: list[LoadedModel]):
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle) if fmt == "csv" else (json.loads(line) for line in handle)
        for row in rows:
            labels = {}
            for m in models:
                value = row[m.key]
                labels[m.key] = value.split(";") if fmt == "csv" and m.labels.is_multi_label else value
            yield row["article_id"], row["source"], labels


def _article_summary(article_id, source, labels_seen: list[dict], models: list[LoadedModel]) -> dict:
    summary = {"article_id": article_id, "source": source, "paragraphs": len(labels_seen)}
    for m in models:
        counts = dict.fromkeys(list(m.labels.names) + ([EMPTY_MULTI_LABEL] if m.labels.is_multi_label else []), 0)
        for labels in labels_seen:
            for name in (labels[m.key] if isinstance(labels[m.key], list) else [labels[m.key]]):
                counts[name] += 1
        shares = {n: round(c / len(labels_seen), 6) for n, c in counts.items()}
        framed = {n: c for n, c in counts.items() if n != EMPTY_MULTI_LABEL and c > 0}
        summary[f"{m.key}_shares"] = shares
        summary[f"{m.key}_dominant"] = max(framed, key=framed.get) if framed else EMPTY_MULTI_LABEL
    return summary


def write_summaries(records_path: Path, out_path: Path, fmt: str, models: list[LoadedModel]) -> None:
    """One summary per article, streaming: articles are contiguous in the records."""
    with out_path.open("w", encoding="utf-8", newline="") as out:
        writer = None
        current, source, seen = None, None, []

        def flush():
            nonlocal writer
            if not seen:
                return
            summary = _article_summary(current, source, seen, models)
            if fmt == "csv":
                flat = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in summary.items()}
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(flat))
                    writer.writeheader()
                writer.writerow(flat)
            else:
                out.write(json.dumps(summary, ensure_ascii=False) + "\n")

        for article_id, src, labels in _read_labels(records_path, fmt, models):
            if article_id != current:
                flush()
                current, source, seen = article_id, src, []
            seen.append(labels)
        flush()


@dataclass
class PredictOptions:
    output: Path
    fmt: str = "jsonl"
    text_field: str = "text"
    id_field: str | None = None
    batch_size: int = 16  # sorted buffers leave little padding; on CPU, small batches measured fastest
    buffer: int = 1024
    shard: tuple[int, int] | None = None
    resume: bool = False
    overwrite: bool = False
    on_error: str = "stop"
    backend: str = "torch"
    threads: int | None = None
    no_sort: bool = False
    progress: bool = True


def run_predict(paths: list[str], options: PredictOptions) -> tuple[Path, Path]:
    """Leading run directories are models; the rest are inputs. Returns (records file, article summaries)."""
    import torch

    from train.data.articles import list_inputs

    runs = [Path(p) for p in paths if is_run_dir(p)]
    inputs = [p for p in paths if not is_run_dir(p)]
    if not runs:
        raise UserError("give at least one run directory (with labels.json and config.json) before the inputs")
    if not inputs:
        raise UserError("give at least one input: .txt files or folders, .jsonl, .csv or .html")
    if options.fmt not in {"jsonl", "csv", "label-studio"}:
        raise UserError(f"--format {options.fmt!r}: use jsonl, csv or label-studio")
    torch.set_num_threads(options.threads or os.cpu_count() or 1)
    files = list_inputs(inputs)
    models: list[LoadedModel] = []
    for run in runs:
        models.append(load_model(run, options.backend, {m.key for m in models}))
    state = {"inputs": [str(f) for f in files], "models": [[str(m.run_dir), m.revision] for m in models],
             "shard": options.shard, "buffer": options.buffer, "batch_size": options.batch_size,
             "backend": options.backend, "format": options.fmt, "text_field": options.text_field,
             "id_field": options.id_field, "sorted": not options.no_sort}
    out = Output(options.output, options.fmt, models, state, options.resume, options.overwrite)
    problems: list[str] = []
    bar = tqdm(unit="para", desc="Predicting", initial=out.done, disable=not options.progress, dynamic_ncols=True)
    try:
        stream = paragraph_stream(files, options, problems)
        for _ in range(out.done):  # already written by the interrupted run
            next(stream)
        buffer = []
        for paragraph in stream:
            buffer.append(paragraph)
            if len(buffer) == options.buffer:
                out.write(score_buffer(models, buffer, options))
                bar.update(len(buffer))
                buffer = []
        if buffer:
            out.write(score_buffer(models, buffer, options))
            bar.update(len(buffer))
    except UserError:
        bar.close()
        out.abandon()
        raise
    bar.close()
    if out.done == 0:
        out.abandon()
        shard = f" in shard {options.shard[0]}/{options.shard[1]}" if options.shard else ""
        raise UserError("no paragraphs to predict" + shard)
    records, summaries = out.close()
    print(f"{out.done} paragraphs -> {records}; article summaries -> {summaries}"
          + (f"; {len(problems)} input(s) skipped" if problems else ""))
    return records, summaries


def merge_outputs(parts: list[str], target: str) -> Path:
    """Concatenate shard outputs (JSONL as is, CSV keeping one header); shards hold whole articles."""
    target_path = Path(target)
    if any(part.endswith(".json") for part in parts):  # JSON arrays do not concatenate
        raise UserError("merge combines .jsonl/.csv parts; import each Label Studio .json part into the project")
    partial = target_path.with_name(target_path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as out:
        for i, part in enumerate(parts):
            with open(part, encoding="utf-8", newline="") as handle:
                header = handle.readline() if part.endswith(".csv") else ""
                if header and i == 0:
                    out.write(header)
                for line in handle:
                    out.write(line)
    partial.replace(target_path)
    return target_path
