"""Read labelled paragraphs (JSONL/CSV), validate every row, split grouped by article and stratified by label.

Knows nothing about models or training. Every problem names file, line and field.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict
from sklearn.model_selection import StratifiedGroupKFold

from train.errors import DataError, UserError
from train.labels import LabelSet


@dataclass(frozen=True)
class Row:
    """One validated paragraph with where it came from."""

    line: int
    record: dict


def normalise_text(text: str) -> str:
    """Whitespace-folded, case-folded text: what counts as the same paragraph.

    Only for comparing texts: records keep their text exactly as read. Texts with control characters or over
    MAX_TEXT_CHARS never get this far (`text_problem`): they are refused, not cleaned.
    """
    return re.sub(r"\s+", " ", text).strip().casefold()


# No paragraph is this long; a missing line break or an unclosed CSV quote is. Training keeps model.max_length
# tokens anyway, so the limit only catches broken files.
MAX_TEXT_CHARS = 100_000
# C0 controls but tab, line feed and carriage return; DEL; C1 controls (latin-1 mojibake of cp1252 text).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def text_problem(text: str, field: str = "text") -> str | None:
    """Why a paragraph text is refused, or None. Control characters (NUL from a UTF-16 or binary file, ESC from
    a terminal capture) are refused rather than stripped, so a record's text always matches its source file."""
    if len(text) > MAX_TEXT_CHARS:
        return (f"field {field!r} is {len(text):,} characters long; a paragraph may have at most {MAX_TEXT_CHARS:,} "
                "(a missing line break or an unclosed quote?)")
    bad = _CONTROL.search(text)
    if bad:
        return (f"field {field!r} has the control character U+{ord(bad.group()):04X} at character {bad.start() + 1}; "
                "remove it (control characters are refused, not stripped)")
    return None


def label_problem(field: str, value, names) -> str:
    """`field 'frame' has ' Humanitarian ', not one of ...; did you mean 'humanitarian'?`: labels match exactly."""
    message = f"field {field!r} has {value!r}, not one of {', '.join(names)}"
    if isinstance(value, str):
        key = re.sub(r"[\s-]+", "_", value.strip().casefold())
        close = [name for name in names if name.casefold() == key]
        if close:
            message += f"; did you mean {close[0]!r}? (labels must match exactly: case and spaces count)"
    return message


def _read_jsonl(path: Path, problems: list[str]) -> list[Row]:
    rows: list[Row] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: not valid JSON ({exc.msg}, column {exc.colno})")
                continue
            if not isinstance(record, dict):
                problems.append(f"line {number}: expected a JSON object, got {type(record).__name__}")
                continue
            rows.append(Row(number, record))
    return rows


def _read_csv(path: Path, problems: list[str]) -> list[Row]:
    rows: list[Row] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            if not reader.fieldnames:
                return rows
            for record in reader:
                if None in record:
                    problems.append(f"line {reader.line_num}: more cells than the header has columns")
                    continue
                if None in record.values():
                    problems.append(f"line {reader.line_num}: fewer cells than the header has columns "
                                    "(a truncated line?)")
                    continue
                rows.append(Row(reader.line_num, dict(record)))
        except csv.Error as exc:  # the reader cannot go on; line_num still counts the last good record
            line = reader.line_num + 1
            if "field larger than field limit" in str(exc):
                problems.append(f"line {line}: a cell is over {csv.field_size_limit():,} characters; a "
                                f"paragraph may have at most {MAX_TEXT_CHARS:,} (an unclosed quote?)")
            else:
                problems.append(f"line {line}: not valid CSV ({exc})")
    return rows


def _csv_list(value):
    """A multi-label cell in CSV: a JSON list, or names separated by `;` or `|`."""
    if isinstance(value, list):
        return value
    text = (value or "").strip()
    if text.startswith("["):
        return json.loads(text)
    return [part.strip() for part in re.split(r"[;|]", text) if part.strip()]


def _first_undecodable_line(path: Path) -> tuple[int, int]:
    """(line number, file byte offset) of the first byte that is not UTF-8; the decoder only knows its buffer."""
    offset = number = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, offset + exc.start
            offset += len(raw)
    return number, offset


