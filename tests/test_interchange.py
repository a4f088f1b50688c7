import json
import math
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from conftest import FIXTURE_DATA, FIXTURES, ROOT

from train.cli import main
from train.data.check import check_corpus
from train.inference.predict import PredictOptions, run_predict
from train.inference.select import cap_per_article, rank
from train.labels import CODEBOOK_LABELS

LS_EXPORT = FIXTURES / "label-studio-export.json"
DOCCANO_EXPORT = FIXTURES / "doccano-export.jsonl"
EXAMPLE_MAPPING = ROOT / "configs" / "mappings" / "label-studio-example.yaml"
LABEL_FIELDS = ("frame", "frames", "stance")
ARTICLE = """Aid convoy reaches besieged town

Trucks carrying flour and medicine crossed the front line on Tuesday, relief officials said.

The army said its units had pushed armed fighters back from the main road before the convoy moved.
"""


def rows(n=30):
    return [json.loads(line) for line in FIXTURE_DATA.read_text(encoding="utf-8").splitlines()[:n]]


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def choice(control, labels):
    return {"id": f"r-{control}", "from_name": control, "to_name": "text", "type": "choices",
            "value": {"choices": labels}, "origin": "manual"}


def as_label_studio_export(records):
    """Our rows as Label Studio exports them after labelling: task id, data, one annotation per task.
    An empty multi-choice leaves no result at all, as in Label Studio."""
    tasks = []
    for i, r in enumerate(records):
        result = [choice("frame", [r["frame"]]), choice("stance", [r["stance"]])]
        result += [choice("frames", r["frames"])] if r["frames"] else []
        data = {k: v for k, v in r.items() if k not in LABEL_FIELDS}
        tasks.append({"id": 500 + i, "data": data, "predictions": [], "annotations": [
            {"id": 900 + i, "completed_by": 1, "result": result, "was_cancelled": False, "ground_truth": False,
             "lead_time": 12.5, "task": 500 + i}]})
    return tasks


def as_json_min(records):
    """JSON-MIN: one flat row per annotation; the task id overwrites data.id; one choice is a bare string."""
    out = []
    for i, r in enumerate(records):
        row = {k: v for k, v in r.items() if k not in LABEL_FIELDS}
        row.update(id=500 + i, frame=r["frame"], stance=r["stance"], annotator=1, annotation_id=900 + i,
                   lead_time=12.5)
        if r["frames"]:
            row["frames"] = r["frames"][0] if len(r["frames"]) == 1 else {"choices": r["frames"]}
        out.append(row)
    return out


@pytest.mark.parametrize("export", [as_label_studio_export, as_json_min], ids=["json", "json-min"])
def test_round_trip_through_label_studio_keeps_labels_ids_and_metadata(export, tmp_path, capsys):
    original = rows(30)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export(original)), encoding="utf-8")
    out = tmp_path / "imported.jsonl"
    assert main(["data", "import", "--format", "label-studio", str(path), "-o", str(out)]) == 0
    assert "Imported 30 of 30" in capsys.readouterr().out
    # `frames` is a set: it comes back in the codebook's order
    canonical = [{**r, "frames": [f for f in CODEBOOK_LABELS["frames"] if f in r["frames"]]} for r in original]
    assert lines(out) == canonical  # same ids, labels, metadata and key order
    assert check_corpus(out)["paragraphs"] == 30  # and the schema and codebook rules still hold


def imported_by_id(path):
    return {r["id"]: r for r in lines(path)}


def has(record, **expected):
    return {k: record.get(k) for k in expected} == expected


