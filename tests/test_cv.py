import json

from train.evaluation.cv import grouped_folds
from train.labels import label_set_for

FRAME = label_set_for("frame", None, None)


def corpus(n_articles=30):
    frames = FRAME.names
    return [{"id": f"{a}-{p}", "article_id": f"art{a}", "text": f"text {a} {p}", "frame": frames[(a + p) % 4]}
            for a in range(n_articles) for p in range(4)]


def test_grouped_folds_never_share_an_article_and_cover_every_paragraph_once():
    records = corpus()
    tested = []
    for rest, test in grouped_folds(records, FRAME, 5, seed=0, group_field="article_id"):
        assert not {r["article_id"] for r in rest} & {r["article_id"] for r in test}
        assert len(rest) + len(test) == len(records)
        tested += [r["id"] for r in test]
    assert sorted(tested) == sorted(r["id"] for r in records)


def test_grouped_folds_are_deterministic_for_a_seed():
    records = corpus()
    first = [[r["id"] for r in test] for _, test in grouped_folds(records, FRAME, 4, seed=1, group_field="article_id")]
    again = [[r["id"] for r in test] for _, test in grouped_folds(records, FRAME, 4, seed=1, group_field="article_id")]
    assert first == again


def test_cv_command_writes_per_fold_results_and_summary(tmp_path):
    from train.cli import main

    assert main(["cv", "configs/debug.yaml", f"output.dir={tmp_path}", "training.epochs=1", "--folds", "2"]) == 0
    out = tmp_path / "debug-cv2"
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["model"]["macro_f1"]["folds"]) == 2
    assert set(summary["tfidf_logreg"]["per_class_f1"]) == set(FRAME.names)
    sizes = [json.loads((out / f"fold{k}" / "metrics.json").read_text())["sizes"]["test"] for k in range(2)]
    assert sum(sizes) == sum(1 for _ in open("tests/fixtures/paragraphs.jsonl"))
    assert not list(out.glob("fold*/checkpoints"))
