"""`data.licences` keeps only rows under the listed licences, and the card lists the licences a model learnt from."""

import json

from train.cli import main
from train.config import load_config
from train.data.check import check_corpus
from train.data.corpus import load_corpus, load_splits

FIXTURE = "tests/fixtures/paragraphs.jsonl"


def _two_licence_corpus(tmp_path):
    """The fixture corpus, every other article marked as real news under a research-only licence."""
    rows = [json.loads(line) for line in open(FIXTURE, encoding="utf-8")]
    articles = sorted({r["article_id"] for r in rows})
    restricted = set(articles[::2])
    for r in rows:
        if r["article_id"] in restricted:
            r.update(origin="real", source="test-source", outlet="Test Outlet", licence="research-only",
                     url=None)
        else:
            r.update(origin="written", source="written", licence="CC-BY-4.0")
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path, restricted


def test_licence_filter_leaves_out_the_other_rows(tmp_path):
    path, restricted = _two_licence_corpus(tmp_path)
    cfg = load_config("configs/debug.yaml", [f"data.path={path}", "data.licences=[CC-BY-4.0]"])
    labels = cfg.task.label_set()
    kept = load_corpus(cfg.data.path, labels, cfg.data.licences, **cfg.data.fields)
    assert kept and all(r["licence"] == "CC-BY-4.0" for r in kept)
    assert not {r["article_id"] for r in kept} & restricted
    splits = load_splits(cfg.data, labels, cfg.seed)
    assert all(set(ds["licence"]) == {"CC-BY-4.0"} for ds in splits.values())


def test_licence_filter_that_keeps_nothing_names_the_licences_found(tmp_path, capsys):
    path, _ = _two_licence_corpus(tmp_path)
    code = main(["train", "configs/debug.yaml", f"data.path={path}", "data.licences=[CC-BY-SA-4.0]",
                 f"output.dir={tmp_path / 'runs'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert "keeps no row" in err and "CC-BY-4.0" in err and "research-only" in err
    assert not (tmp_path / "runs" / "debug").exists()


def test_trained_model_card_lists_only_the_kept_licences(tmp_path):
    path, _ = _two_licence_corpus(tmp_path)
    out = tmp_path / "runs"
    assert main(["train", "configs/debug.yaml", f"data.path={path}", "data.licences=[CC-BY-4.0]",
                 f"output.dir={out}", "output.evaluate=false", "training.epochs=1.0"]) == 0
    metrics = json.loads((out / "debug" / "metrics.json").read_text())
    assert set(metrics["training_data"]["licence"]) == {"CC-BY-4.0"}
    card = (out / "debug" / "README.md").read_text()
    assert "Licences of the paragraphs the model learnt from" in card and "`CC-BY-4.0`" in card
    assert "research-only" not in card


def test_data_check_reads_several_files_and_counts_real_rows_by_source_and_licence(tmp_path, capsys):
    path, restricted = _two_licence_corpus(tmp_path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    real = tmp_path / "real.jsonl"
    written = tmp_path / "written.jsonl"
    real.write_text("".join(json.dumps(r) + "\n" for r in rows if r["origin"] == "real"))
    written.write_text("".join(json.dumps(r) + "\n" for r in rows if r["origin"] == "written"))
    stats = check_corpus(written, real)
    assert stats["origins"] == {"written": sum(r["origin"] == "written" for r in rows),
                                "real": sum(r["origin"] == "real" for r in rows)}
    assert stats["real"]["articles"] == len(restricted)
    assert stats["real"]["licences"] == {"research-only": stats["origins"]["real"]}
    assert main(["data", "check", str(written), str(real)]) == 0
    out = capsys.readouterr().out
    assert "real (published news):" in out and "1 sources, 1 outlets" in out


def test_data_check_refuses_a_real_row_without_licence_or_outlet(tmp_path, capsys):
    path, _ = _two_licence_corpus(tmp_path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    first_real = next(i for i, r in enumerate(rows) if r["origin"] == "real")
    del rows[first_real]["licence"]
    rows[first_real + 1]["outlet"] = ""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["data", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"line {first_real + 1}: missing field 'licence'" in err
    assert f"line {first_real + 2}: field 'outlet' must be a non-empty string" in err
