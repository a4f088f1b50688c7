"""New, unlabelled news articles (.txt, .jsonl, .csv, .html) as a stream of paragraphs for `framing predict`.

Knows nothing about models. JSONL/CSV are read a line at a time, never whole. Problems name file and line.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from train.errors import UserError

SUFFIXES = (".txt", ".jsonl", ".csv", ".html", ".htm")
_BOM = b"\xef\xbb\xbf"
# A line ending in one of these closes its sentence: the next line starts a new paragraph.
_CLOSERS = tuple(".!?:”\"')’»…")
# Hard-wrapped text (mail, plain-text wires) is at most this wide; one-paragraph-per-line text is much wider.
_MAX_WRAP_WIDTH = 100
# In hard-wrapped text a line at least this share of the wrap width was broken by the wrapper, not by the author.
_FULL_LINE_SHARE = 0.75
# "KABUL, March 3 (Reuters) -", "WASHINGTON —": a short line starting with a capital and ending in a spaced dash.
_DATELINE = re.compile(r"^[A-Z].*\s[-–—]{1,2}$")
_DATELINE_MAX_WORDS = 8
# Control characters that are not whitespace (NUL, ESC, DEL, C1): removed from new articles, not refused, so a
# stray byte in scraped text cannot stop a corpus run; they carry no text and the tokenizer drops them anyway.
# (Labelled training data refuses them instead: see data.text_problem.)
_CONTROL = re.compile("[" + "".join(re.escape(chr(i)) for i in range(0xA0)
                                    if unicodedata.category(chr(i)) == "Cc" and not chr(i).isspace()) + "]")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a new article, with where it came from so predictions can be traced back."""

    article_id: str
    position: int
    text: str
    source: str


class InputProblem(UserError):
    """An input file that cannot be read as articles; `predict` may skip the file and go on."""

    def __init__(self, path: Path | str, message: str, line: int | None = None):
        self.path, self.line = str(path), line
        where = f"{path}: line {line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")


def list_inputs(paths: list[str]) -> list[Path]:
    """Files in the order given, a folder as its input files (recursive, sorted, hidden ones skipped).

    Other suffixes inside a folder are skipped (folders hold READMEs too); named explicitly they are a mistake.
    """
    if not paths:
        raise UserError(f"no inputs given; name files or folders of {', '.join(SUFFIXES)} articles")
    found: dict[Path, Path] = {}  # resolved -> as given: a file named twice is read once
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not files:
                raise UserError(f"{path}: folder has no {', '.join(SUFFIXES)} files")
        elif path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                raise UserError(f"{path}: unsupported input format {path.suffix or '(no suffix)'!r}; "
                                f"use one of {', '.join(SUFFIXES)}")
            files = [path]
        else:
            raise UserError(f"{path}: no such file or folder")
        for file in files:
            found.setdefault(file.resolve(), file)
    return list(found.values())


def _blocks(text: str) -> list[list[str]]:
    """Runs of non-blank lines, each line with its inner whitespace collapsed; blank lines always separate."""
    chunks = ([" ".join(line.split()) for line in chunk.splitlines()] for chunk in re.split(r"\n\s*\n", text))
    return [[line for line in chunk if line] for chunk in chunks if any(chunk)]


def _is_dateline(line: str) -> bool:
    return bool(_DATELINE.match(line)) and len(line.split()) <= _DATELINE_MAX_WORDS


def _starts_lowercase(line: str) -> bool:
    first = next((c for c in line if c.isalnum()), "")
    return first.islower()


def _continues(prev: str, line: str, wrap_width: int | None) -> bool:
    """Whether `line` only wraps the sentence of `prev`. Datelines and closed sentences never continue; a
    lowercase start or trailing comma is a plain wrap. Hard-wrapped text also joins after a line that filled the
    width (a wrap before a proper noun), while short unpunctuated lines there are headings and stay apart.
    """
    if _is_dateline(prev) or prev.endswith(_CLOSERS):
        return False
    if _starts_lowercase(line) or prev.endswith((",", ";")):
        return True
    return wrap_width is not None and len(prev) >= _FULL_LINE_SHARE * wrap_width


def _wrap_width(blocks: list[list[str]]) -> int | None:
    """The wrap width when the text looks hard-wrapped: narrow lines and at least one clear mid-sentence break."""
    width = max((len(line) for block in blocks for line in block), default=0)
    if width > _MAX_WRAP_WIDTH:
        return None
    wrapped = any(_continues(prev, line, None) for block in blocks for prev, line in zip(block, block[1:]))
    return width if wrapped else None


def _join(paragraph: str, line: str) -> str:
    # "cease-" + "fire" is a compound broken at its hyphen: keep the hyphen, add no space.
    if paragraph.endswith("-") and paragraph[-2:-1].isalpha() and _starts_lowercase(line):
        return paragraph + line
    return f"{paragraph} {line}"


