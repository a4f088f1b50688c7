"""Readers of the real news sources: each turns a source repository's files into articles (headline, outlet,
date, url, paragraphs as a reader sees them). Pure text handling; which articles are kept is `sources.py`'s job.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from train.data.articles import split_paragraphs


@dataclass
class Article:
    """One published article (or, for the Current Events portal, one day's conflict section)."""

    key: str
    outlet: str
    date: str | None
    url: str | None
    title: str | None
    paragraphs: list[str]
    extra: dict = field(default_factory=dict)



_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’']?\s+(?=[\"“‘']?[A-Z0-9])")


def sentence_chunks(text: str, *, target_words: int = 70, max_words: int = 120) -> list[str]:
    """Cut unbroken article text at sentence ends into paragraph-sized chunks (about `target_words` each)."""
    sentences = [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]
    chunks: list[str] = []
    current: list[str] = []
    words = 0
    for sentence in sentences:
        n = len(sentence.split())
        if current and (words >= target_words or words + n > max_words):
            chunks.append(" ".join(current))
            current, words = [], 0
        current.append(sentence)
        words += n
    if current:
        chunks.append(" ".join(current))
    return chunks


_FAKES_OUTLETS = {
    "ahram": "Al-Ahram", "manar": "Al-Manar", "alalam": "Al-Alam", "alaraby": "Al-Araby Al-Jadeed",
    "dailysabah": "Daily Sabah", "sana": "SANA", "sputnik": "Sputnik", "etilaf": "Syrian National Coalition (Etilaf)",
    "trt": "TRT World", "jordantimes": "Jordan Times", "reuters": "Reuters", "arabiya": "Al Arabiya",
    "nna": "National News Agency (Lebanon)", "asharqalawsat": "Asharq Al-Awsat", "tass": "TASS",
}


