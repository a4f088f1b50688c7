"""The shipped real-news corpus meets the data issue's bar, checked with the project's own commands."""

import json
from collections import Counter
from pathlib import Path

import pytest

from train.cli import main
from train.data.agreement import agreement
from train.data.check import check_corpus
from train.data.corpus import read_article_list
from train.data.sources import ORDER, SOURCES

REAL = sorted(str(p) for p in Path("data/real").glob("*.jsonl"))
ANNOTATIONS = Path("data/annotations/real")


@pytest.fixture(scope="module")
def stats():
    return check_corpus("data/paragraphs.jsonl", *REAL)


@pytest.fixture(scope="module")
def rows():
    return [json.loads(line) for path in REAL for line in open(path, encoding="utf-8")]


def test_one_file_per_registered_source_each_under_one_licence(rows):
    assert sorted(Path(p).stem for p in REAL) == sorted(ORDER)
    for name in ORDER:
        mine = [r for r in rows if r["source"] == name]
        assert {r["licence"] for r in mine} == {SOURCES[name].licence}


def test_data_check_counts_meet_the_bar(stats, capsys):
    real = stats["real"]
    assert real["paragraphs"] >= 3000 and real["articles"] >= 500
    assert len(real["sources"]) >= 5 and len(real["outlets"]) >= 30
    assert len(set(real["conflicts"]) - {"other"}) >= 10
    assert min(real["frame"].values()) >= 150 and set(real["frame"]) == {
        "counter_terrorism", "power_projection", "humanitarian", "none"}
    assert min(real["stance"].values()) >= 150 and set(real["stance"]) == {"support", "oppose", "neutral"}
    assert main(["data", "check", "data/paragraphs.jsonl", *REAL]) == 0
    assert "every real row carries licence and outlet" in capsys.readouterr().out


def test_every_real_row_carries_its_provenance(rows):
    for r in rows:
        assert r["origin"] == "real" and r["outlet"] and r["licence"] and r["source"]
        assert "date" in r and "url" in r


def test_blind_double_annotation_covers_every_real_paragraph_and_agrees(rows):
    ids = {r["id"] for r in rows}
    for name in ("annotator_a.jsonl", "annotator_b.jsonl", "final.jsonl"):
        assert {json.loads(line)["id"] for line in open(ANNOTATIONS / name)} == ids
    result = agreement(str(ANNOTATIONS / "annotator_a.jsonl"), str(ANNOTATIONS / "annotator_b.jsonl"))
    assert result["paragraphs"] == len(ids)
    assert result["frame"]["kappa"] >= 0.75 and result["stance"]["kappa"] >= 0.65


def test_shipped_labels_are_the_adjudicated_ones(rows):
    final = {json.loads(line)["id"]: json.loads(line) for line in open(ANNOTATIONS / "final.jsonl")}
    adjudicated = [json.loads(line) for line in open(ANNOTATIONS / "adjudication.jsonl")]
    a = {json.loads(line)["id"]: json.loads(line) for line in open(ANNOTATIONS / "annotator_a.jsonl")}
    b = {json.loads(line)["id"]: json.loads(line) for line in open(ANNOTATIONS / "annotator_b.jsonl")}
    disputed = {d["id"] for d in adjudicated}
    for r in rows:
        assert {k: r[k] for k in ("frame", "frames", "stance")} == {k: final[r["id"]][k] for k in ("frame", "frames", "stance")}
        same = all(sorted(a[r["id"]][k]) == sorted(b[r["id"]][k]) if k == "frames" else a[r["id"]][k] == b[r["id"]][k]
                   for k in ("frame", "frames", "stance"))
        assert same != (r["id"] in disputed)  # exactly the disagreements went to adjudication
    assert Counter(d["agreed_with"] for d in adjudicated).keys() <= {"annotator_a", "annotator_b", "neither"}


def test_real_test_split_is_whole_articles_from_every_source(rows):
    held = read_article_list("data/real/test-articles.txt")
    articles = {r["article_id"] for r in rows}
    assert held <= articles
    assert {r["source"] for r in rows if r["article_id"] in held} == set(ORDER)
    share = sum(r["article_id"] in held for r in rows) / len(rows)
    assert 0.15 <= share <= 0.25