def test_realistic_label_studio_export_with_problems(tmp_path, capsys):
    out = tmp_path / "labelled.jsonl"
    assert main(["data", "import", "--format", "label-studio", str(LS_EXPORT), "-o", str(out),
                 "--mapping", str(EXAMPLE_MAPPING)]) == 0
    got = imported_by_id(out)
    assert list(got) == ["lsx-1-p00", "lsx-1-p01", "lsx-1-p02", "lsx-2-p02", "lsx-3-p00", "ls-task-113", "lsx-4-p00"]
    # mapped names, multi-choice frames in codebook order, metadata kept
    assert has(got["lsx-1-p00"], frame="humanitarian", frames=["counter_terrorism", "humanitarian"], stance="oppose",
               conflict="Sudan", source_type="wire", article_id="lsx-1", position=0)
    assert (got["lsx-1-p01"]["frame"], got["lsx-1-p01"]["stance"]) == ("power_projection", "neutral")  # 2 agree
    assert (got["lsx-1-p02"]["frame"], got["lsx-1-p02"]["frames"]) == ("none", [])  # kept beside a cancelled one
    assert "frame" not in got["lsx-2-p02"] and got["lsx-2-p02"]["frames"] == ["power_projection", "humanitarian"]
    assert got["lsx-3-p00"]["frame"] == "counter_terrorism"  # derived from a single frame
    assert (got["ls-task-113"]["article_id"], got["ls-task-113"]["position"]) == ("ls-task-113", 0)
    assert got["lsx-4-p00"]["stance"] == "oppose"  # the ground-truth annotation wins a disagreement
    report = capsys.readouterr().out
    assert "Imported 7 of 15" in report and "8 skipped:" in report
    expected = {"task 104": "only cancelled", "task 105": "disagree on stance", "task 106": "unknown label 'Economy'",
                "task 109": "2 choices (support, oppose)", "task 110": "not annotated", "task 111": "missing text",
                "task 112": "no choices", "task 115": "does not agree with frames",
                "task 103": "annotation 1004 was cancelled", "task 107": "no primary frame"}
    for task, reason in expected.items():
        assert any(line.strip().startswith(f"- {task}:") and reason in line for line in report.splitlines()), task
    assert "control 'quality' is not mapped" in report


def test_without_the_mapping_their_names_are_reported_not_guessed(tmp_path, capsys):
    out = tmp_path / "labelled.jsonl"
    assert main(["data", "import", "--format", "label-studio", str(LS_EXPORT), "-o", str(out)]) == 0
    report = capsys.readouterr().out
    assert "task 101: stance: unknown label 'Against' for 'stance'" in report
    assert "control 'primary_frame' is not mapped" in report and "control 'all_frames' is not mapped" in report
    got = lines(out)  # only tasks whose stance is spelled like ours ("Neutral") survive, with no frame guessed
    assert got and all(r["stance"] == "neutral" and "frame" not in r and "frames" not in r for r in got)


def test_doccano_export(tmp_path, capsys):
    out = tmp_path / "labelled.jsonl"
    assert main(["data", "import", "--format", "doccano", str(DOCCANO_EXPORT), "-o", str(out)]) == 0
    got = imported_by_id(out)
    assert list(got) == ["dcx-1-p00", "dcx-1-p01", "doccano-3", "dcx-2-p00"]
    assert has(got["dcx-1-p00"], frame="humanitarian", frames=["humanitarian"], stance="oppose", article_id="dcx-1")
    assert (got["dcx-1-p01"]["frame"], got["dcx-1-p01"]["frames"]) == ("counter_terrorism", ["counter_terrorism"])
    assert (got["doccano-3"]["frame"], got["doccano-3"]["frames"], got["doccano-3"]["stance"]) == ("none", [], "neutral")
    assert got["dcx-2-p00"]["conflict"] == "Black Sea" and "frame" not in got["dcx-2-p00"]
    report = capsys.readouterr().out
    assert "line 4: 2 choices (support, oppose)" in report
    assert "line 5: unknown label 'sports'" in report and "line 6: no choices" in report
    assert "line 7: no primary frame" in report


def test_label_studio_config_names_our_fields_and_labels():
    from train.data.interchange import label_studio_config

    root = ET.fromstring(label_studio_config())
    controls = {c.get("name"): c for c in root.iter("Choices")}
    assert list(controls) == list(LABEL_FIELDS)
    assert controls["frames"].get("choice") == "multiple" and controls["frame"].get("choice") == "single-radio"
    for name, control in controls.items():
        assert [c.get("value") for c in control.iter("Choice")] == CODEBOOK_LABELS[name]
        assert control.get("toName") == root.find("Text").get("name")


