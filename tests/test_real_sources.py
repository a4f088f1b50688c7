"""Real-source extraction: rows rebuilt from a local git copy of a source, byte for byte, with provenance."""

import dataclasses
import json
import subprocess

import pytest

from train.cli import main
from train.data import sources
from train.data.source_readers import sentence_chunks
from train.data.sources import NearDuplicates, conflict_of

SENTENCE = ("Government aircraft struck positions held by armed groups near the town on {day}, the monitor said, "
            "and at least {n} fighters were killed in the raids.")


def _fakes_csv(n_articles: int) -> str:
    lines = ["unit_id,article_title,article_content,source,date,location,labels"]
    for i in range(n_articles):
        title = f"Air raids hit rebel positions near town number {i}"
        body = " ".join(SENTENCE.format(day=f"day {i}-{k}", n=i * 10 + k) for k in range(9))
        body += f" Civilians fled the district of block {i} as shelling went on."
        lines.append(f'{1000 + i},{title},"Wed 05 Apr 2017 {title}. {body}",sana,4/{1 + i % 28}/2017,idlib,1')
    return "\n".join(lines) + "\n"


@pytest.fixture()
def fakes_repo(tmp_path, monkeypatch):
    """A git repository shaped like the FA-KES source, with a registry entry pointing at its commit."""
    work = tmp_path / "fakes"
    work.mkdir()
    (work / "FA-KES-Dataset.csv").write_bytes(_fakes_csv(12).encode("latin-1"))
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "data"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    entry = dataclasses.replace(sources.SOURCES["fa-kes"], commit=commit, pools={"random": 8, "humanitarian": 2})
    monkeypatch.setitem(sources.SOURCES, "fa-kes", entry)
    monkeypatch.setattr(sources, "ORDER", ("fa-kes",))
    return work / ".git"


def test_sentence_chunks_cut_at_sentence_ends_near_the_target_size():
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(30))
    chunks = sentence_chunks(text, target_words=20, max_words=30)
    assert all(c.endswith(".") for c in chunks)
    assert all(14 <= len(c.split()) <= 30 for c in chunks[:-1])
    assert " ".join(chunks) == text


def test_near_duplicates_catch_wire_copy_and_forget_a_dropped_article():
    seen = NearDuplicates()
    wire = ("Rebel fighters shelled the northern district overnight, killing four people and wounding eleven, local "
            "officials said, adding that the road to the provincial capital had been closed to traffic while army "
            "engineers cleared unexploded rounds from the market and the school yard.")
    assert not seen.seen(wire)
    assert seen.seen("BEIRUT (AP) " + wire.replace("eleven", "twelve"))  # the same wire story in another outlet
    mark = seen.mark()
    assert not seen.seen("An entirely different paragraph about a naval exercise in the strait this week.")
    seen.rollback(mark)
    assert not seen.seen("An entirely different paragraph about a naval exercise in the strait this week.")


def test_conflict_comes_from_the_first_matching_keyword_family():
    assert conflict_of("Air strikes near Idlib kill 12") == "Syria"
    assert conflict_of("Troops pushed toward Kharkiv") == "Ukraine"
    assert conflict_of("Parliament debates the budget") == "other"


def test_extract_gives_provenance_on_every_row_and_drops_the_repeated_headline(fakes_repo):
    rows = sources.extract(["fa-kes"], {"fa-kes": fakes_repo})["fa-kes"]
    assert rows, "no rows extracted"
    for row in rows:
        assert row["origin"] == "real" and row["source"] == "fa-kes" and row["licence"] == "CC-BY-4.0"
        assert row["outlet"] == "SANA" and row["date"].startswith("2017-04-")
        assert row["pool"] in {"random", "humanitarian"}
    bodies = [r for r in rows if r["position"] > 0]
    assert all(r.get("chunked") for r in bodies)
    assert not any(r["text"].startswith(("Wed 05 Apr", "Air raids hit")) for r in bodies)
    # Each article keeps at most max_paragraphs units, the headline first.
    per_article = {}
    for r in rows:
        per_article.setdefault(r["article_id"], []).append(r["position"])
    assert all(len(p) <= sources.SOURCES["fa-kes"].max_paragraphs and p[0] == 0 for p in per_article.values())


def test_data_extract_rebuilds_the_shipped_file_byte_for_byte(fakes_repo, tmp_path):
    unlabelled = tmp_path / "rows.jsonl"
    assert main(["data", "extract", "fa-kes", "--repo", str(fakes_repo), "-o", str(unlabelled)]) == 0
    rows = [json.loads(line) for line in unlabelled.read_text().splitlines()]
    labels = tmp_path / "final.jsonl"
    labels.write_text("".join(json.dumps({"id": r["id"], "frame": "counter_terrorism", "frames": ["counter_terrorism"],
                                          "stance": "neutral"}) + "\n" for r in rows))
    shipped = tmp_path / "shipped.jsonl"
    shipped.write_text(sources.dump_jsonl(sources.with_labels(rows, sources.read_labels(labels))), encoding="utf-8")
    rebuilt = tmp_path / "rebuilt.jsonl"
    assert main(["data", "extract", "fa-kes", "--repo", str(fakes_repo), "--labels", str(labels),
                 "-o", str(rebuilt)]) == 0
    assert rebuilt.read_bytes() == shipped.read_bytes()
    first = json.loads(rebuilt.read_text().splitlines()[0])
    assert list(first)[:7] == ["id", "article_id", "position", "text", "frame", "frames", "stance"]


def test_data_extract_refuses_an_existing_output_and_a_wrong_commit(fakes_repo, tmp_path, capsys):
    out = tmp_path / "rows.jsonl"
    out.write_text("keep me\n")
    assert main(["data", "extract", "fa-kes", "--repo", str(fakes_repo), "-o", str(out)]) == 2
    assert out.read_text() == "keep me\n"
    assert "--overwrite" in capsys.readouterr().err
    empty = tmp_path / "empty"
    subprocess.run(["git", "init", "-q", "--bare", str(empty)], check=True)
    assert main(["data", "extract", "fa-kes", "--repo", str(empty), "-o", str(tmp_path / "x.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err


def test_every_registered_source_names_its_repository_commit_and_licence(capsys):
    assert main(["data", "sources"]) == 0
    out = capsys.readouterr().out
    for name, source in sources.SOURCES.items():
        assert name in out and source.commit[:12] in out and source.licence in out
        assert len(source.commit) == 40
