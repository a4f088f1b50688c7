import json

import pytest

from train.cli import main


@pytest.fixture(scope="module")
def evaluation(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "test-eval"
    code = main(["evaluate", "configs/eval-frame-minilm.yaml", f"run_dir={tiny_run}", f"output_dir={out}",
                 "bootstrap_samples=200"])
    assert code == 0
    return out


def test_evaluation_directory_is_complete(evaluation):
    names = sorted(p.name for p in evaluation.iterdir())
    assert names == ["confusion_matrix.png", "metrics.json", "predictions.jsonl", "reliability.png", "report.md"]


def test_metrics_have_cis_containing_the_point_and_baselines(evaluation, tiny_run):
    metrics = json.loads((evaluation / "metrics.json").read_text())
    run_metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["n"] == run_metrics["test"]["n"], "the re-created test split must be the run's test split"
    assert metrics["model"]["macro_f1"] == pytest.approx(run_metrics["test"]["macro_f1"], abs=1e-6)
    for system in ("model", "tfidf_logreg", "majority"):
        boot = metrics[system]["bootstrap"]
        low, high = boot["macro_f1"]["ci"]
        assert low <= boot["macro_f1"]["point"] <= high
        assert boot["macro_f1"]["point"] == pytest.approx(metrics[system]["macro_f1"])
        for entry in boot["per_class_f1"]:
            assert entry["ci"][0] <= entry["point"] <= entry["ci"][1]
    gain = metrics["tfidf_logreg"]["gain_macro_f1"]
    assert gain["point"] == pytest.approx(metrics["model"]["macro_f1"] - metrics["tfidf_logreg"]["macro_f1"])
    assert metrics["calibration"]["temperature"] > 0
    assert {"conflict", "source_type"} <= set(metrics["by_field"])


def test_report_renders_every_class_and_the_plots(evaluation, tiny_run):
    report = (evaluation / "report.md").read_text()
    for name in json.loads((tiny_run / "labels.json").read_text())["labels"]:
        assert f"`{name}`" in report
    assert "](confusion_matrix.png)" in report and "](reliability.png)" in report
    assert "TF-IDF + logistic regression" in report and "Most confident errors" in report


def test_temperature_is_stored_positive_and_lowers_validation_nll(tiny_run):
    temperature = json.loads((tiny_run / "temperature.json").read_text())
    assert temperature["temperature"] > 0
    assert temperature["validation_nll_after"] <= temperature["validation_nll_before"]