def _iso_date(text: str, *formats: str) -> str | None:
    for fmt in formats:
        try:
            return datetime.strptime(text.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    return None


_DATE_PREFIX = re.compile(r"^(?:Date of publication |Posted on )?(?:[A-Z][a-z]{2,8},? )?"
                          r"(?:\d{1,2} [A-Z][a-z]{2,8}\.?|[A-Z][a-z]{2,8}\.? \d{1,2}),? \d{4}\s*")


def _norm_word(word: str) -> str:
    return re.sub(r"[^0-9a-z]", "", word.casefold())


def _after_title(body: str, title: str) -> str:
    """The body without the date, byline and repeated headline that FA-KES bodies open with, where they do."""
    words, wanted = body.split(), [w for w in map(_norm_word, title.split()) if w]
    normed = [_norm_word(w) for w in words[:80]]
    for start in range(len(normed)):
        got, i = [], start
        while i < len(normed) and len(got) < len(wanted):
            if normed[i]:
                got.append(normed[i])
            i += 1
        if wanted and got == wanted:
            return " ".join(words[i:]).lstrip(" .")
    return _DATE_PREFIX.sub("", body)


def read_fakes(read: Callable[[str], bytes]) -> Iterator[Article]:
    """FA-KES: one CSV row per article, ISO-8859-1, no paragraph breaks; the body repeats date and title first."""
    text = read("FA-KES-Dataset.csv").decode("latin-1")
    for row in csv.DictReader(io.StringIO(text)):
        title = " ".join(row["article_title"].split())
        body = _after_title(" ".join(row["article_content"].split()), title)
        yield Article(key=f"fakes-{row['unit_id']}", outlet=_FAKES_OUTLETS.get(row["source"], row["source"]),
                      date=_iso_date(row["date"], "%m/%d/%Y"), url=None, title=title or None,
                      paragraphs=sentence_chunks(body), extra={"location": row["location"]})


ALLSIDES_TOPICS = ("middle_east", "terrorism", "isis", "us_military", "national_security", "foreign_policy",
                   "russia", "north_korea", "defense", "national_defense", "world", "homeland_security", "iran",
                   "israel", "syria", "afghanistan", "iraq", "ukraine", "europe", "china", "great_britain")


def read_allsides(read: Callable[[str], bytes], names: list[str]) -> Iterator[Article]:
    """AllSides article-bias corpus: one JSON per article with its original paragraph breaks."""
    for name in names:
        record = json.loads(read(name))
        if record.get("topic") not in ALLSIDES_TOPICS:
            continue
        paragraphs = split_paragraphs(record.get("content_original") or "")
        yield Article(key=f"allsides-{record['ID']}", outlet=record["source"], date=record.get("date") or None,
                      url=record.get("url") or None, title=" ".join(record["title"].split()) or None,
                      paragraphs=paragraphs, extra={"bias": record.get("bias_text"), "topic": record["topic"]})


_ISAF_DATELINE = re.compile(r"^([A-Z][A-Za-z .'-]+, Afghanistan) \((\w+)\.? (\d{1,2}), (\d{4})\)$")
_ISAF_DATE = re.compile(r"\b([A-Z][a-z]{2,8})\.? (\d{1,2}),? (\d{4})\b")
_ISAF_DAY = re.compile(r"\(([A-Z][a-z]{2,8})\.? (\d{1,2})\)")
_ISAF_ID_YEAR = re.compile(r"\b(20\d\d)-\d\d-[A-Z]+-\d+\b")


def _isaf_date(head: list[str]) -> str | None:
    """The release date: "Jan. 25, 2013" in its first lines, or "(May 31)" with the year of its release number."""
    text = " ".join(head)
    found = _ISAF_DATE.search(text)
    if found:
        return _iso_date(f"{found[1][:3]} {found[2]} {found[3]}", "%b %d %Y")
    day, year = _ISAF_DAY.search(text), _ISAF_ID_YEAR.search(text)
    return _iso_date(f"{day[1][:3]} {day[2]} {year[1]}", "%b %d %Y") if day and year else None


def read_isaf(read: Callable[[str], bytes]) -> Iterator[Article]:
    """ISAF press releases: the release text sits in a prompt segment after "PRESS RELEASE TEXT:". A bare dateline
    second line is dropped (its date is kept, see `_isaf_date`)."""
    for line in read("data/templatefree_isaf_press_releases_ft_test.jsonl").decode("utf-8").splitlines():
        if not line.strip():
            continue
        for segment in json.loads(line)["segments"]:
            text = segment["text"]
            if not text.startswith("PRESS RELEASE TEXT:"):
                continue
            lines = [ln.strip() for ln in text[len("PRESS RELEASE TEXT:"):].strip().splitlines() if ln.strip()]
            if len(lines) < 3:
                continue
            release_id, dateline, body = lines[0], lines[1], lines[2:]
            match = _ISAF_DATELINE.match(dateline)
            date = _isaf_date(lines[:5])
            yield Article(key=f"isaf-{release_id}", outlet="ISAF Joint Command (NATO)", date=date, url=None,
                          title=None, paragraphs=body if match else [dateline, *body], extra={"release": release_id})


_WIKINEWS_DAY = re.compile(r"^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \w+ \d{1,2}, \d{4}$")


def read_wikinews(read: Callable[[str], bytes]) -> Iterator[Article]:
    """Wikinews 2019-2020: url, date, title, text with blank-line paragraphs; the first line is the date."""
    for path in ("data/wikinews_2019.csv", "data/wikinews_2020.csv"):
        for row in csv.DictReader(io.StringIO(read(path).decode("utf-8"))):
            paragraphs = [p for p in split_paragraphs(row["text"]) if not _WIKINEWS_DAY.match(p)]
            slug = row["url"].rstrip("/").rsplit("/", 1)[-1]
            key = "wikinews-" + hashlib.sha1(slug.encode()).hexdigest()[:12]
            yield Article(key=key, outlet="Wikinews", date=row["date"] or None, url=row["url"],
                          title=" ".join(row["title"].split()) or None, paragraphs=paragraphs)


_MD_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_CITATION = re.compile(r"\s*\[\(\*?([^\]]*?)\*?\)\]\([^)]*\)")


def _plain(markdown: str) -> tuple[str, list[str]]:
    """Markdown bullet text as plain text, and the outlets it cites."""
    cited = [c.strip("*") for c in _CITATION.findall(markdown)]
    text = _CITATION.sub("", markdown)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = text.replace("*", "").replace("\\", "")
    return " ".join(text.split()), cited


def read_current_events(read: Callable[[str], bytes], names: list[str]) -> Iterator[Article]:
    """Wikipedia Current Events portal: one page per day; the leaf bullets of "Armed conflicts and attacks"."""
    for name in names:
        day = Path(name).name[:10]
        if not ("2025-01-01" <= day <= "2026-12-31"):
            continue
        text = read(name).decode("utf-8")
        section = re.search(r"#### Armed conflicts and attacks\n(.*?)(?=\n#### |\Z)", text, re.S)
        if not section:
            continue
        lines = [ln for ln in section.group(1).splitlines() if ln.strip().startswith("* ")]
        paragraphs, outlets = [], []
        for i, line in enumerate(lines):
            depth = len(line) - len(line.lstrip())
            is_leaf = i + 1 == len(lines) or (len(lines[i + 1]) - len(lines[i + 1].lstrip())) <= depth
            plain, cited = _plain(line.strip()[2:])
            if is_leaf and cited and len(plain.split()) >= 8:
                paragraphs.append(plain)
                outlets += cited
        yield Article(key=f"wikicurrent-{day}", outlet="Wikipedia Current Events portal", date=day,
                      url=f"https://en.wikipedia.org/wiki/Portal:Current_events/{day}", title=None,
                      paragraphs=paragraphs, extra={"cited_outlets": sorted(set(outlets))})


def read_bbc(read: Callable[[str], bytes], names: list[str]) -> Iterator[Article]:
    """BBC News politics 2004-2005: headline on the first line, then paragraphs."""
    for name in names:
        raw = read(name).decode("latin-1")
        paragraphs = split_paragraphs(raw)
        if len(paragraphs) < 2:
            continue
        yield Article(key=f"bbc-politics-{Path(name).stem}", outlet="BBC News", date=None, url=None,
                      title=paragraphs[0], paragraphs=paragraphs[1:])