@pytest.fixture
def articles(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    for i in range(3):
        (folder / f"story{i}.txt").write_text(ARTICLE, encoding="utf-8")
    return folder


def test_predict_label_studio_tasks_carry_predictions_and_scores(tiny_run, articles, tmp_path):
    jsonl, _ = run_predict([str(tiny_run), str(articles)], PredictOptions(output=tmp_path / "p.jsonl", progress=False))
    tasks_path, summaries = run_predict([str(tiny_run), str(articles)], PredictOptions(
        output=tmp_path / "tasks.json", fmt="label-studio", progress=False))
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    records = lines(jsonl)
    assert len(tasks) == len(records) == 9 and summaries.name == "tasks.articles.jsonl"
    for task, record in zip(tasks, records):
        assert task["data"]["text"] == record["text"]
        assert task["data"]["id"] == f"{record['article_id']}-p{record['position']:02d}"
        (prediction,) = task["predictions"]
        assert prediction["model_version"].startswith(f"{tiny_run.name}@sha256:")
        (result,) = prediction["result"]
        assert (result["from_name"], result["to_name"], result["type"]) == ("frame", "text", "choices")
        assert result["value"]["choices"] == [record["frame"]]
        assert result["score"] == pytest.approx(record["frame_probabilities"][record["frame"]])
        assert prediction["score"] == result["score"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles", "p.articles.jsonl", "p.jsonl", "tasks.articles.jsonl",
                                                          "tasks.json"]


def test_predict_label_studio_resumes_to_the_same_bytes(tiny_run, articles, tmp_path, monkeypatch):
    from train.inference import predict as predict_module

    options = dict(fmt="label-studio", buffer=2, batch_size=2, progress=False)
    reference, _ = run_predict([str(tiny_run), str(articles)], PredictOptions(output=tmp_path / "ref.json", **options))
    real_write = predict_module.Output.write
    calls = {"n": 0}

    def crashing_write(self, records):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash")
        real_write(self, records)

    monkeypatch.setattr(predict_module.Output, "write", crashing_write)
    out = tmp_path / "run.json"
    with pytest.raises(RuntimeError):
        run_predict([str(tiny_run), str(articles)], PredictOptions(output=out, **options))
    assert not out.exists()
    monkeypatch.setattr(predict_module.Output, "write", real_write)
    run_predict([str(tiny_run), str(articles)], PredictOptions(output=out, resume=True, **options))
    assert out.read_bytes() == reference.read_bytes()


def fake(article, position, probabilities):
    return {"article_id": article, "position": position, "text": f"{article} {position}", "source": "x",
            "frame": max(probabilities, key=probabilities.get), "frame_probabilities": probabilities}


def test_entropy_and_margin_rank_the_most_uncertain_first():
    pool = [fake("a", 0, {"x": 0.9, "y": 0.05, "z": 0.05}), fake("b", 0, {"x": 0.34, "y": 0.33, "z": 0.33}),
            fake("c", 0, {"x": 0.5, "y": 0.5, "z": 0.0})]
    assert [r["article_id"] for _, r in rank(pool, "frame", "entropy", False, 0)] == ["b", "c", "a"]
    assert [r["article_id"] for _, r in rank(pool, "frame", "margin", False, 0)] == ["c", "b", "a"]
    scores = [s for s, _ in rank(pool, "frame", "entropy", False, 0)]
    assert scores[0] == pytest.approx(-sum(p * math.log(p) for p in (0.34, 0.33, 0.33)))
    multi = [fake("m", 0, {"x": 0.95, "y": 0.02}), fake("n", 0, {"x": 0.52, "y": 0.1})]
    assert [r["article_id"] for _, r in rank(multi, "frame", "margin", True, 0)] == ["n", "m"]
    assert [r["article_id"] for _, r in rank(multi, "frame", "entropy", True, 0)] == ["n", "m"]


def test_ties_keep_reading_order_and_random_is_seeded():
    pool = [fake(f"a{i}", 0, {"x": 0.5, "y": 0.5}) for i in range(20)]
    assert [r["article_id"] for _, r in rank(pool, "frame", "entropy", False, 0)] == [f"a{i}" for i in range(20)]
    first = [r["article_id"] for _, r in rank(pool, "frame", "random", False, 7)]
    assert first == [r["article_id"] for _, r in rank(pool, "frame", "random", False, 7)]
    assert first != [r["article_id"] for _, r in rank(pool, "frame", "random", False, 8)]


def test_per_article_cap_is_greedy_in_rank_order():
    ranked = [(1.0 - i / 10, {"article_id": a}) for i, a in enumerate("aaabbbcdd")]
    chosen = cap_per_article(ranked, 5, 2)
    assert [r["article_id"] for _, r in chosen] == ["a", "a", "b", "b", "c"]
    assert len(cap_per_article(ranked, 50, None)) == 9


def select(tiny_run, out, *extra):
    return main(["select", str(tiny_run), str(FIXTURE_DATA), "-o", str(out), *extra])


def test_select_caps_articles_counts_and_is_deterministic(tiny_run, tmp_path, capsys):
    pool = {r["id"]: r for r in (json.loads(line) for line in FIXTURE_DATA.read_text(encoding="utf-8").splitlines())}
    everything, first, again = tmp_path / "all.jsonl", tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert select(tiny_run, everything, "--n", "1000") == 0
    assert select(tiny_run, first, "--n", "12", "--per-article", "2") == 0
    assert select(tiny_run, again, "--n", "12", "--per-article", "2") == 0
    assert first.read_bytes() == again.read_bytes()
    ranked, chosen = lines(everything), lines(first)
    assert len(ranked) == len(pool) and len(chosen) == 12
    assert max(Counter(r["article_id"] for r in chosen).values()) <= 2
    for r in chosen:  # ids come back as the corpus's; no gold label travels with the text
        assert pool[r["id"]]["text"] == r["text"] and not set(LABEL_FIELDS) & set(r)
    entropies = [-sum(p * math.log(p) for p in r["probabilities"].values() if p > 0) for r in ranked]
    assert [r["selection_score"] for r in ranked] == pytest.approx(entropies, abs=1e-6)
    assert entropies == sorted(entropies, reverse=True) and ranked[0]["selection_rank"] == 1
    assert chosen[0]["id"] == ranked[0]["id"]  # the most uncertain paragraph of all comes first
    assert "Selected 12 of 148" in capsys.readouterr().out


def test_select_writes_label_studio_and_doccano_imports(tiny_run, tmp_path):
    ls, dc, rnd = tmp_path / "next.json", tmp_path / "next.jsonl", tmp_path / "rnd.jsonl"
    assert select(tiny_run, ls, "--n", "5", "--format", "label-studio", "--strategy", "margin") == 0
    tasks = json.loads(ls.read_text(encoding="utf-8"))
    assert [t["data"]["selection_rank"] for t in tasks] == [1, 2, 3, 4, 5]
    assert all(t["predictions"][0]["result"][0]["from_name"] == "frame" for t in tasks)
    assert select(tiny_run, dc, "--n", "5", "--format", "doccano", "--strategy", "random", "--seed", "3") == 0
    assert select(tiny_run, rnd, "--n", "5", "--format", "doccano", "--strategy", "random", "--seed", "3") == 0
    assert dc.read_bytes() == rnd.read_bytes()
    docs = lines(dc)
    assert all(set(d) >= {"text", "paragraph_id", "article_id", "selection_score"} and "predicted" not in d
               for d in docs)
    # as doccano exports them after labelling: its own int ids, our metadata spread, a label list
    exported = tmp_path / "doccano-out.jsonl"
    exported.write_text("".join(json.dumps({"id": i + 1, **d, "label": ["frame:none", "stance:neutral"]}) + "\n"
                                for i, d in enumerate(docs)), encoding="utf-8")
    back = tmp_path / "back.jsonl"
    assert main(["data", "import", "--format", "doccano", str(exported), "-o", str(back)]) == 0
    assert [r["id"] for r in lines(back)] == [d["paragraph_id"] for d in docs]


def test_export_that_is_not_json_is_a_user_error(tmp_path, capsys):
    bad, out = tmp_path / "export.json", tmp_path / "out.jsonl"
    bad.write_text('[{"id": 1, "data": {"text": "x"}', encoding="utf-8")
    assert main(["data", "import", "--format", "label-studio", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: line 1: not valid JSON") and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))
    broken = tmp_path / "doccano.jsonl"
    broken.write_text('{"text": "a", "label": ["stance:neutral"]}\n{"text": "b", "label": \n', encoding="utf-8")
    assert main(["data", "import", "--format", "doccano", str(broken), "-o", str(out)]) == 2
    assert f"{broken}: line 2: not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("fields:\n  frame: frame\nlabel:\n  Pro: support\n", "line 3: unknown key 'label'"),
    ("fields:\n  topic: tone\n", "line 2: fields.topic: 'tone' is not one of our fields"),
    ("labels:\n  Pro: support\n  Meh: lukewarm\n", "line 3: labels.Meh: 'lukewarm' is not a codebook label"),
    ("fields: [frame\n", "not valid YAML"),
])
def test_bad_mapping_names_file_and_line(tmp_path, capsys, text, message):
    mapping, out = tmp_path / "mapping.yaml", tmp_path / "out.jsonl"
    mapping.write_text(text, encoding="utf-8")
    assert main(["data", "import", "--format", "doccano", str(DOCCANO_EXPORT), "-o", str(out),
                 "--mapping", str(mapping)]) == 2
    err = capsys.readouterr().err
    assert f"{mapping}: " in err and message in err
    assert not out.exists()


def test_existing_output_and_bad_select_options_are_refused(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    out.write_text("keep me\n", encoding="utf-8")
    assert main(["data", "import", "--format", "doccano", str(DOCCANO_EXPORT), "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_text() == "keep me\n"
    assert main(["select", str(tmp_path), str(FIXTURE_DATA), "-o", str(tmp_path / "s.jsonl"), "--n", "0"]) == 2
    assert "--n 0" in capsys.readouterr().err