def split_paragraphs(text: str) -> list[str]:
    """Blank lines and single line breaks both separate paragraphs; only wrapped lines rejoin (`_continues`).

    Headings and datelines stay paragraphs of their own, so a classifier never sees "WASHINGTON —" glued on.
    Control characters that are not whitespace are removed first (`_CONTROL`).
    """
    blocks = _blocks(_CONTROL.sub("", text))
    width = _wrap_width(blocks)
    paragraphs: list[str] = []
    for block in blocks:
        current = block[0]
        for prev, line in zip(block, block[1:]):
            if _continues(prev, line, width):
                current = _join(current, line)
            else:
                paragraphs.append(current)
                current = line
        paragraphs.append(current)
    return paragraphs


def _decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text with its line ending) one line at a time, so an error can name its byte offset."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputProblem(path, f"cannot read the file ({exc.strerror or exc})") from None
    offset = 0
    with handle:
        for number, raw in enumerate(handle, start=1):
            skipped = len(_BOM) if number == 1 and raw.startswith(_BOM) else 0
            try:
                yield number, raw[skipped:].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputProblem(path, f"not UTF-8 text (byte offset {offset + skipped + exc.start}); "
                                         f"re-save the file as UTF-8", line=number) from None
            offset += len(raw)


def _read_text(path: Path) -> str:
    """A whole one-article file (.txt/.html): small by nature, read through the same checks as JSONL/CSV."""
    text = "".join(line for _, line in _decoded_lines(path))
    if not text.strip():
        raise InputProblem(path, "the file is empty")
    return text


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict]]:
    for number, line in _decoded_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputProblem(path, f"not valid JSON ({exc.msg}, column {exc.colno})", line=number) from None
        if not isinstance(record, dict):
            raise InputProblem(path, f"expected a JSON object, got {type(record).__name__}", line=number)
        yield number, record


def _csv_records(path: Path) -> Iterator[tuple[int, dict]]:
    reader = csv.DictReader(line for _, line in _decoded_lines(path))
    try:
        for record in reader:
            if None in record:
                raise InputProblem(path, "more cells than the header has columns", line=reader.line_num)
            yield reader.line_num, record
    except csv.Error as exc:
        raise InputProblem(path, f"not valid CSV ({exc})", line=reader.line_num) from None


def _record_text(path: Path, line: int, record: dict, text_field: str) -> str:
    if text_field not in record:
        fields = ", ".join(repr(str(k)) for k in record) or "none"
        raise InputProblem(path, f"no field {text_field!r}; the record has fields: {fields} "
                                 f"(choose the text field with --text-field)", line=line)
    text = record[text_field]
    if text is None and path.suffix.lower() == ".csv":
        raise InputProblem(path, f"no cell for {text_field!r}: fewer cells than the header has columns", line=line)
    if not isinstance(text, str):
        raise InputProblem(path, f"field {text_field!r} is {type(text).__name__}, not a string", line=line)
    return text


def _from_records(path: Path, records: Iterator[tuple[int, dict]], text_field: str,
                  id_field: str | None) -> Iterator[Paragraph]:
    """Consecutive records of one article id continue its positions. An id coming back after another article
    is refused: `predict` summarises contiguous records, so it would count that article twice.
    """
    last_line: dict[str, int] = {}
    current, position, count, produced = None, 0, 0, 0
    for line, record in records:
        count += 1
        value = record.get(id_field) if id_field else None
        article_id = f"{path.stem}:{line}" if value in (None, "") else str(value)
        text = _record_text(path, line, record, text_field)
        if article_id != current:
            if article_id in last_line:
                raise InputProblem(path, f"article {article_id!r} continues after other articles (its last record "
                                         f"is on line {last_line[article_id]}); keep each article's records together",
                                   line=line)
            current, position = article_id, 0
        if value not in (None, ""):
            last_line[article_id] = line
        for piece in split_paragraphs(text):
            yield Paragraph(article_id, position, piece, str(path))
            position += 1
            produced += 1
    if not count:
        raise InputProblem(path, "no records; the file is empty")
    if not produced:
        raise InputProblem(path, f"no text: field {text_field!r} is blank in all {count} record(s)")


def _html_main_text(path: Path) -> str:
    # Imported here: trafilatura is slow to import and only HTML inputs need it.
    import trafilatura

    # fast=True skips the fallback extractors: on a page with no article they return the menu as "text".
    text = trafilatura.extract(_read_text(path), include_comments=False, include_tables=False,
                               favor_precision=True, fast=True)
    if not text or not text.strip():
        raise InputProblem(path, "no main article text could be found in the HTML; save the article as .txt")
    return text


def read_articles(path: Path, *, text_field: str = "text", id_field: str | None = None) -> Iterator[Paragraph]:
    """Paragraphs of one file, lazily. .txt/.html: one article, id = file stem. .jsonl/.csv: a record is an
    article or a paragraph of one, id = its `id_field` value when present, else "<stem>:<line>".
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputProblem(path, f"unsupported input format {suffix or '(no suffix)'!r}; use {', '.join(SUFFIXES)}")
    if suffix in {".jsonl", ".csv"}:
        records = _jsonl_records(path) if suffix == ".jsonl" else _csv_records(path)
        yield from _from_records(path, records, text_field, id_field)
        return
    text = _read_text(path) if suffix == ".txt" else _html_main_text(path)
    pieces = split_paragraphs(text)
    for position, piece in enumerate(pieces):
        yield Paragraph(path.stem, position, piece, str(path))