def read_rows(path: str | Path) -> list[Row]:
    """Parse a JSONL or CSV file into rows; syntax problems are collected, not raised one by one."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    problems: list[str] = []
    suffix = path.suffix.lower()
    try:
        if suffix in {".jsonl", ".json", ".ndjson"}:
            rows = _read_jsonl(path, problems)
        elif suffix in {".csv"}:
            rows = _read_csv(path, problems)
        else:
            raise UserError(f"{path}: unsupported data format {suffix!r}; use .jsonl or .csv")
    except UnicodeDecodeError:
        line, offset = _first_undecodable_line(path)
        raise UserError(f"{path}: line {line}: not UTF-8 text (byte offset {offset}); re-save the file as UTF-8") from None
    if problems:
        raise DataError(str(path), problems)
    if not rows:
        raise UserError(f"{path}: no rows; the file is empty")
    return rows


def validate_rows(path: str | Path, rows: list[Row], labels: LabelSet, *, text_field: str = "text",
                  id_field: str = "id", group_field: str = "article_id") -> list[dict]:
    """Check every row against the schema and the label set; return clean records or raise one DataError."""
    problems: list[str] = []
    seen_ids: dict[str, int] = {}
    seen_texts: dict[str, tuple[int, object]] = {}
    clean: list[dict] = []
    is_csv = str(path).lower().endswith(".csv")
    for row in rows:
        record, where = row.record, f"line {row.line}"
        missing = [f for f in (id_field, group_field, text_field, labels.field) if f not in record]
        for field in missing:
            problems.append(f"{where}: missing field {field!r}")
        if missing:
            continue
        text = record[text_field]
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}: field {text_field!r} is empty")
            continue
        bad_text = text_problem(text, text_field)
        bad_keys = [f for f in (id_field, group_field) if isinstance(record[f], bool)
                    or not isinstance(record[f], (str, int)) or not str(record[f]).strip()]
        problems += [f"{where}: field {f!r} must be a non-empty string or integer, got {record[f]!r}" for f in bad_keys]
        if bad_text:
            problems.append(f"{where}: {bad_text}")
        if bad_text or bad_keys:
            continue
        gold = record[labels.field]
        if labels.is_multi_label:
            try:
                gold = _csv_list(gold) if is_csv else gold
            except json.JSONDecodeError:
                gold = None
            if not isinstance(gold, list) or not all(isinstance(g, str) for g in gold):
                problems.append(f"{where}: field {labels.field!r} must be a list of label names")
                continue
            unknown = [g for g in gold if g not in labels.names]
            gold = sorted(set(gold), key=labels.names.index) if not unknown else gold
        else:
            unknown = [] if gold in labels.names else [gold]
        for value in unknown:
            problems.append(f"{where}: {label_problem(labels.field, value, labels.names)}")
        if unknown:
            continue
        pid = str(record[id_field])
        if pid in seen_ids:
            problems.append(f"{where}: field {id_field!r} duplicates id {pid!r} first seen on line {seen_ids[pid]}")
            continue
        seen_ids[pid] = row.line
        key = normalise_text(text)
        if key in seen_texts and seen_texts[key][1] != gold:
            first_line, first_gold = seen_texts[key]
            problems.append(
                f"{where}: field {text_field!r} repeats the text of line {first_line} "
                f"under another label ({gold!r} vs {first_gold!r})"
            )
            continue
        seen_texts.setdefault(key, (row.line, gold))
        clean.append({**record, id_field: pid, group_field: str(record[group_field]), labels.field: gold})
    if problems:
        raise DataError(str(path), problems)
    return clean


def load_records(path: str | Path, labels: LabelSet, **fields) -> list[dict]:
    return validate_rows(path, read_rows(path), labels, **fields)


# Rows without provenance are the project's own written text unless they say otherwise.
PROVENANCE_DEFAULTS = {"origin": "written", "source": "written", "licence": "unspecified"}


def load_corpus(paths: str | list[str], labels: LabelSet, licences: list[str] | None = None, *,
                id_field: str = "id", **fields) -> list[dict]:
    """Every file's validated rows together, with provenance filled in, filtered to the listed licences."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    records: list[dict] = []
    first_file: dict[str, str] = {}
    problems = []
    for path in paths:
        for record in load_records(path, labels, id_field=id_field, **fields):
            pid = record[id_field]
            if pid in first_file:
                problems.append(f"{path}: id {pid!r} is also in {first_file[pid]}")
                continue
            first_file[pid] = str(path)
            records.append({**PROVENANCE_DEFAULTS, **record})
    if problems:
        raise DataError(", ".join(map(str, paths)), problems)
    if licences is None:
        return records
    kept = [r for r in records if r["licence"] in licences]
    if not kept:
        found = sorted({r["licence"] for r in records})
        raise UserError(f"data.licences {licences} keeps no row of {', '.join(map(str, paths))}; "
                        f"the rows carry: {', '.join(found)}")
    return kept


