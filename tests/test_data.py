import json
from collections import Counter

import pytest

from train.config import load_config
from train.data.corpus import load_records, load_splits, split_records
from train.errors import DataError, UserError
from train.labels import label_set_for

FRAME = label_set_for("frame", None, None)
FRAMES = label_set_for("frames", None, None)


def row(i, article, text=None, frame="humanitarian", **extra):
    return {"id": f"p{i}", "article_id": article, "text": text or f"Paragraph number {i} of {article}.",
            "frame": frame, **extra}


def write_jsonl(tmp_path, rows, name="d.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def data_problems(path, labels=FRAME):
    with pytest.raises(DataError) as info:
        load_records(path, labels)
    return info.value.problems, str(info.value)


def test_missing_field_names_line_and_field(tmp_path):
    bad = row(2, "a")
    del bad["article_id"]
    problems, message = data_problems(write_jsonl(tmp_path, [row(1, "a"), bad]))
    assert problems == ["line 2: missing field 'article_id'"]
    assert str(tmp_path / "d.jsonl") in message


def test_empty_text(tmp_path):
    problems, _ = data_problems(write_jsonl(tmp_path, [row(1, "a", text="   ")]))
    assert problems == ["line 1: field 'text' is empty"]


def test_label_outside_label_set(tmp_path):
    problems, _ = data_problems(write_jsonl(tmp_path, [row(1, "a"), row(2, "a", frame="economic")]))
    assert problems[0].startswith("line 2: field 'frame' has 'economic', not one of counter_terrorism")


def test_duplicate_id(tmp_path):
    second = row(2, "b")
    second["id"] = "p1"
    problems, _ = data_problems(write_jsonl(tmp_path, [row(1, "a"), second]))
    assert problems == ["line 2: field 'id' duplicates id 'p1' first seen on line 1"]


def test_same_text_under_two_labels(tmp_path):
    rows = [row(1, "a", text="Shelling hit the market."), row(2, "b", text="shelling  hit the market.", frame="none")]
    problems, _ = data_problems(write_jsonl(tmp_path, rows))
    assert problems[0].startswith("line 2: field 'text' repeats the text of line 1 under another label")


def test_all_problems_reported_together(tmp_path):
    rows = [row(1, "a", text=" "), row(2, "a", frame="x"), {"id": "p3"}]
    problems, _ = data_problems(write_jsonl(tmp_path, rows))
    assert [p.split(":")[0] for p in problems] == ["line 1", "line 2", "line 3", "line 3", "line 3"]


def test_bad_json_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(row(1, "a")) + "\n{not json\n", encoding="utf-8")
    problems, _ = data_problems(path)
    assert problems[0].startswith("line 2: not valid JSON")


def test_csv_with_multi_label_cells(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,article_id,text,frames\n1,a,First one.,humanitarian;power_projection\n2,a,Second.,\n"
                    "3,b,Third.,\"[\"\"counter_terrorism\"\"]\"\n", encoding="utf-8")
    records = load_records(path, FRAMES)
    assert [r["frames"] for r in records] == [["power_projection", "humanitarian"], [], ["counter_terrorism"]]


def test_csv_label_error_names_csv_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,article_id,text,frame\n1,a,Fine.,none\n2,a,Bad.,war\n", encoding="utf-8")
    problems, _ = data_problems(path)
    assert problems[0].startswith("line 3: field 'frame' has 'war'")


def test_non_utf8_file_is_a_clear_error(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"id": "1", "article_id": "a", "text": "caf\xe9", "frame": "none"}\n')
    with pytest.raises(UserError, match="not UTF-8"):
        load_records(path, FRAME)


def corpus(n_articles=40, per_article=5):
    frames = ["counter_terrorism", "power_projection", "humanitarian", "none"]
    rows = []
    for a in range(n_articles):
        for p in range(per_article):
            rows.append(row(a * 100 + p, f"art{a}", frame=frames[(a + p) % 4]))
    return rows


def test_grouped_split_is_disjoint_by_article_and_covers_everything():
    rows = corpus()
    splits = split_records(rows, FRAME, validation_size=0.15, test_size=0.15, seed=7)
    articles = {name: {r["article_id"] for r in part} for name, part in splits.items()}
    assert not articles["train"] & articles["validation"]
    assert not articles["train"] & articles["test"]
    assert not articles["validation"] & articles["test"]
    ids = sorted(r["id"] for part in splits.values() for r in part)
    assert ids == sorted(r["id"] for r in rows)
    assert 0.08 < len(splits["test"]) / len(rows) < 0.25


def test_grouped_split_is_stratified():
    splits = split_records(corpus(80), FRAME, validation_size=0.15, test_size=0.15, seed=1)
    for part in splits.values():
        shares = Counter(r["frame"] for r in part)
        assert set(shares) == {"counter_terrorism", "power_projection", "humanitarian", "none"}
        assert max(shares.values()) / min(shares.values()) < 2.0


def test_grouped_split_is_deterministic_for_a_seed_and_changes_with_it():
    rows = corpus()
    first = split_records(rows, FRAME, validation_size=0.15, test_size=0.15, seed=3)
    again = split_records(rows, FRAME, validation_size=0.15, test_size=0.15, seed=3)
    other = split_records(rows, FRAME, validation_size=0.15, test_size=0.15, seed=4)
    ids = lambda s: {k: [r["id"] for r in v] for k, v in s.items()}
    assert ids(first) == ids(again)
    assert ids(first) != ids(other)


def test_ready_made_split_files_are_used_and_checked(tmp_path):
    rows = corpus(12)
    files = {}
    for name, chunk in (("train", rows[:40]), ("validation", rows[40:50]), ("test", rows[50:])):
        files[name] = write_jsonl(tmp_path, chunk, f"{name}.jsonl")
    cfg = load_config("configs/debug.yaml", [f"data.train_file={files['train']}",
                                             f"data.validation_file={files['validation']}",
                                             f"data.test_file={files['test']}"])
    splits = load_splits(cfg.data, FRAME, cfg.seed)
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [40, 10, 10]


def test_split_files_sharing_an_article_are_refused(tmp_path):
    rows = corpus(4)
    files = [write_jsonl(tmp_path, rows[:8], "tr.jsonl"), write_jsonl(tmp_path, rows[8:14], "va.jsonl"),
             write_jsonl(tmp_path, rows[14:], "te.jsonl")]
    cfg = load_config("configs/debug.yaml", [f"data.train_file={files[0]}", f"data.validation_file={files[1]}",
                                             f"data.test_file={files[2]}"])
    with pytest.raises(DataError, match="article 'art1' is in both train and validation"):
        load_splits(cfg.data, FRAME, cfg.seed)
