"""Label Studio and doccano interchange: their exports -> our JSONL, our predictions -> their pre-annotations.

Knows nothing about models. Every label is checked against the codebook; every item that is skipped, or kept
with something left out, is named (task id or line) in the import report. Outputs appear only when complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from train.data.labelmap import MULTI_FIELDS, Mapping, UnknownLabel, load_mapping
from train.errors import DataError, UserError
from train.labels import CODEBOOK_LABELS, EMPTY_MULTI_LABEL

FORMATS = ("label-studio", "doccano")
META_FIELDS = ("conflict", "actor", "source_type", "date", "tags")
# The Text object our labelling config declares; predictions point their results at it.
TEXT_OBJECT = "text"


@dataclass
class _Item:
    """One task or line of an export, parsed but not yet judged."""

    where: str                                   # "task 12" / "line 3": how the report names it
    data: dict                                   # text, ids and metadata as the tool holds them
    tool_id: object
    trusted_id: bool                             # data["id"] is ours (Label Studio's `data`), not the tool's
    annotations: list[dict[str, list[str]]] = field(default_factory=list)  # our field -> our labels
    ground_truth: int | None = None
    problems: list[str] = field(default_factory=list)                     # any one skips the item
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    source: Path
    output: Path
    items: int = 0
    written: int = 0
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)      # items kept with something left out
    ignored: list[str] = field(default_factory=list)    # the export's controls that hold none of our labels

    def format(self) -> str:
        lines = [f"Imported {self.written} of {self.items} item(s) from {self.source} -> {self.output}"]
        for title, entries in (("skipped", self.skipped), ("kept, with a note", self.notes),
                               ("ignored", self.ignored)):
            if entries:
                lines.append(f"{len(entries)} {title}:")
                lines += [f"  - {entry}" for entry in entries]
        return "\n".join(lines)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); re-export it from Label Studio") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg}); export the project from "
                        "Label Studio as JSON (or JSON-MIN)") from None


def _add_choices(item: _Item, labels: dict[str, list[str]], control: str, choices, mapping: Mapping,
                 unmapped: set[str]) -> None:
    target = mapping.field_of(control)
    if target is None:
        unmapped.add(control)  # other controls (comments, quality flags) are allowed; reported once
        return
    for raw in [choices] if isinstance(choices, str) else choices if isinstance(choices, list) else []:
        try:
            ours, label = mapping.resolve(str(raw), target)
        except UnknownLabel as exc:
            item.problems.append(f"{control}: {exc}")
            continue
        labels.setdefault(ours, []).append(label)


def _label_studio_items(tasks: list, mapping: Mapping, unmapped: set[str]) -> Iterator[_Item]:
    """Full JSON export: tasks with `data` and `annotations`. JSON-MIN: one flat dict per annotation."""
    minimal: dict[object, _Item] = {}
    for index, task in enumerate(tasks):
        if not isinstance(task, dict):
            yield _Item(f"item {index}", {}, index, False, problems=["not a JSON object"])
            continue
        if not {"data", "annotations", "completions"} & set(task):  # JSON-MIN: one row per annotation
            tool_id = task.get("id", index)
            item = minimal.get(tool_id)
            if item is None:
                item = minimal[tool_id] = _Item(f"task {tool_id}", task, tool_id, False)
                yield item
            labels: dict[str, list[str]] = {}
            for key, value in task.items():
                if mapping.field_of(key):
                    choices = value.get("choices", []) if isinstance(value, dict) else value
                    _add_choices(item, labels, key, choices, mapping, unmapped)
            item.annotations.append(labels)
            continue
        tool_id = task.get("id", index)
        data = task.get("data") if isinstance(task.get("data"), dict) else {}
        item = _Item(f"task {tool_id}", data, tool_id, True)
        # Label Studio before 1.0 called annotations "completions".
        for annotation in task.get("annotations") or task.get("completions") or []:
            if not isinstance(annotation, dict):
                continue
            name = annotation.get("id", "?")
            if annotation.get("was_cancelled"):
                item.notes.append(f"annotation {name} was cancelled (skipped)")
                continue
            labels = {}
            for result in annotation.get("result") or []:
                value = result.get("value") if isinstance(result, dict) else None
                if isinstance(value, dict) and result.get("type") == "choices":
                    _add_choices(item, labels, str(result.get("from_name")), value.get("choices", []),
                                 mapping, unmapped)
            if annotation.get("ground_truth") and item.ground_truth is None:
                item.ground_truth = len(item.annotations)
            item.annotations.append(labels)
        yield item


def _doccano_items(path: Path, mapping: Mapping) -> Iterator[_Item]:
    """Text-classification JSONL: `label` (older exports: `labels`, `cats`), metadata flat or under `meta`."""
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}: line {number}: not valid JSON ({exc.msg}); export the project from "
                                "doccano as JSONL") from None
            if not isinstance(record, dict):
                yield _Item(f"line {number}", {}, number, False, problems=["not a JSON object"])
                continue
            data = {**(record.get("meta") if isinstance(record.get("meta"), dict) else {}), **record}
            if mapping.text not in data and isinstance(data.get("data"), str):
                data[mapping.text] = data["data"]
            # doccano numbers its examples with ints; a string id came from our own file through `meta`.
            item = _Item(f"line {number}", data, record.get("id", number), isinstance(record.get("id"), str))
            raw = next((record[k] for k in ("label", "labels", "cats") if k in record), [])
            raw = [k for k, v in raw.items() if v and v >= 0.5] if isinstance(raw, dict) else raw
            raw = [raw] if isinstance(raw, str) else raw
            if any(not isinstance(r, str) for r in raw):
                item.problems.append("labels are spans or ids, not category names: export a text-classification "
                                     "project as JSONL")
                raw = []
            labels: dict[str, list[str]] = {}
            for name in raw:
                try:
                    ours, label = mapping.resolve(name)
                except UnknownLabel as exc:
                    item.problems.append(str(exc))
                    continue
                labels.setdefault(ours, []).append(label)
            item.annotations.append(labels)
            yield item


def _identity(item: _Item, prefix: str) -> tuple[str, str, int]:
    """(id, article_id, position): ours when the tool kept them, else derived from the tool's id (stable)."""
    data = item.data
    position = data.get("position", 0)
    position = int(position) if str(position).isdigit() else 0
    if data.get("paragraph_id") not in (None, ""):
        pid = str(data["paragraph_id"])
    elif data.get("id") not in (None, "") and (item.trusted_id or isinstance(data.get("id"), str)):
        pid = str(data["id"])
    elif data.get("article_id") not in (None, "") and "position" in data:
        pid = f"{data['article_id']}-p{position:02d}"  # the corpus's own id convention
    else:
        pid = f"{prefix}-{item.tool_id}"
    return pid, str(data.get("article_id") or pid), position