def label_strata(records: list[dict], labels: LabelSet) -> list[str]:
    if labels.is_multi_label:
        return ["+".join(r[labels.field]) or "<empty>" for r in records]
    return [r[labels.field] for r in records]


def grouped_kfold(strata: list[str], groups: list[str], n_splits: int, seed: int):
    """(kept, held-out) row indices per fold: stratified by label, whole groups only, deterministic for a seed."""
    if len(set(groups)) < n_splits:
        raise UserError(f"only {len(set(groups))} articles: too few for {n_splits} grouped folds; add data")
    largest = max(Counter(strata).values(), default=0)
    if largest < n_splits:  # sklearn would raise a bare ValueError
        raise UserError(f"no label has {n_splits} paragraphs (at most {largest}): too few for {n_splits} grouped "
                        "folds; add data or give split files")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # Rare classes with fewer members than folds only warn; the folds stay grouped and valid.
        warnings.simplefilter("ignore", UserWarning)
        for keep, out in splitter.split(np.zeros(len(strata)), strata, groups):
            yield np.sort(keep), np.sort(out)


def grouped_split(strata: list[str], groups: list[str], held_out: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold out about `held_out` of the rows as whole groups, balancing label shares. Deterministic for a seed."""
    n_splits = max(2, int(round(1.0 / held_out)))
    if len(set(groups)) < n_splits:
        raise UserError(
            f"only {len(set(groups))} articles: too few to hold out {held_out:.0%} of them; add data or give split files"
        )
    return next(grouped_kfold(strata, groups, n_splits, seed))


def split_records(records: list[dict], labels: LabelSet, *, validation_size: float, test_size: float,
                  seed: int, group_field: str = "article_id") -> dict[str, list[dict]]:
    """train/validation/test with no article in two splits."""
    groups = [r[group_field] for r in records]
    rest_idx, test_idx = grouped_split(label_strata(records, labels), groups, test_size, seed)
    rest = [records[i] for i in rest_idx]
    share = validation_size / (1.0 - test_size)
    return {**split_train_validation(rest, labels, share, seed + 1, group_field),
            "test": [records[i] for i in test_idx]}


def split_train_validation(records: list[dict], labels: LabelSet, validation_share: float, seed: int,
                           group_field: str = "article_id") -> dict[str, list[dict]]:
    train_idx, val_idx = grouped_split(label_strata(records, labels), [r[group_field] for r in records],
                                       validation_share, seed)
    return {"train": [records[i] for i in train_idx], "validation": [records[i] for i in val_idx]}


def split_by_conflict(records: list[dict], labels: LabelSet, *, test_conflicts: list[str], conflict_field: str,
                      validation_size: float, seed: int, group_field: str = "article_id") -> dict[str, list[dict]]:
    """Cross-domain: the named conflicts are the test split; train/validation come from every other conflict."""
    missing = [i for i, r in enumerate(records) if conflict_field not in r]
    if missing:
        raise UserError(f"data.test_conflicts needs the field {conflict_field!r} on every row; "
                        f"{len(missing)} row(s) lack it")
    known = sorted({r[conflict_field] for r in records})
    unknown = [c for c in test_conflicts if c not in known]
    if unknown:
        raise UserError(f"data.test_conflicts: {unknown} not in the data; known conflicts: {', '.join(known)}")
    wanted = set(test_conflicts)
    rest = [r for r in records if r[conflict_field] not in wanted]
    test = [r for r in records if r[conflict_field] in wanted]
    return {**split_train_validation(rest, labels, validation_size, seed, group_field), "test": test}


def read_article_list(path: str | Path) -> set[str]:
    """Article ids, one a line; blank lines and `#` comments are skipped."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found (data.test_articles)")
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line}


