"""The shipped corpus meets the data issue's requirements, checked with the project's own commands."""

import json
from collections import Counter, defaultdict

import pytest

from train.cli import main
from train.data.agreement import agreement
from train.data.check import check_corpus
from train.evaluation.audit import audit, names_in

CORPUS = "data/paragraphs.jsonl"


@pytest.fixture(scope="module")
def stats():
    return check_corpus(CORPUS)


@pytest.fixture(scope="module")
def records():
    return [json.loads(line) for line in open(CORPUS, encoding="utf-8")]


def test_data_check_command_passes_and_prints_counts(capsys):
    assert main(["data", "check", CORPUS]) == 0
    out = capsys.readouterr().out
    assert "schema and codebook rules OK" in out and "two or more frames" in out


def test_size_and_spread(stats, records):
    assert stats["paragraphs"] >= 1200
    assert stats["articles"] >= 200
    assert stats["paragraphs_per_article"]["min"] >= 4 and stats["paragraphs_per_article"]["max"] <= 10
    assert len(stats["conflicts"]) >= 10
    assert len(stats["actors"]) >= 12
    assert stats["years"]["first"] <= 2003 and stats["years"]["last"] >= 2024
    assert len(stats["source_types"]) == 7


def test_every_article_has_one_conflict_actor_outlet_and_date(records):
    per_article = defaultdict(set)
    for r in records:
        per_article[r["article_id"]].add((r["conflict"], r["actor"], r["source_type"], r["date"]))
    assert [a for a, values in per_article.items() if len(values) != 1] == []


def test_label_balance(stats):
    n = stats["paragraphs"]
    assert min(stats["frame"].values()) / n >= 0.15 and len(stats["frame"]) == 4
    assert min(stats["stance"].values()) / n >= 0.20 and len(stats["stance"]) == 3
    assert stats["frames_multi"] / n >= 0.25
    assert stats["tagged"] / n >= 0.20


def test_each_conflict_has_every_frame_and_stance(records):
    seen = defaultdict(lambda: (set(), set()))
    for r in records:
        seen[r["conflict"]][0].add(r["frame"])
        seen[r["conflict"]][1].add(r["stance"])
    assert {c: (len(f), len(s)) for c, (f, s) in seen.items() if (len(f), len(s)) != (4, 3)} == {}


def test_double_annotation_covers_a_quarter_spread_over_articles(records):
    second = [json.loads(line) for line in open("data/annotations/annotator2.jsonl", encoding="utf-8")]
    ids = {r["id"] for r in records}
    assert {r["id"] for r in second} <= ids
    assert len(second) / len(records) >= 0.25
    articles = Counter(r["article_id"] for r in second)
    assert len(articles) / len({r["article_id"] for r in records}) >= 0.9
    assert max(articles.values()) <= 4


def test_agreement_meets_the_thresholds():
    result = agreement("data/annotations/annotator1.jsonl", "data/annotations/annotator2.jsonl")
    assert result["frame"]["kappa"] >= 0.75
    assert result["stance"]["kappa"] >= 0.70
    assert set(result["frames"]["per_label_f1"]) == {"counter_terrorism", "power_projection", "humanitarian"}


def test_adjudicated_labels_are_the_shipped_labels(records):
    final = {r["id"]: r for r in records}
    for line in open("data/annotations/adjudication.jsonl", encoding="utf-8"):
        decision = json.loads(line)
        shipped = final[decision["id"]]
        assert (shipped["frame"], sorted(shipped["frames"]), shipped["stance"]) == (
            decision["final"]["frame"], sorted(decision["final"]["frames"]), decision["final"]["stance"])


def test_names_in_skips_sentence_openers_and_calendar_words():
    text = "Officials in Kabul met the UN envoy on Monday. The Taliban said: \"We refuse.\""
    assert names_in(text) == ["kabul", "un", "taliban"]


def test_names_alone_do_not_predict_labels(records):
    result = audit(records)
    for field in ("frame", "stance"):
        assert result[field]["gap_points"] >= 25, (field, result[field]["gap_points"])
        assert len(result[field]["purest_tokens"]) == 20
