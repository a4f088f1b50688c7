"""`framing data check FILE...`: the corpus schema, the codebook's consistency rules, and the corpus counts.

Written rows (`origin: written`, the project's own text) carry conflict, actor and source type; real rows
(`origin: real`, published news) carry their provenance instead: source, outlet, licence, and date and url
where known. Ids and texts must be unique across all the files checked together.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from train.data.corpus import label_problem, normalise_text, read_rows, text_problem
from train.errors import DataError
from train.labels import CODEBOOK_LABELS

SOURCE_TYPES = ("wire", "broadsheet", "op-ed", "state media", "NGO statement", "headline", "transcript")
TAGS = ("mixed", "misleading_keyword", "denial", "quote_contrast", "headline", "long")
ORIGINS = ("written", "real")
COMMON_FIELDS = ("id", "article_id", "text", "frame", "stance", "conflict")
STRING_FIELDS = {"written": (*COMMON_FIELDS, "actor", "source_type", "date"),
                 "real": (*COMMON_FIELDS, "origin", "source", "outlet", "licence")}
OPTIONAL_STRING_FIELDS = {"written": (), "real": ("date", "url")}  # null where the source does not say
LONG_WORDS = 120
FIRST_YEAR = {"written": 2001, "real": 1990}


def _check_record(r: dict, where: str) -> list[str]:
    origin = r.get("origin", "written")
    if origin not in ORIGINS:
        return [f"{where}: field 'origin' has {origin!r}, not one of {', '.join(ORIGINS)}"]
    required = (*STRING_FIELDS[origin], *OPTIONAL_STRING_FIELDS[origin], "position", "frames", "tags")
    problems = [f"{where}: missing field {f!r}" for f in required if f not in r]
    if problems:
        return problems
    problems += [f"{where}: field {f!r} must be a non-empty string" for f in STRING_FIELDS[origin]
                 if not isinstance(r[f], str) or not r[f].strip()]
    problems += [f"{where}: field {f!r} must be a non-empty string or null" for f in OPTIONAL_STRING_FIELDS[origin]
                 if r[f] is not None and (not isinstance(r[f], str) or not r[f].strip())]
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
        problems.append(f"{where}: field 'frame' {r['frame']!r} is not in 'frames' {frames} "
                        "(codebook: the primary is one of frames)")
    if origin == "written" and r["source_type"] not in SOURCE_TYPES:
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
    if r["date"] is not None:
        try:
            day = date.fromisoformat(r["date"])
            if not date(FIRST_YEAR[origin], 1, 1) <= day <= date(2026, 12, 31):
                problems.append(f"{where}: field 'date' {r['date']} is outside {FIRST_YEAR[origin]}-2026")
        except ValueError:
            problems.append(f"{where}: field 'date' must be YYYY-MM-DD, got {r['date']!r}")
    return problems


def check_corpus(*paths: str | Path) -> dict:
    """Validate every row of every file; raise one DataError listing all problems, or return the statistics."""
    files = [(Path(p), read_rows(p)) for p in paths]
    problems: list[str] = []
    ids: dict[str, str] = {}
    texts: dict[str, str] = {}
    articles: dict[str, list[int]] = {}
    records = []
    several = len(files) > 1
    for path, row in ((path, row) for path, rows in files for row in rows):
        r = row.record
        where = f"{path}: line {row.line}" if several else f"line {row.line}"
        found = _check_record(r, where)
        problems += found
        if isinstance(r.get("article_id"), str) and isinstance(r.get("position"), int):
            key = (r.get("origin", "written"), r["article_id"])
            articles.setdefault(key, []).append(r["position"])  # a bad row still holds its place
        if found:
            continue
        if r["id"] in ids:
            problems.append(f"{where}: field 'id' duplicates {r['id']!r} from {ids[r['id']]}")
        ids.setdefault(r["id"], where)
        key = normalise_text(r["text"])
        if key in texts:
            problems.append(f"{where}: field 'text' repeats {texts[key]}")
        texts.setdefault(key, where)
        records.append(r)
    for (origin, article), positions in articles.items():
        if origin == "real":  # near-duplicates and over-long paragraphs were dropped: gaps are expected
            if len(set(positions)) != len(positions):
                problems.append(f"article {article!r}: positions repeat: {sorted(positions)}")
        elif sorted(positions) != list(range(len(positions))):
            problems.append(f"article {article!r}: positions must run 0..{len(positions) - 1}, got {sorted(positions)}")
    if problems:
        raise DataError(", ".join(str(p) for p in paths), problems)
    return corpus_stats(records)


def corpus_stats(records: list[dict]) -> dict:
    n = len(records)
    per_article = Counter(r["article_id"] for r in records)
    years = sorted(int(r["date"][:4]) for r in records if r.get("date"))
    real = [r for r in records if r.get("origin") == "real"]
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
        "actors": dict(Counter(r["actor"] for r in records if "actor" in r).most_common()),
        "source_types": dict(Counter(r["source_type"] for r in records if "source_type" in r).most_common()),
        "years": {"first": years[0], "last": years[-1]} if years else None,
        "origins": dict(Counter(r.get("origin", "written") for r in records).most_common()),
        "licences": dict(Counter(r.get("licence", "(none)") for r in records).most_common()),
        "real": {
            "paragraphs": len(real),
            "articles": len({r["article_id"] for r in real}),
            "sources": dict(Counter(r["source"] for r in real).most_common()),
            "outlets": dict(Counter(r["outlet"] for r in real).most_common()),
            "licences": dict(Counter(r["licence"] for r in real).most_common()),
            "frame": dict(Counter(r["frame"] for r in real).most_common()),
            "stance": dict(Counter(r["stance"] for r in real).most_common()),
            "frames_per_label": dict(Counter(f for r in real for f in r["frames"]).most_common()),
            "conflicts": dict(Counter(r["conflict"] for r in real).most_common()),
        },
    }


def format_stats(stats: dict) -> str:
    n = stats["paragraphs"]

    def share(count: int) -> str:
        return f"{count:5d}  {100 * count / n:5.1f}%"

    years = f"{stats['years']['first']}-{stats['years']['last']}" if stats["years"] else "unknown"
    lines = [f"paragraphs: {n}   articles: {stats['articles']}   paragraphs per article: "
             f"{stats['paragraphs_per_article']['min']}-{stats['paragraphs_per_article']['max']}   years: {years}"]
    for field in ("origins", "licences", "frame", "stance", "frames_per_label", "tags", "source_types"):
        lines.append(f"{field}:")
        lines += [f"  {name:<22}{share(count)}" for name, count in stats[field].items()]
    lines.append(f"two or more frames: {share(stats['frames_multi'])}")
    lines.append(f"with a hard-case tag: {share(stats['tagged'])}")
    lines.append(f"conflicts ({len(stats['conflicts'])}):")
    lines += [f"  {name:<30}{count:5d}" for name, count in stats["conflicts"].items()]
    lines.append(f"actors ({len(stats['actors'])}):")
    lines += [f"  {name:<30}{count:5d}" for name, count in stats["actors"].items()]
    real = stats["real"]
    if real["paragraphs"]:
        lines.append(f"real (published news): {real['paragraphs']} paragraphs, {real['articles']} articles, "
                     f"{len(real['sources'])} sources, {len(real['outlets'])} outlets, "
                     f"{len(real['conflicts'])} conflicts; every real row carries licence and outlet")
        for field in ("sources", "licences", "frame", "stance", "frames_per_label", "conflicts"):
            lines.append(f"  real {field}:")
            lines += [f"    {name:<28}{count:5d}" for name, count in real[field].items()]
        lines.append("  real outlets: " + ", ".join(f"{name} {count}" for name, count in real["outlets"].items()))
    return "\n".join(lines)
