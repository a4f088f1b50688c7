"""Real published news: rebuild the paragraphs of `data/real/*.jsonl` from a local copy of each source repository.

Takes a bare git directory (or work tree) of a source repository at a recorded commit; gives the rows, text and
provenance, in a fixed order, so anyone can check that the shipped text is what the source holds. Selection is
deterministic: keyword relevance, seeded draws per pool, a cap of paragraphs per article, near-duplicate removal
within the source and against the sources extracted before it (`ORDER`). Labels are merged from the adjudicated
annotations, never made here. Knows nothing about models.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from train.data.source_readers import Article, read_allsides, read_bbc, read_current_events, read_fakes, read_isaf, read_wikinews
from train.errors import UserError


@dataclass(frozen=True)
class Source:
    name: str
    repo: str
    commit: str
    paths: tuple[str, ...]
    licence: str
    reader: Callable[[Callable[[str], bytes]], Iterator[Article]]
    pools: dict[str, int]          # pool name -> number of articles drawn into it
    max_paragraphs: int            # paragraphs kept per article, in article order (a headline counts as one)
    chunked: bool = False          # the source has no paragraph breaks: sentence chunks stand in for paragraphs


# ----------------------------------------------------------------------------------------------- relevance cues
# Relevance and pools are keyword draws; the labels come from annotation alone.
_FORCE = re.compile(r"\b(air ?strikes?|strikes?|bomb\w*|shell\w*|troops|soldiers|militar\w*|army|armed forces|"
                    r"offensive|invasion|invad\w*|intervention|war|warplanes?|jets?|drones?|missiles?|rockets?|"
                    r"militants?|insurgents?|rebels?|terroris\w*|jihadis\w*|isis|isil|daesh|islamic state|al[- ]qaeda|"
                    r"taliban|al[- ]shabaab|boko haram|houthis?|hezbollah|hamas|ceasefire|siege|battle|fighters|"
                    r"artillery|navy|warship\w*|deploy\w*|coalition forces|airstrikes?|raid\w*)\b", re.I)
_HUMANITARIAN = re.compile(r"\b(civilians?|refugees?|displaced|humanitarian|aid|hospitals?|children|famine|"
                           r"starv\w*|siege|evacuat\w*|casualties|wounded|war crimes?|human rights|shelter|"
                           r"chemical|massacre|medical)\b", re.I)
_EVALUATIVE = re.compile(r"\b(condemn\w*|criticis\w*|criticiz\w*|illegal|illegitimate|justif\w*|right to defend|"
                         r"self-defen[cs]e|must|should|mistake|disaster|failure|failed|reckless|aggression|"
                         r"occupation|occupier\w*|crimes?|denounc\w*|praise\w*|welcom\w*|support\w* the|"
                         r"oppos\w*|protest\w*|warn\w*|blam\w*|accus\w*|legitimate|success\w*|victory)\b", re.I)

CONFLICTS = (  # first match in headline + lead wins; the order puts specific theatres before broad ones
    ("Syria", r"\bsyria\w*|aleppo|idlib|damascus|raqqa|ghouta|homs|deir ez|daraa|kurds? in syria|sdf\b"),
    ("Ukraine", r"ukrain\w*|kyiv|kiev|donbas|donetsk|luhansk|crimea|kharkiv|zaporizh"),
    ("Israel-Palestine", r"\bgaza\b|hamas|west bank|palestin\w*|idf\b|israeli"),
    ("Lebanon", r"lebanon|lebanese|hezbollah|beirut"),
    ("Yemen", r"yemen\w*|houthis?|sanaa|aden\b|hodeidah"),
    ("Afghanistan", r"afghan\w*|taliban|kabul|helmand|kandahar"),
    ("Iraq", r"\biraq\w*|baghdad|mosul|fallujah|basra|kirkuk"),
    ("Libya", r"libya\w*|tripoli|benghazi|haftar"),
    ("Sudan", r"\bsudan\w*|darfur|khartoum|rapid support forces"),
    ("Somalia", r"somali\w*|al[- ]shabaab|mogadishu"),
    ("Sahel", r"\bmali\b|malian|burkina|niger\b|nigerien|sahel|wagner in africa"),
    ("Nigeria", r"nigeria\w*|boko haram"),
    ("Myanmar", r"myanmar|burma|rohingya|rakhine"),
    ("DR Congo", r"congo\w*|m23\b|goma|kivu"),
    ("Ethiopia", r"ethiopia\w*|tigray\w*|amhara"),
    ("Pakistan", r"pakistan\w*|waziristan|balochistan|tehrik"),
    ("Korea", r"north korea\w*|pyongyang|kim jong"),
    ("Iran", r"\biran\w*|tehran|irgc|revolutionary guard"),
    ("Russia-NATO", r"\bnato\b|\brussia\w*|kremlin|moscow"),
    ("China-Taiwan", r"taiwan\w*|south china sea|\bchina\b|chinese|beijing"),
    ("Colombia", r"colombia\w*|farc\b|eln\b"),
    ("Mexico", r"cartel\w*|mexic\w*"),
    ("ISIS (global)", r"\bisis\b|\bisil\b|islamic state|daesh|jihadist"),
    ("al-Qaeda (global)", r"al[- ]qaeda|bin laden"),
)
_CONFLICTS = [(name, re.compile(pattern, re.I)) for name, pattern in CONFLICTS]


def conflict_of(text: str) -> str:
    """The conflict an article is about, by the first keyword family that its headline and lead name."""
    for name, pattern in _CONFLICTS:
        if pattern.search(text):
            return name
    return "other"


# ----------------------------------------------------------------------------------------------- the registry
SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("wikinews", "vanatteveldt/wikinews", "347254178bf343f3801aac1d03c41cc09c35decb",
           ("data/wikinews_2019.csv", "data/wikinews_2020.csv"), "CC-BY-2.5", read_wikinews,
           {"random": 60, "humanitarian": 12, "evaluative": 12}, 6),
    Source("wikipedia-current-events", "fordred/wikinews", "0441f5273b8763fa543a6148b97efbbbae37b371",
           ("docs/_posts/",), "CC-BY-SA-4.0", read_current_events, {"random": 45, "humanitarian": 8, "evaluative": 8},
           6),
    Source("isaf", "strickvl/isafpr_finetune", "be1b439727f51bfdb68d32ce47ec111c64645e7e",
           ("data/templatefree_isaf_press_releases_ft_test.jsonl",), "CC-BY-SA-4.0", read_isaf,
           {"random": 50, "humanitarian": 15}, 4),
    Source("fa-kes", "fmohsen/Fake-news-res", "396124a80e3c4ae447d3b708487a5033cf82b400", ("FA-KES-Dataset.csv",),
           "CC-BY-4.0", read_fakes, {"random": 110, "humanitarian": 20, "evaluative": 30}, 4, chunked=True),
    Source("allsides", "ramybaly/Article-Bias-Prediction", "ced8111a720948e6a410e52031ace99c4e53f096",
           ("data/jsons/",), "research-only", read_allsides, {"random": 190, "humanitarian": 35, "evaluative": 55},
           6),
    Source("bbc-politics", "DokahlSoZoor/DieNeueKrone", "4abe2d2ac2eb677e40bc2d770b7484b9745d4094",
           ("data/bbc/politics/",), "research-only", read_bbc, {"random": 35, "evaluative": 12}, 6),
)}
# Near-duplicates are dropped against every source extracted earlier in this order.
ORDER = tuple(SOURCES)
# Sources that are about armed conflict throughout; the others are filtered by `_FORCE` cues.
_ALL_RELEVANT = {"wikipedia-current-events", "isaf", "fa-kes"}
_MIN_WORDS, _MAX_WORDS = 4, 300


class GitSource:
    """Reads files at one commit of a local git directory (bare or not) through one `git cat-file` process."""

    def __init__(self, git_dir: str | Path, commit: str):
        self.git_dir, self.commit = str(git_dir), commit
        probe = subprocess.run(["git", "--git-dir", self.git_dir, "cat-file", "-t", commit],
                               capture_output=True, text=True)
        if probe.returncode != 0 or probe.stdout.strip() != "commit":
            raise UserError(f"{git_dir}: commit {commit} not found; fetch the source repository "
                            f"(a bare clone or its .git folder) at that commit")
        self._blobs: dict[str, str] = {}
        self._batch = subprocess.Popen(["git", "--git-dir", self.git_dir, "cat-file", "--batch"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def names(self, folder: str) -> list[str]:
        out = subprocess.run(["git", "--git-dir", self.git_dir, "ls-tree", "-r", self.commit, folder],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():  # "<mode> blob <sha>\t<path>"; asking by sha skips a tree walk per file
            meta, path = line.split("\t", 1)
            self._blobs[path] = meta.split()[2]
        return sorted(self._blobs)

    def read(self, path: str) -> bytes:
        self._batch.stdin.write(f"{self._blobs.get(path) or self.commit + ':' + path}\n".encode())
        self._batch.stdin.flush()
        header = self._batch.stdout.readline().decode().split()
        if len(header) != 3:
            raise UserError(f"{self.git_dir}: {path} missing at commit {self.commit}")
        data = self._batch.stdout.read(int(header[2]))
        self._batch.stdout.read(1)
        return data

    def close(self) -> None:
        self._batch.stdin.close()
        self._batch.wait()


def _read_articles(source: Source, git: GitSource) -> list[Article]:
    folders = [p for p in source.paths if p.endswith("/")]
    if folders:
        names = [n for folder in folders for n in git.names(folder)]
        articles = source.reader(git.read, names)
    else:
        articles = source.reader(git.read)
    return sorted(articles, key=lambda a: a.key)


def _units(source: Source, article: Article) -> list[str]:
    """What a reader sees of the article, in order: the headline, then paragraphs, up to the per-article cap."""
    body = [p for p in article.paragraphs if _MIN_WORDS <= len(p.split()) <= _MAX_WORDS]
    units = ([article.title] if article.title else []) + body
    return units[: source.max_paragraphs]


def _lead(article: Article) -> str:
    return " ".join([article.title or "", *article.paragraphs[:4]])


def draw_pools(source: Source, articles: list[Article]) -> list[tuple[str, Article]]:
    """(pool, article) in draw order: a seeded random pool first, then keyword-targeted pools from the rest."""
    candidates = [a for a in articles if len(_units(source, a)) >= 2
                  and (source.name in _ALL_RELEVANT or len(_FORCE.findall(_lead(a))) >= 3)]
    rng = random.Random(f"framing-real-{source.name}")
    rng.shuffle(candidates)
    drawn: list[tuple[str, Article]] = []
    rest = candidates
    for pool, count in source.pools.items():
        if pool == "random":
            chosen, rest = rest[:count], rest[count:]
        else:
            cue = _HUMANITARIAN if pool == "humanitarian" else _EVALUATIVE
            # The most cue-dense third of what is left, then a seeded draw within it, so the pool is not one story.
            ranked = sorted(rest, key=lambda a: -len(cue.findall(" ".join(_units(source, a)))))
            top = ranked[: max(count, len(ranked) // 3)]
            chosen = rng.sample(top, min(count, len(top)))
            keys = {a.key for a in chosen}
            rest = [a for a in rest if a.key not in keys]
        drawn += [(pool, a) for a in chosen]
    return drawn


_TOKEN = re.compile(r"[a-z0-9]+")


class NearDuplicates:
    """Paragraphs sharing 70% of their word 5-grams (or, when short, the same words) count as one."""

    def __init__(self):
        self._index: dict[str, list[int]] = {}
        self._kept: list[set[str]] = []

    @staticmethod
    def _shingles(text: str) -> set[str]:
        tokens = _TOKEN.findall(text.casefold())
        if len(tokens) < 8:
            return {" ".join(tokens)}
        return {" ".join(tokens[i:i + 5]) for i in range(len(tokens) - 4)}

    def mark(self) -> int:
        return len(self._kept)

    def rollback(self, mark: int) -> None:
        """Forget every paragraph remembered since `mark` (an article that was dropped after all)."""
        while len(self._kept) > mark:
            for s in self._kept.pop():
                self._index[s].pop()
                if not self._index[s]:
                    del self._index[s]

    def seen(self, text: str) -> bool:
        """Whether `text` repeats an earlier paragraph; if not, remember it."""
        shingles = self._shingles(text)
        shared: dict[int, int] = {}
        for s in shingles:
            for other in self._index.get(s, ()):
                shared[other] = shared.get(other, 0) + 1
        for other, n in shared.items():
            if n / (len(shingles) + len(self._kept[other]) - n) >= 0.7:
                return True
        number = len(self._kept)
        self._kept.append(shingles)
        for s in shingles:
            self._index.setdefault(s, []).append(number)
        return False


def _article_ids(drawn: list[tuple[str, Article]]) -> list[str]:
    """Ids safe in file names and URLs; a key that repeats (two releases with one title) gets -2, -3, ..."""
    ids, used = [], Counter()
    for _, article in drawn:
        base = re.sub(r"[^A-Za-z0-9]+", "-", article.key).strip("-")
        used[base] += 1
        ids.append(base if used[base] == 1 else f"{base}-{used[base]}")
    return ids


def extract_rows(source: Source, git: GitSource, dedup: NearDuplicates) -> list[dict]:
    """The source's rows, text and provenance only, in draw order and article order."""
    rows: list[dict] = []
    drawn = draw_pools(source, _read_articles(source, git))
    for (pool, article), article_id in zip(drawn, _article_ids(drawn)):
        mark = dedup.mark()
        kept = [(i, text) for i, text in enumerate(_units(source, article)) if not dedup.seen(text)]
        if len(kept) < 2:  # an article that is all wire repeats adds nothing a reader would see fresh
            dedup.rollback(mark)
            continue
        conflict = conflict_of(_lead(article))
        for position, text in kept:
            is_headline = position == 0 and article.title is not None
            rows.append({
                "id": f"{article_id}-p{position:02d}", "article_id": article_id, "position": position,
                "text": text, "origin": "real", "source": source.name, "outlet": article.outlet,
                "licence": source.licence, "date": article.date, "url": article.url, "conflict": conflict,
                "pool": pool, "tags": [t for t, on in (("headline", is_headline), ("long", len(text.split()) > 120)) if on],
                **({"chunked": True} if source.chunked and not is_headline else {}),
                **({"cited_outlets": article.extra["cited_outlets"]} if "cited_outlets" in article.extra else {}),
            })
    return rows


