"""Multi-label `frames` runs: thresholds tuned on validation, multi-label metrics, and every consumer of a run
directory (pipeline, evaluate, predict, card) applying the same thresholds."""

import json
import re
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score, hamming_loss

from train.cli import main
from train.labels import CODEBOOK_LABELS, LabelSet
from train.modeling.thresholds import tune_thresholds

FRAMES = LabelSet("frames", tuple(CODEBOOK_LABELS["frames"]), "multi_label_classification")


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2, max_value=60), st.integers(min_value=0, max_value=2**31 - 1))
def test_tuned_thresholds_never_score_below_the_fixed_half(n, seed):
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 2, size=(n, 3))
    probs = np.clip(gold * rng.uniform(0.0, 0.6) + rng.uniform(0, 1, size=(n, 3)) * 0.7, 0, 1)
    info = tune_thresholds(probs, gold, FRAMES)
    cut = np.asarray([info["thresholds"][name] for name in FRAMES.names])
    tuned = f1_score(gold, (probs >= cut).astype(int), average="macro", zero_division=0)
    fixed = f1_score(gold, (probs >= 0.5).astype(int), average="macro", zero_division=0)
    assert tuned >= fixed - 1e-12
    assert info["validation_macro_f1_tuned"] == pytest.approx(tuned)
    assert info["validation_macro_f1_at_0.5"] == pytest.approx(fixed)


def test_tuning_finds_a_separating_threshold():
    probs = np.array([[0.30, 0.9, 0.1], [0.35, 0.8, 0.2], [0.10, 0.2, 0.6], [0.05, 0.1, 0.7]])
    gold = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 1]])
    info = tune_thresholds(probs, gold, FRAMES)
    assert 0.10 < info["thresholds"]["counter_terrorism"] <= 0.30
    assert info["validation_macro_f1_tuned"] == 1.0 > info["validation_macro_f1_at_0.5"]


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_run_stores_thresholds_and_multilabel_metrics(tiny_multilabel_run):
    run = tiny_multilabel_run
    labels = json.loads((run / "labels.json").read_text())
    assert labels["problem_type"] == "multi_label_classification" and labels["field"] == "frames"
    assert json.loads((run / "config.json").read_text())["problem_type"] == "multi_label_classification"
    thresholds = json.loads((run / "thresholds.json").read_text())
    assert set(thresholds["thresholds"]) == set(labels["labels"])
    assert thresholds["validation_macro_f1_tuned"] >= thresholds["validation_macro_f1_at_0.5"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["validation"]["macro_f1"] == pytest.approx(thresholds["validation_macro_f1_tuned"])
    test = metrics["test"]
    for key in ("macro_f1", "micro_f1", "exact_match", "hamming_loss", "per_class", "no_label", "at_0.5"):
        assert key in test


def test_stored_metrics_follow_from_the_stored_predictions(tiny_multilabel_run):
    """metrics.json is recomputed here from test_predictions.jsonl with sklearn: same figures."""
    run = tiny_multilabel_run
    records = _read_jsonl(run / "test_predictions.jsonl")
    names = FRAMES.names

    def hot(values):
        return [int(n in values) for n in names]

    gold = np.array([hot(r["gold"]) for r in records])
    pred = np.array([hot(r["predicted"]) for r in records])
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert test["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro", zero_division=0))
    assert test["micro_f1"] == pytest.approx(f1_score(gold, pred, average="micro", zero_division=0))
    assert test["hamming_loss"] == pytest.approx(hamming_loss(gold, pred))
    assert test["exact_match"] == pytest.approx((gold == pred).all(axis=1).mean())
    # a paragraph with no label above its threshold is reported as `none`, never as an empty list
    assert all(r["predicted"] and (r["predicted"] == ["none"]) == (not pred[i].any()) for i, r in enumerate(records))
    cut = json.loads((run / "thresholds.json").read_text())["thresholds"]
    for r in records:
        expected = [n for n in names if r["probabilities"][n] >= cut[n]] or ["none"]
        assert r["predicted"] == expected


def test_multilabel_run_loads_with_pipeline_top_k_none(tiny_multilabel_run):
    from transformers import pipeline

    record = _read_jsonl(tiny_multilabel_run / "test_predictions.jsonl")[0]
    classifier = pipeline("text-classification", model=str(tiny_multilabel_run), top_k=None)
    scores = {s["label"]: s["score"] for s in classifier([record["text"]])[0]}
    assert set(scores) == set(FRAMES.names)
    for name, value in scores.items():  # sigmoid per label, the same numbers the run stored
        assert value == pytest.approx(record["probabilities"][name], abs=1e-5)