def _judge(item: _Item, used: set[str]) -> dict[str, object] | None:
    """Our labels for one item, or None (with item.problems saying why)."""
    chosen = [a for a in item.annotations if a]
    if item.problems:
        return None
    if not item.annotations:
        item.problems.append("not annotated" + (" (only cancelled annotations)" if item.notes else ""))
    elif not chosen:
        item.problems.append("no choices made")
    if item.problems:
        return None
    for labels in chosen:  # an empty multi-choice leaves no result in the export: it means "none of these"
        for name in MULTI_FIELDS:
            if name in used:
                labels.setdefault(name, [])
    if item.ground_truth is not None and item.annotations[item.ground_truth]:
        labels = item.annotations[item.ground_truth]
    elif all(_canonical(a) == _canonical(chosen[0]) for a in chosen):
        labels = chosen[0]
    else:
        differ = sorted({k for a in chosen for k in a if any(_canonical(b).get(k) != _canonical(a).get(k)
                                                             for b in chosen)})
        item.problems.append(f"{len(chosen)} annotations disagree on {', '.join(differ)}; resolve it in "
                             "Label Studio or mark one as ground truth")
        return None
    result: dict[str, object] = {}
    for name, values in labels.items():
        values = list(dict.fromkeys(values))
        if name in MULTI_FIELDS:
            result[name] = [n for n in CODEBOOK_LABELS[name] if n in values]
        elif len(values) != 1:
            item.problems.append(f"{len(values)} choices ({', '.join(values)}) for the single-label field {name!r}")
        else:
            result[name] = values[0]
    return None if item.problems else _complete_frames(item, result)


def _canonical(labels: dict[str, list[str]]) -> dict[str, tuple]:
    return {k: tuple(sorted(set(v))) for k, v in labels.items()}


def _complete_frames(item: _Item, labels: dict) -> dict | None:
    """Codebook: `frame` is none exactly when `frames` is empty, else one of `frames`."""
    frame, frames = labels.get("frame"), labels.get("frames")
    if frames is None:  # the project has no frames control: nothing to check or derive
        return labels
    if frame is None:
        if len(frames) <= 1:
            labels["frame"] = frames[0] if frames else "none"
        else:
            item.notes.append(f"no primary frame: frames has {', '.join(frames)}, so `frame` cannot be derived "
                              "and is left out; add the primary `frame` choice")
    elif (frame == "none") != (not frames) or (frame != "none" and frame not in frames):
        item.problems.append(f"frame {frame!r} does not agree with frames {frames} (codebook: none exactly when "
                             "frames is empty, else the primary is one of frames)")
        return None
    return labels