LABEL_FIELDS = ("frame", "frames", "stance")


def with_labels(rows: list[dict], labels: dict[str, dict]) -> list[dict]:
    """Rows with their adjudicated labels after the text fields; rows without labels are left out."""
    out = []
    for row in rows:
        final = labels.get(row["id"])
        if final is None:
            continue
        head = {k: row[k] for k in ("id", "article_id", "position", "text")}
        rest = {k: v for k, v in row.items() if k not in head}
        rest["tags"] = (["mixed"] if len(final["frames"]) >= 2 else []) + row["tags"]  # the codebook's tag order
        out.append({**head, **{k: final[k] for k in LABEL_FIELDS}, **rest})
    return out


def dump_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def extract(names: list[str], repos: dict[str, str | Path], previous: list[dict] | None = None) -> dict[str, list[dict]]:
    """Rows of each named source, deduplicated against `previous` rows (the sources before it in `ORDER`)."""
    dedup = NearDuplicates()
    for row in previous or []:
        dedup.seen(row["text"])
    out = {}
    for name in sorted(names, key=ORDER.index):
        source = SOURCES[name]
        git = GitSource(repos[name], source.commit)
        try:
            out[name] = extract_rows(source, git, dedup)
        finally:
            git.close()
    return out


def _read_previous(name: str, folder: Path) -> list[dict]:
    rows = []
    for earlier in ORDER[: ORDER.index(name)]:
        path = folder / f"{earlier}.jsonl"
        if not path.is_file():
            raise UserError(f"{path}: missing; near-duplicates of {name} are dropped against the sources before it "
                            f"({', '.join(ORDER[: ORDER.index(name)])}), so their files must be in {folder}")
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def read_labels(path: str | Path) -> dict[str, dict]:
    """Adjudicated labels by paragraph id, from `{"id", "frame", "frames", "stance", ...}` lines."""
    out = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            record = json.loads(line)
            missing = [k for k in ("id", *LABEL_FIELDS) if k not in record]
            if missing:
                raise UserError(f"{path}: line {number}: missing field(s) {', '.join(missing)}")
            out[record["id"]] = record
    return out