def _thresholds_copy(run, tmp_path, value):
    copy = tmp_path / f"run-{value}"
    shutil.copytree(run, copy)
    info = json.loads((copy / "thresholds.json").read_text())
    info["thresholds"] = dict.fromkeys(info["thresholds"], value)
    (copy / "thresholds.json").write_text(json.dumps(info))
    return copy


def test_predict_applies_the_run_thresholds(tiny_multilabel_run, tmp_path):
    article = tmp_path / "articles" / "a.txt"
    article.parent.mkdir()
    article.write_text("Strikes hit militant camps overnight.\n\nAid agencies warned of hunger in the camps.\n")
    outputs = {}
    for value in (0.0, 1.01):
        run = _thresholds_copy(tiny_multilabel_run, tmp_path, value)
        out = tmp_path / f"pred-{value}.jsonl"
        assert main(["predict", str(run), str(article.parent), "--output", str(out)]) == 0
        outputs[value] = _read_jsonl(out)
    assert all(r["frames"] == list(FRAMES.names) for r in outputs[0.0])
    assert all(r["frames"] == ["none"] for r in outputs[1.01])
    assert all(set(r["frames_probabilities"]) == set(FRAMES.names) for r in outputs[0.0])


def test_joint_prediction_keeps_each_model_under_its_own_key(tiny_run, tiny_multilabel_run, tmp_path):
    article = tmp_path / "in" / "a.txt"
    article.parent.mkdir()
    article.write_text("Headline about strikes\n\nThe strikes hit a depot, officials said.\n")
    out = tmp_path / "joint.jsonl"
    assert main(["predict", str(tiny_run), str(tiny_multilabel_run), str(article), "--output", str(out)]) == 0
    records = _read_jsonl(out)
    assert len(records) == 2
    for r in records:
        assert isinstance(r["frame"], str) and isinstance(r["frames"], list)
        assert set(r["frame_probabilities"]) == set(CODEBOOK_LABELS["frame"])
        assert set(r["frames_probabilities"]) == set(FRAMES.names)
        assert set(r["models"]) == {"frame", "frames"}
    summaries = _read_jsonl(out.with_name("joint.articles.jsonl"))
    assert {"frame_shares", "frames_shares", "frame_dominant", "frames_dominant"} <= set(summaries[0])


def test_evaluate_scores_a_multilabel_run_with_its_thresholds(tiny_multilabel_run, tmp_path):
    out = tmp_path / "eval"
    assert main(["evaluate", "configs/eval-frames-multilabel-minilm.yaml", f"run_dir={tiny_multilabel_run}",
                 f"output_dir={out}", "bootstrap_samples=100"]) == 0
    results = json.loads((out / "metrics.json").read_text())
    stored = json.loads((tiny_multilabel_run / "metrics.json").read_text())["test"]
    model = results["model"]
    for key in ("macro_f1", "micro_f1", "exact_match", "hamming_loss"):
        assert model[key] == pytest.approx(stored[key], abs=1e-9)
        assert model["bootstrap"][key]["ci"][0] <= model["bootstrap"][key]["point"] <= model["bootstrap"][key]["ci"][1]
    assert model["bootstrap"]["macro_f1"]["point"] == pytest.approx(model["macro_f1"])
    gain = results["tfidf_logreg"]["gain_macro_f1"]
    assert gain["point"] == pytest.approx(model["macro_f1"] - results["tfidf_logreg"]["macro_f1"])
    report = (out / "report.md").read_text()
    assert "Decision thresholds" in report and "exact match" in report and "Confusion matrix" not in report
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "predictions.jsonl", "report.md"]


def test_multilabel_card_reports_multilabel_metrics_and_a_working_snippet(tiny_multilabel_run, capsys):
    from huggingface_hub import ModelCard

    text = (tiny_multilabel_run / "README.md").read_text()
    card = ModelCard.load(tiny_multilabel_run / "README.md")
    results = {r.metric_name: r.metric_value for r in card.data.eval_results}
    test = json.loads((tiny_multilabel_run / "metrics.json").read_text())["test"]
    assert results["Micro F1"] == round(test["micro_f1"], 4) and results["Macro F1"] == round(test["macro_f1"], 4)
    assert results["Exact match"] == round(test["exact_match"], 4)
    assert "thresholds.json" in text and "top_k=None" in text and not re.search(r"\{\{|\}\}|n/a", text)
    snippet = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    exec(compile(snippet, "card-snippet", "exec"), {})
    printed = capsys.readouterr().out
    assert printed.startswith("[") and "'score'" in printed and "'label'" in printed
