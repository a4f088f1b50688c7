import json
import subprocess
import sys

import pytest
import yaml

from train.config import RunConfig
from train.errors import UserError
from train.rundir import RUN_FILES, atomic_directory


def test_training_writes_every_run_directory_file(tiny_run):
    missing = [name for name in RUN_FILES if not (tiny_run / name).is_file()]
    assert missing == []
    assert any((tiny_run / "logs").glob("events.out.tfevents.*")), "TensorBoard events expected"
    assert not (tiny_run / "checkpoints").exists()
    assert not list(tiny_run.parent.glob(".debug.partial-*")), "temporary build folder left behind"


def test_run_directory_ships_no_pickles(tiny_run):
    assert sorted(p.name for p in tiny_run.rglob("*.bin")) == []
    assert sorted(p.name for p in tiny_run.rglob("*.pt")) == []


def test_resolved_config_reloads_and_labels_match_model(tiny_run):
    cfg = RunConfig.model_validate(yaml.safe_load((tiny_run / "config.yaml").read_text()))
    labels = json.loads((tiny_run / "labels.json").read_text())
    model_config = json.loads((tiny_run / "config.json").read_text())
    assert labels["labels"] == list(cfg.task.label_set().names)
    assert model_config["id2label"] == {str(i): n for i, n in enumerate(labels["labels"])}
    assert model_config["label2id"] == {n: i for i, n in enumerate(labels["labels"])}


def test_metrics_hold_macro_f1_per_class_and_confusion(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    names = json.loads((tiny_run / "labels.json").read_text())["labels"]
    for split in ("validation", "test"):
        report = metrics[split]
        assert 0.0 <= report["macro_f1"] <= 1.0
        assert list(report["per_class"]) == names
        matrix = report["confusion_matrix"]["matrix"]
        assert sum(map(sum, matrix)) == report["n"] == metrics["split_sizes"][split]
    preds = [json.loads(line) for line in (tiny_run / "test_predictions.jsonl").read_text().splitlines()]
    assert len(preds) == metrics["test"]["n"]
    assert all(abs(sum(p["probabilities"].values()) - 1) < 1e-3 for p in preds)
    accuracy = sum(p["predicted"] == p["gold"] for p in preds) / len(preds)
    assert accuracy == pytest.approx(metrics["test"]["accuracy"])


def test_stored_test_predictions_match_a_fresh_pipeline(tiny_run):
    # Guards row alignment: each stored prediction must be what the saved model says for that very text.
    from transformers import pipeline

    preds = [json.loads(line) for line in (tiny_run / "test_predictions.jsonl").read_text().splitlines()]
    classifier = pipeline("text-classification", model=str(tiny_run), top_k=None)
    fresh = classifier([p["text"] for p in preds], truncation=True, max_length=64)
    for stored, scores in zip(preds, fresh):
        by_label = {s["label"]: s["score"] for s in scores}
        assert max(by_label, key=by_label.get) == stored["predicted"]
        for name, p in stored["probabilities"].items():
            assert abs(by_label[name] - p) < 1e-4


def test_run_json_records_command_and_revision(tiny_run):
    run = json.loads((tiny_run / "run.json").read_text())
    assert "configs/debug.yaml" in run["command"] or run["command"]
    assert set(run["git"]) == {"commit", "dirty"}
    assert run["versions"]["transformers"].startswith("5.")


def test_run_directory_loads_with_transformers_pipeline(tiny_run):
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(tiny_run))
    out = classifier(["Aid convoys reached the besieged town.", "Talks resume on Monday."])
    names = json.loads((tiny_run / "labels.json").read_text())["labels"]
    assert [o["label"] in names for o in out] == [True, True]


def test_existing_run_directory_is_not_overwritten(tiny_run):
    from train.pipeline import run_training

    before = (tiny_run / "model.safetensors").stat().st_mtime_ns
    with pytest.raises(UserError, match="already exists"):
        run_training("configs/debug.yaml", [f"output.dir={tiny_run.parent}"])
    assert (tiny_run / "model.safetensors").stat().st_mtime_ns == before


def test_atomic_directory_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with atomic_directory(target, overwrite=False) as work:
            (work / "half.txt").write_text("x")
            raise RuntimeError("crash mid-run")
    assert list(tmp_path.iterdir()) == []


def test_evaluate_refuses_labels_outside_the_run_label_set(tiny_run, tmp_path, capsys):
    from train.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "1", "article_id": "a", "text": "Some text.", "frame": "economy"}) + "\n")
    code = main(["evaluate", "configs/eval-frame-minilm.yaml", f"run_dir={tiny_run}", f"data_file={bad}",
                 f"output_dir={tmp_path / 'o'}", "bootstrap_samples=100"])
    assert code == 2
    assert "line 1: field 'frame' has 'economy'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_train_refuses_existing_run_with_exit_2(tiny_run):
    proc = subprocess.run([sys.executable, "-m", "train.cli", "train", "configs/debug.yaml",
                           f"output.dir={tiny_run.parent}"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and "Traceback" not in proc.stderr