def import_export(path: str | Path, fmt: str, output: str | Path, mapping_path: str | Path | None = None,
                  overwrite: bool = False) -> ImportReport:
    """Convert a Label Studio or doccano export into our JSONL; write it atomically; report every problem."""
    path, output = Path(path), Path(output)
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise UserError(f"{path}: export file not found")
    if output.suffix.lower() not in {".jsonl", ".ndjson"}:
        raise UserError(f"{output}: the import writes our JSONL; name the output .jsonl")
    if output.exists() and not overwrite:
        raise UserError(f"{output}: already exists; pass --overwrite to replace it")
    mapping = load_mapping(mapping_path)
    unmapped: set[str] = set()
    if fmt == "label-studio":
        tasks = _read_json(path)
        tasks = [tasks] if isinstance(tasks, dict) else tasks
        if not isinstance(tasks, list):
            raise UserError(f"{path}: expected a JSON array of tasks; export the project as JSON (or JSON-MIN)")
        items, prefix = list(_label_studio_items(tasks, mapping, unmapped)), "ls-task"
    else:
        try:
            items, prefix = list(_doccano_items(path, mapping)), "doccano"
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); re-export it from doccano") from None
    used = {name for item in items for labels in item.annotations for name in labels}
    report = ImportReport(source=path, output=output, items=len(items))
    records, seen = [], {}
    for item in items:
        labels = _judge(item, used)
        pid, article_id, position = _identity(item, prefix)
        text = item.data.get(mapping.text)
        if labels is not None and (not isinstance(text, str) or not text.strip()):
            item.problems.append(f"missing text (no {mapping.text!r} in the data)")
        if labels is not None and pid in seen:
            item.problems.append(f"id {pid!r} repeats {seen[pid]}")
        if item.problems:
            report.skipped.append(f"{item.where}: " + "; ".join(item.problems))
            continue
        seen[pid] = item.where
        report.notes += [f"{item.where}: {note}" for note in item.notes]
        meta = {k: item.data[k] for k in META_FIELDS if k in item.data}
        records.append({"id": pid, "article_id": article_id, "position": position, "text": text,
                        **{k: labels[k] for k in CODEBOOK_LABELS if k in labels}, **meta})
    report.ignored += [f"control {name!r} is not mapped to any field: its choices were ignored (map it under "
                     "`fields:` if it holds our labels)" for name in sorted(unmapped)]
    if not records:
        raise DataError(str(path), report.skipped or ["no tasks in the export"])
    with atomic_output(output) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    report.written = len(records)
    return report


@contextmanager
def atomic_output(path: Path):
    """A text handle on a temporary sibling that replaces `path` only when the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def paragraph_id(record: dict) -> str:
    """Predictions carry article and position only; the corpus names paragraphs <article>-p<position>."""
    return record.get("id") or f"{record['article_id']}-p{int(record['position']):02d}"


def _confidence(label, probabilities: dict) -> float:
    if isinstance(label, list):  # multi-label: how sure each yes/no decision is, averaged
        return sum(max(p, 1 - p) for p in probabilities.values()) / max(1, len(probabilities))
    return float(probabilities[label])


def label_studio_task(record: dict, extra: Iterable[str] = ()) -> dict:
    """One prediction record -> a Label Studio task whose `predictions` pre-fill frame/frames/stance."""
    data = {"id": paragraph_id(record), "article_id": record["article_id"], "position": record["position"],
            "text": record["text"]}
    data.update({k: record[k] for k in ("source", *META_FIELDS, *extra) if k in record})
    results, versions = [], []
    for key, model in (record.get("models") or {}).items():
        label = record[key]
        score = round(_confidence(label, record[f"{key}_probabilities"]), 6)
        choices = [n for n in label if n != EMPTY_MULTI_LABEL] if isinstance(label, list) else [label]
        versions.append(f"{model['name']}@{model['revision']}")
        results.append({"from_name": key, "to_name": TEXT_OBJECT, "type": "choices",
                        "value": {"choices": choices}, "score": score})
    # Label Studio sorts by the prediction score, lowest first: the least sure field puts a task up front.
    prediction = {"model_version": "+".join(versions), "score": min((r["score"] for r in results), default=0.0),
                  "result": [r for r in results if r["value"]["choices"]]}
    return {"data": data, "predictions": [prediction]}


def write_json_array(items: Iterable[dict], path: Path) -> int:
    """Stream dicts into a JSON array, atomically: never a half-written file in place."""
    count = 0
    with atomic_output(path) as handle:
        handle.write("[")
        for item in items:
            handle.write(("," if count else "") + "\n" + json.dumps(item, ensure_ascii=False))
            count += 1
        handle.write("\n]\n")
    return count


def read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def write_label_studio_predictions(records_path: Path, target: Path) -> int:
    """`predict --format label-studio`: the JSONL records of a finished run -> a JSON array of tasks."""
    return write_json_array((label_studio_task(r) for r in read_jsonl(records_path)), target)


def label_studio_config() -> str:
    """A labelling config whose control names match our fields, so exports import with no mapping."""
    blocks = []
    for name, title in (("frame", "Primary frame"), ("frames", "Every frame clearly present"),
                        ("stance", "Stance toward the intervention")):
        kind = "multiple" if name in MULTI_FIELDS else "single-radio"
        choices = "\n".join(f'    <Choice value="{label}"/>' for label in CODEBOOK_LABELS[name])
        required = "" if name in MULTI_FIELDS else ' required="true"'
        blocks.append(f'  <Header value="{title}"/>\n  <Choices name="{name}" toName="{TEXT_OBJECT}" '
                      f'choice="{kind}" showInline="true"{required}>\n{choices}\n  </Choices>')
    return (f'<View>\n  <Text name="{TEXT_OBJECT}" value="$text"/>\n' + "\n".join(blocks) + "\n</View>\n")