def split_with_real_test(records: list[dict], labels: LabelSet, data_cfg, seed: int) -> dict[str, list[dict]]:
    """`test`: the listed real articles, held out once; `test_written`: the written rows' own test split, the same
    one a written-only run gets; train and validation take the rest of both, each split grouped by article."""
    held = read_article_list(data_cfg.test_articles)
    group = data_cfg.group_field
    rest = [r for r in records if r[group] not in held]
    written = [r for r in rest if r["origin"] != "real"]
    real = [r for r in rest if r["origin"] == "real"]
    splits = {"train": [], "validation": [], "test": [r for r in records if r[group] in held], "test_written": []}
    if written:
        w = split_records(written, labels, validation_size=data_cfg.validation_size, test_size=data_cfg.test_size,
                          seed=seed, group_field=group)
        splits.update(train=w["train"], validation=w["validation"], test_written=w["test"])
    if real:
        r = split_train_validation(real, labels, data_cfg.validation_size, seed + 2, group)
        splits["train"] += r["train"]
        splits["validation"] += r["validation"]
    if not splits["test"]:  # the licence filter (or the data) left no held-out real article: report on written text
        splits["test"] = splits.pop("test_written")
    elif not splits["test_written"]:
        del splits["test_written"]
    return splits


def _check_disjoint(splits: dict[str, list[dict]], field: str, what: str) -> None:
    owner: dict[str, str] = {}
    problems = []
    for name, rows in splits.items():
        for value in {r[field] for r in rows}:
            if value in owner and owner[value] != name:
                problems.append(f"{what} {value!r} is in both {owner[value]} and {name}")
            owner.setdefault(value, name)
    if problems:
        raise DataError("split files", problems)


def load_splits(data_cfg, labels: LabelSet, seed: int) -> DatasetDict:
    """The three splits as a DatasetDict, from split files or by a grouped stratified split of one file."""
    if data_cfg.train_file:
        files = {"train": data_cfg.train_file, "validation": data_cfg.validation_file, "test": data_cfg.test_file}
        splits = {name: load_corpus(path, labels, data_cfg.licences, **data_cfg.fields)
                  for name, path in files.items()}
        _check_disjoint(splits, data_cfg.id_field, "id")
        _check_disjoint(splits, data_cfg.group_field, "article")
    else:
        records = load_corpus(data_cfg.path, labels, data_cfg.licences, **data_cfg.fields)
        if data_cfg.test_articles:
            splits = split_with_real_test(records, labels, data_cfg, seed)
        elif data_cfg.test_conflicts:
            splits = split_by_conflict(records, labels, test_conflicts=data_cfg.test_conflicts,
                                       conflict_field=data_cfg.conflict_field, validation_size=data_cfg.validation_size,
                                       seed=seed, group_field=data_cfg.group_field)
        else:
            splits = split_records(records, labels, validation_size=data_cfg.validation_size,
                                   test_size=data_cfg.test_size, seed=seed, group_field=data_cfg.group_field)
    if data_cfg.max_examples:
        splits["train"] = splits["train"][: data_cfg.max_examples]
    return to_datasets(splits, data_cfg, labels)


# Carried along when every row has them: error analysis breaks results down by these.
METADATA_FIELDS = ("conflict", "source_type", *PROVENANCE_DEFAULTS)


def to_datasets(splits: dict[str, list[dict]], data_cfg, labels: LabelSet) -> DatasetDict:
    keep = [data_cfg.id_field, data_cfg.group_field, data_cfg.text_field, labels.field]
    every_row = [r for rows in splits.values() for r in rows]
    keep += [f for f in (data_cfg.conflict_field, *METADATA_FIELDS)
             if f not in keep and every_row and all(isinstance(r.get(f), str) for r in every_row)]
    out = DatasetDict({
        name: Dataset.from_list([{k: r[k] for k in keep} for r in rows]) for name, rows in splits.items()
    })
    if data_cfg.weights:
        out["train"] = out["train"].add_column(ROW_WEIGHT, row_weights(splits["train"], data_cfg.weights))
    return out


ROW_WEIGHT = "row_weight"


def row_weights(rows: list[dict], weights: dict[str, float]) -> list[float]:
    """Each row's loss weight by its source, else its origin, else 1; scaled to mean 1 so the learning rate keeps
    its meaning."""
    raw = [weights.get(r.get("source"), weights.get(r.get("origin", "written"), 1.0)) for r in rows]
    mean = sum(raw) / len(raw) if raw else 1.0
    if mean <= 0:
        raise UserError("data.weights gives every training row weight 0; nothing would be learnt")
    return [w / mean for w in raw]
