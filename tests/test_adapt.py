"""`framing adapt`: masked-LM pretraining on unlabelled paragraphs runs, resumes, and serves as a base model."""

import json

import pytest

from train.cli import main
from train.modeling import adapt

TINY = "tests/fixtures/tiny-bert"


@pytest.fixture()
def corpus(tmp_path):
    rows = [json.loads(line) for line in open("tests/fixtures/paragraphs.jsonl", encoding="utf-8")]
    path = tmp_path / "unlabelled.jsonl"
    path.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows))
    return path, rows


def _args(corpus_path, out, *extra):
    return ["adapt", str(corpus_path), "--base", TINY, "-o", str(out), "--batch-size", "8", "--max-length", "32",
            "--save-steps", "2", "--head-warmup-steps", "1", *extra]


def test_adapt_runs_resumes_and_its_output_trains_as_a_base_model(corpus, tmp_path, monkeypatch):
    path, _ = corpus
    out = tmp_path / "adapted"
    real_finish = adapt._finish

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(adapt, "_finish", interrupted)
    assert main(_args(path, out, "--max-steps", "4")) == 130
    assert not out.exists() and (tmp_path / ".adapted.adapting" / "checkpoints" / "checkpoint-4").is_dir()
    assert main(_args(path, out, "--max-steps", "4")) == 2  # an interrupted run is never silently restarted
    monkeypatch.setattr(adapt, "_finish", real_finish)
    assert main(_args(path, out, "--max-steps", "6", "--resume")) == 0
    info = json.loads((out / "adapt.json").read_text())
    assert info["steps"] == 6 and info["stopped_by"] == "max_steps" and info["paragraphs"] > 100
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    assert not (tmp_path / ".adapted.adapting").exists()
    runs = tmp_path / "runs"
    assert main(["train", "configs/debug.yaml", f"model.name_or_path={out}", f"output.dir={runs}",
                 "training.epochs=1.0", "output.evaluate=false"]) == 0
    assert (runs / "debug" / "model.safetensors").is_file()


def test_adapt_excludes_labelled_paragraphs_and_refuses_a_foreign_output(corpus, tmp_path, capsys):
    path, rows = corpus
    held = tmp_path / "held.jsonl"
    held.write_text("".join(json.dumps(r) + "\n" for r in rows[:40]))
    texts = adapt.collect_paragraphs([str(path)], "text", (str(held),))
    assert len(texts) == len({r["text"] for r in rows[40:]} - {r["text"] for r in rows[:40]})
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.txt").write_text("mine")
    assert main(_args(path, foreign, "--max-steps", "2", "--overwrite")) == 2
    assert "not a folder written by `framing adapt`" in capsys.readouterr().err
    assert (foreign / "chapter1.txt").read_text() == "mine"


def test_adapt_time_budget_stops_early_and_says_so(corpus, tmp_path):
    path, _ = corpus
    out = tmp_path / "budget"
    assert main(_args(path, out, "--max-steps", "500", "--time-budget", "0.0001")) == 0
    info = json.loads((out / "adapt.json").read_text())
    assert info["stopped_by"] == "time budget" and info["steps"] < 500
