"""`framing data check FILE`: the corpus schema, the codebook's consistency rules, and the corpus counts."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from .data import label_problem, normalise_text, read_rows, text_problem
from .errors import DataError
from .labels import CODEBOOK_LABELS

SOURCE_TYPES = ("wire", "broadsheet", "op-ed", "state media", "NGO statement", "headline", "transcript")
TAGS = ("mixed", "misleading_keyword", "denial", "quote_contrast", "headline", "long")
STRING_FIELDS = ("id", "article_id", "text", "frame", "stance", "conflict", "actor", "source_type", "date")
LONG_WORDS = 120


def _check_record(r: dict, where: str) -> list[str]:
    problems = [f"{where}: missing field {f!r}" for f in (*STRING_FIELDS, "position", "frames", "tags") if f not in r]
    if problems:
        return problems
    problems += [f"{where}: field {f!r} must be a non-empty string" for f in STRING_FIELDS
                 if not isinstance(r[f], str) or not r[f].strip()]
    if problems:
        return problems
    bad_text = text_problem(r["text"])
    if bad_text:  # the text itself is broken: its tags and counts mean nothing
        return [f"{where}: {bad_text}"]
    if not isinstance(r["position"], int) or r["position"] < 0:
        problems.append(f"{where}: field 'position' must be an integer >= 0")
    for field in ("frame", "stance"):
        if r[field] not in CODEBOOK_LABELS[field]:
            problems.append(f"{where}: {label_problem(field, r[field], CODEBOOK_LABELS[field])}")
    frames = r["frames"]
    if not isinstance(frames, list) or any(f not in CODEBOOK_LABELS["frames"] for f in frames) or len(set(frames)) != len(frames):
        problems.append(f"{where}: field 'frames' must be a list of distinct values from {', '.join(CODEBOOK_LABELS['frames'])}")
    elif r["frame"] == "none" and frames:
        problems.append(f"{where}: field 'frame' is none but 'frames' is {frames} (codebook: none exactly when frames is empty)")
    elif r["frame"] in CODEBOOK_LABELS["frame"] and r["frame"] != "none" and r["frame"] not in frames:
        problems.append(f"{where}: field 'frame' {r['frame']!r} is not in 'frames' {frames} (codebook: the primary is one of frames)")
    if r["source_type"] not in SOURCE_TYPES:
        problems.append(f"{where}: field 'source_type' has {r['source_type']!r}, not one of {', '.join(SOURCE_TYPES)}")
    tags = r["tags"]
    if not isinstance(tags, list) or any(t not in TAGS for t in tags):
        problems.append(f"{where}: field 'tags' must be a list of values from {', '.join(TAGS)}")
    elif isinstance(frames, list):
        if ("mixed" in tags) != (len(frames) >= 2):
            problems.append(f"{where}: field 'tags': 'mixed' goes with two or more frames (frames={frames})")
        if ("long" in tags) != (len(r["text"].split()) > LONG_WORDS):
            problems.append(f"{where}: field 'tags': 'long' goes with texts over {LONG_WORDS} words "
                            f"(this one has {len(r['text'].split())})")
    try:
        day = date.fromisoformat(r["date"])
        if not date(2001, 1, 1) <= day <= date(2026, 12, 31):
            problems.append(f"{where}: field 'date' {r['date']} is outside 2001-2026")
    except ValueError:
        problems.append(f"{where}: field 'date' must be YYYY-MM-DD, got {r['date']!r}")
    return problems


def check_corpus(path: str | Path) -> dict:
    """Validate every row; raise one DataError listing all problems, or return the corpus statistics."""
    rows = read_rows(path)
    problems: list[str] = []
    ids: dict[str, int] = {}
    texts: dict[str, int] = {}
    articles: dict[str, list[int]] = {}
    records = []
    for row in rows:
        r, where = row.record, f"line {row.line}"
        found = _check_record(r, where)
        problems += found
        if isinstance(r.get("article_id"), str) and isinstance(r.get("position"), int):
            articles.setdefault(r["article_id"], []).append(r["position"])  # a bad row still holds its place
        if found:
            continue
        if r["id"] in ids:
            problems.append(f"{where}: field 'id' duplicates {r['id']!r} from line {ids[r['id']]}")
        ids.setdefault(r["id"], row.line)
        key = normalise_text(r["text"])
        if key in texts:
            problems.append(f"{where}: field 'text' repeats line {texts[key]}")
        texts.setdefault(key, row.line)
        records.append(r)
    for article, positions in articles.items():
        if sorted(positions) != list(range(len(positions))):
            problems.append(f"article {article!r}: positions must run 0..{len(positions) - 1}, got {sorted(positions)}")
    if problems:
        raise DataError(str(path), problems)
    return corpus_stats(records)


def corpus_stats(records: list[dict]) -> dict:
    n = len(records)
    per_article = Counter(r["article_id"] for r in records)
    years = sorted(int(r["date"][:4]) for r in records)
    return {
        "paragraphs": n,
        "articles": len(per_article),
        "paragraphs_per_article": {"min": min(per_article.values()), "max": max(per_article.values())},
        "frame": dict(Counter(r["frame"] for r in records).most_common()),
        "stance": dict(Counter(r["stance"] for r in records).most_common()),
        "frames_multi": sum(len(r["frames"]) >= 2 for r in records),
        "frames_per_label": dict(Counter(f for r in records for f in r["frames"]).most_common()),
        "tagged": sum(bool(r["tags"]) for r in records),
        "tags": dict(Counter(t for r in records for t in r["tags"]).most_common()),
        "conflicts": dict(Counter(r["conflict"] for r in records).most_common()),
        "actors": dict(Counter(r["actor"] for r in records).most_common()),
        "source_types": dict(Counter(r["source_type"] for r in records).most_common()),
        "years": {"first": years[0], "last": years[-1]},
    }


def format_stats(stats: dict) -> str:
    n = stats["paragraphs"]

    def share(count: int) -> str:
        return f"{count:5d}  {100 * count / n:5.1f}%"

    lines = [f"paragraphs: {n}   articles: {stats['articles']}   paragraphs per article: "
             f"{stats['paragraphs_per_article']['min']}-{stats['paragraphs_per_article']['max']}   "
             f"years: {stats['years']['first']}-{stats['years']['last']}"]
    for field in ("frame", "stance", "frames_per_label", "tags", "source_types"):
        lines.append(f"{field}:")
        lines += [f"  {name:<22}{share(count)}" for name, count in stats[field].items()]
    lines.append(f"two or more frames: {share(stats['frames_multi'])}")
    lines.append(f"with a hard-case tag: {share(stats['tagged'])}")
    lines.append(f"conflicts ({len(stats['conflicts'])}):")
    lines += [f"  {name:<30}{count:5d}" for name, count in stats["conflicts"].items()]
    lines.append(f"actors ({len(stats['actors'])}):")
    lines += [f"  {name:<30}{count:5d}" for name, count in stats["actors"].items()]
    return "\n".join(lines)