def rebuild_source(name: str, repo: str | Path, *, labels: str | None, previous: str | Path, output: str | Path,
                   overwrite: bool = False) -> tuple[Path, int]:
    """`framing data extract`: one source's rows from its repository, written whole or not at all."""
    if name not in SOURCES:
        raise UserError(f"unknown source {name!r}; known: {', '.join(ORDER)}")
    output = Path(output)
    if output.exists() and not overwrite:
        raise UserError(f"{output}: exists; pass --overwrite to replace it")
    if not output.parent.is_dir():
        raise UserError(f"{output.parent}: no such folder")
    final = read_labels(labels) if labels else None
    rows = extract([name], {name: repo}, _read_previous(name, Path(previous)))[name]
    if final is not None:
        rows = with_labels(rows, final)
    partial = output.with_name(f".{output.name}.partial")
    partial.write_text(dump_jsonl(rows), encoding="utf-8")
    partial.replace(output)
    return output, len(rows)


def choose_test_articles(rows: list[dict], share: float = 0.2, seed: int = 20261203) -> list[str]:
    """The real test split, drawn once: about `share` of each source's articles, grouped by article and
    stratified by frame, so every source and frame is represented."""
    from train.data.corpus import grouped_kfold

    chosen: list[str] = []
    n_splits = max(2, round(1 / share))
    for name in ORDER:
        mine = [r for r in rows if r["source"] == name]
        if not mine:
            continue
        _, held = next(grouped_kfold([r["frame"] for r in mine], [r["article_id"] for r in mine], n_splits, seed))
        chosen += sorted({mine[i]["article_id"] for i in held})
    return chosen
