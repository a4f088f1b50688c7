"""Training on written and real rows: the real test split, row weights, leave-one-source-out, the card's tables."""

import json

import pytest

from train.cli import main
from train.config import load_config
from train.data.corpus import load_corpus, load_splits, row_weights, split_with_real_test

FIXTURE = "tests/fixtures/paragraphs.jsonl"


@pytest.fixture()
def mixed_corpus(tmp_path):
    """The fixture corpus with two of every three articles turned into real news from three sources; a third of
    the real articles listed as the real test split."""
    rows = [json.loads(line) for line in open(FIXTURE, encoding="utf-8")]
    articles = sorted({r["article_id"] for r in rows})
    real = [a for i, a in enumerate(articles) if i % 3]
    source_of = {a: f"source-{i % 3}" for i, a in enumerate(real)}
    for r in rows:
        if r["article_id"] in source_of:
            r.update(origin="real", source=source_of[r["article_id"]], outlet="Outlet", licence="CC-BY-4.0", url=None)
        else:
            r.update(origin="written", source="written", licence="Apache-2.0")
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    test_list = tmp_path / "test-articles.txt"
    test_list.write_text("# real test split\n" + "\n".join(real[1::4]) + "\n")
    return path, test_list, set(real[1::4])


def test_real_test_split_holds_out_exactly_the_listed_articles(mixed_corpus):
    path, test_list, held = mixed_corpus
    cfg = load_config("configs/debug.yaml", [f"data.path={path}", f"data.test_articles={test_list}"])
    labels = cfg.task.label_set()
    records = load_corpus(cfg.data.path, labels, **cfg.data.fields)
    splits = split_with_real_test(records, labels, cfg.data, cfg.seed)
    assert {r["article_id"] for r in splits["test"]} == held
    assert all(r["origin"] == "real" for r in splits["test"])
    assert all(r["origin"] == "written" for r in splits["test_written"])
    seen = [r["article_id"] for name in ("train", "validation") for r in splits[name]]
    assert not set(seen) & held
    assert not set(seen) & {r["article_id"] for r in splits["test_written"]}
    assert {r["origin"] for r in splits["train"]} == {"written", "real"}
    # The written test split is the one a written-only run gets with the same seed.
    written_only = load_config("configs/debug.yaml", [f"data.path={path}", "data.licences=[Apache-2.0]"])
    alone = load_splits(written_only.data, labels, written_only.seed)
    assert sorted(alone["test"]["id"]) == sorted(r["id"] for r in splits["test_written"])


def test_row_weights_follow_source_then_origin_and_average_one():
    rows = [{"origin": "written", "source": "written"}, {"origin": "real", "source": "a"},
            {"origin": "real", "source": "b"}, {"origin": "real", "source": "b"}]
    weights = row_weights(rows, {"written": 0.5, "real": 1.0, "a": 2.0})
    assert sum(weights) == pytest.approx(len(rows))
    assert weights[1] == pytest.approx(4 * weights[0]) and weights[2] == pytest.approx(2 * weights[0])


def test_calibration_and_thresholds_are_fitted_on_real_validation_rows_when_there_are_enough():
    import numpy as np

    from train.modeling.calibration import MIN_REAL_FIT_ROWS, fitting_rows

    logits = np.arange(200 * 3, dtype=float).reshape(200, 3)
    gold = list(range(200))
    rows = [{"origin": "real" if i % 2 else "written"} for i in range(200)]
    (fit_logits, fit_gold), name = fitting_rows(rows, (logits, gold))
    assert fit_gold == [i for i in range(200) if i % 2] and np.array_equal(fit_logits, logits[1::2])
    assert name == "validation (real paragraphs only, n=100)"
    few = [{"origin": "real" if i < MIN_REAL_FIT_ROWS - 1 else "written"} for i in range(200)]
    assert fitting_rows(few, (logits, gold)) == ((logits, gold), "validation")


def test_weighted_training_on_both_corpora_reports_real_test_first(mixed_corpus, tmp_path, capsys):
    path, test_list, held = mixed_corpus
    out = tmp_path / "runs"
    assert main(["train", "configs/debug.yaml", f"data.path={path}", f"data.test_articles={test_list}",
                 "data.weights={written: 0.5, real: 1.0}", f"output.dir={out}"]) == 0
    printed = capsys.readouterr().out
    assert printed.index("Real test split") < printed.index("Written test split")
    run = out / "debug"
    metrics = json.loads((run / "metrics.json").read_text())
    assert list(metrics)[:2] == ["test", "test_written"]
    assert metrics["split_origins"]["test"] == "real" and metrics["split_origins"]["test_written"] == "written"
    assert metrics["test"]["n"] == sum(1 for line in open(path) if json.loads(line)["article_id"] in held)
    assert (run / "eval-test" / "metrics.json").is_file() and (run / "eval-test_written" / "metrics.json").is_file()
    eval_test = json.loads((run / "eval-test" / "metrics.json").read_text())
    assert eval_test["source"].startswith("real test split")
    assert eval_test["calibration"]["temperature_source"] == str(out / "debug" / "temperature.json")
    assert "Beside it, the written test split" in (run / "eval-test" / "report.md").read_text()
    card = (run / "README.md").read_text()
    assert "Held-out real test split" in card and "| written test |" in card


def test_leave_one_source_out_scores_each_real_source_alone_and_feeds_the_card(mixed_corpus, tmp_path, capsys):
    path, test_list, held = mixed_corpus
    out = tmp_path / "runs"
    common = ["configs/debug.yaml", f"data.path={path}", f"data.test_articles={test_list}", f"output.dir={out}",
              "training.epochs=1.0"]
    assert main(["cv", *common, "--group-field", "source", "--min-group-rows", "10"]) == 0
    printed = capsys.readouterr().out
    assert "Leave-one-source-out" in printed and "| **mean** |" in printed
    summary = json.loads((out / "debug-losourceo" / "summary.json").read_text())
    rows = [json.loads(line) for line in open(path)]
    for fold in summary["per_group"]:
        expected = [r for r in rows if r["source"] == fold["group"] and r["article_id"] not in held]
        assert fold["n"] == len(expected)  # the real test split takes no part
    assert {f["group"] for f in summary["per_group"]} == {"source-0", "source-1", "source-2"}
    assert "written" not in {f["group"] for f in summary["per_group"]}
    assert main(["train", *common, "output.evaluate=false"]) == 0
    assert main(["card", str(out / "debug"), "--out-of-source", str(out / "debug-losourceo")]) == 0
    card = (out / "debug" / "README.md").read_text()
    assert "### Out of source" in card and "| held-out source |" in card


def test_leave_one_out_without_real_rows_is_a_clear_error(capsys):
    assert main(["cv", "configs/debug.yaml", "--group-field", "source"]) == 2
    assert "no real rows" in capsys.readouterr().err


def test_compare_gives_the_gain_over_a_written_only_run_and_refuses_a_leaky_baseline(mixed_corpus, tmp_path, capsys):
    path, test_list, held = mixed_corpus
    out = tmp_path / "runs"
    common = ["configs/debug.yaml", f"output.dir={out}", "training.epochs=1.0", "output.evaluate=false",
              "output.write_card=false"]
    assert main(["train", *common, f"data.path={path}", f"data.test_articles={test_list}"]) == 0
    written = tmp_path / "written.jsonl"
    written.write_text("".join(line for line in open(path) if '"origin": "written"' in line))
    assert main(["train", *common, f"data.path={written}", "run_name=written-only"]) == 0
    capsys.readouterr()
    report = tmp_path / "gain.json"
    assert main(["compare", str(out / "debug"), str(out / "written-only"), "-o", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "gain" in printed and "95% CI" in printed
    result = json.loads(report.read_text())
    assert result["articles"] == len(held) and result["gain"]["ci"][0] <= result["gain"]["point"] <= result["gain"]["ci"][1]
    # A baseline that trained on the scored articles is refused.
    assert main(["train", *common, f"data.path={path}", "data.test_articles=null", "run_name=leaky"]) == 0
    assert main(["compare", str(out / "debug"), str(out / "leaky")]) == 2
    assert "would flatter it" in capsys.readouterr().err
