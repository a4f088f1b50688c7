"""`framing card RUN_DIR`: a Hugging Face model card (README.md) built offline from the run directory alone.

Uses huggingface_hub ModelCard / ModelCardData / EvalResult and the template in templates/modelcard.md.
"""

from __future__ import annotations

import json
import shlex
from importlib import resources
from pathlib import Path

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from train.errors import UserError
from train.labels import EMPTY_MULTI_LABEL, MULTI_LABEL
from train.modeling.thresholds import THRESHOLDS_FILE
from train.rundir import read_json

# Short statements of data/codebook.md, one per label.
LABEL_MEANINGS = {
    "counter_terrorism": "Force presented as fighting terrorists, militants, insurgents or other armed non-state groups, "
                         "or protecting people from their attacks; the adversary that matters is a non-state armed group.",
    "power_projection": "Force or military presence presented as a state's pursuit of influence, standing, leverage or "
                        "advantage over other states: rivalry, bases, alliances, proxies, deterrence, credibility.",
    "humanitarian": "The conflict presented through its effect on people who are not fighting: civilian deaths, "
                    "displacement, hunger, aid access, rights and protection of civilians.",
    "none": "No frame is the point: datelines, attributions, logistics of talks, neutral background, boilerplate, "
            "or text not about the conflict.",
    "support": "Endorses, justifies or credits the intervention as legitimate, necessary or effective (whoever voices it).",
    "oppose": "Criticises, delegitimises or doubts the intervention: its motives, legality, costs or results.",
    "neutral": "Reports without evaluation, or balances both sides evenly.",
}

CITATION = """@software{framing_toolkit,
  title  = {framing: framing and stance classifiers for news paragraphs about armed conflicts},
  year   = {2026},
  note   = {Model card and run directory written by `framing card`}
}"""


def _fmt(value, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "n/a"


def is_hub_id(name: str) -> bool:
    """`org/name` that is not a local path: the only form the Hub's base_model field accepts."""
    return name.count("/") == 1 and not name.startswith((".", "/", "~")) and not Path(name).exists()


def _card_data(run_name: str, base_model: str, labels: dict, metrics: dict) -> ModelCardData:
    test = metrics["test"]
    dataset_name = "framing paragraphs (project corpus, test split)"
    common = dict(task_type="text-classification", task_name="Text Classification",
                  dataset_type="framing-paragraphs", dataset_name=dataset_name, dataset_split="test")
    results = []
    if "accuracy" in test:
        results.append(EvalResult(metric_type="accuracy", metric_name="Accuracy",
                                  metric_value=round(test["accuracy"], 4), **common))
    results.append(EvalResult(metric_type="f1", metric_name="Macro F1", metric_config="macro",
                              metric_value=round(test["macro_f1"], 4), **common))
    if "micro_f1" in test:
        results.append(EvalResult(metric_type="f1", metric_name="Micro F1", metric_config="micro",
                                  metric_value=round(test["micro_f1"], 4), **common))
        results.append(EvalResult(metric_type="exact_match", metric_name="Exact match",
                                  metric_value=round(test["exact_match"], 4), **common))
        results.append(EvalResult(metric_type="hamming_loss", metric_name="Hamming loss",
                                  metric_value=round(test["hamming_loss"], 4), **common))
    for name, cls in test["per_class"].items():
        results.append(EvalResult(metric_type="f1", metric_name=f"F1 ({name})", metric_config=name,
                                  metric_value=round(cls["f1"], 4), **common))
    hub_base = base_model if is_hub_id(base_model) else None
    return ModelCardData(
        language="en",
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="text-classification",
        base_model=hub_base,
        tags=["text-classification", "framing", "stance-detection" if labels["field"] == "stance" else "news-framing",
              "armed-conflict", "political-communication"],
        metrics=["accuracy", "f1"] if "accuracy" in test else ["f1", "exact_match"],
        model_name=run_name,
        eval_results=results,
    )


def _data_section(metrics: dict, labels: dict) -> str:
    sizes, articles = metrics["split_sizes"], metrics.get("split_articles", {})
    counts = metrics.get("label_counts", {})
    provenance = metrics.get("training_data", {})
    origins = provenance.get("origin", {})
    if origins.get("real"):
        about = (f"The model learnt from real published news ({origins['real']} paragraphs, labelled by blind "
                 f"double annotation with blind adjudication) and from text written for this project "
                 f"({origins.get('written', 0)} paragraphs). Sources, outlets, licences and agreement figures are "
                 "in the data card `data/README.md`.")
    else:
        about = ("The text was written for this project (no sentence copied from any source); the labels were "
                 "checked by blind double annotation of a sample, adjudication and a consistency review. Conflicts, "
                 "years, outlet types and agreement figures are in the data card `data/README.md`.")
    lines = [
        "English news paragraphs about armed conflicts and military interventions, each labelled by the project "
        "codebook. " + about,
        "",
        "| split | paragraphs | articles |" + "".join(f" `{n}` |" for n in labels["labels"]),
        "|---|---|---|" + "---|" * len(labels["labels"]),
    ]
    shown = {"test": "test (real)" if "test_written" in sizes else "test", "test_written": "test (written)"}
    for split in ("train", "validation", "test", "test_written"):
        if split not in sizes:
            continue
        per_label = counts.get(split, {})
        lines.append(f"| {shown.get(split, split)} | {sizes.get(split, 'n/a')} | {articles.get(split, 'n/a')} |"
                     + "".join(f" {per_label.get(n, 0)} |" for n in labels["labels"]))
    lines.append("")
    lines.append("Splits are grouped by `article_id` (no article in two splits) and stratified by label.")
    licences = provenance.get("licence")
    if licences:
        lines += ["", "Licences of the paragraphs the model learnt from (train and validation): "
                  + ", ".join(f"`{name}` ({count})" for name, count in licences.items())
                  + "." + (" Rows under `research-only` are publisher text redistributed for research use only."
                           if "research-only" in licences else "")
                  + " The data card says what each licence allows."]
    return "\n".join(lines)


def _limitations(metrics: dict, labels: dict, config: dict) -> list[str]:
    test = metrics["test"]
    per_class = test["per_class"]
    worst = min(per_class, key=lambda n: per_class[n]["f1"])
    best = max(per_class, key=lambda n: per_class[n]["f1"])
    items = [
        f"Weakest class on the test split: `{worst}` (F1 {_fmt(per_class[worst]['f1'], 3)}); strongest: `{best}` "
        f"(F1 {_fmt(per_class[best]['f1'], 3)}). Expect more errors on `{worst}`.",
        f"The test split is small ({test['n']} paragraphs), so figures move by several points between splits and seeds.",
        "The training text was written for this project in a news register; real outlets' style, length and topic mix "
        "differ, so accuracy on real feeds is not measured here and is likely lower.",
        ("Paragraphs mixing frames (e.g. strikes on militants that also killed civilians) carry every frame present; "
         "the decision thresholds trade precision against recall per label and were tuned on a small validation split."
         if labels["problem_type"] == MULTI_LABEL else
         "Paragraphs mixing frames (e.g. strikes on militants that also killed civilians) have one gold primary frame; "
         "the model's second choice is often the other frame present."),
        f"Text beyond {config['model']['max_length']} tokens is truncated in training and by a bare `pipeline()`; "
        "`framing predict` windows long paragraphs instead.",
        "English only. Conflicts, actors and outlet types seen in training are listed in the data card; others are "
        "out of distribution.",
    ]
    if labels["field"] == "stance":
        items.append("Stance is toward the intervention the paragraph discusses; sarcasm and implied criticism are "
                     "often read as neutral.")
    return items


def _thresholds_text(metrics: dict) -> str:
    t = metrics["thresholds"]
    cuts = ", ".join(f"`{n}` {v:.2f}" for n, v in t["thresholds"].items())
    at_half = metrics["test"].get("at_0.5", {}).get("macro_f1")
    return (f"A label is predicted when its sigmoid probability reaches its own threshold, tuned on the validation "
            f"split for the best F1 per label and stored in `{THRESHOLDS_FILE}`: {cuts}. Validation macro-F1 "
            f"{_fmt(t['validation_macro_f1_at_0.5'])} with 0.5 for every label, {_fmt(t['validation_macro_f1_tuned'])} "
            f"tuned; on the test split {_fmt(at_half)} at 0.5 and {_fmt(metrics['test']['macro_f1'])} tuned (the "
            "figures below). A paragraph with no label predicted is reported as `none`.")


def _evaluation_section(run_dir: Path) -> dict:
    """Tables from `framing evaluate` (run automatically by `framing train`) when they exist."""
    from train.evaluation.report import headline_table, per_class_table

    path = run_dir / "eval-test" / "metrics.json"
    if not path.is_file():
        return {"ci_tables": None, "calibration_text": None, "reliability_image": None}
    results = read_json(path)
    cal = results["calibration"]
    boot = results["model"]["bootstrap"]
    image = "eval-test/reliability.png" if (run_dir / "eval-test" / "reliability.png").is_file() else None
    tables = "\n".join([
        f"With 95% bootstrap intervals ({boot['n_boot']} replicates resampling whole articles) and baselines trained "
        "on the same training split and scored on the same test split:", "",
        *headline_table(results), "", *per_class_table(results),
    ])
    if "thresholds" in cal:
        return {"ci_tables": tables, "calibration_text": None, "reliability_image": None}
    fitted_on = "the validation split"
    if (run_dir / "temperature.json").is_file():
        fitted_on = "the " + read_json(run_dir / "temperature.json").get("fitted_on", "validation") + " split"
    calibration = (f"Temperature scaling (T = {cal['temperature']:.3f}, fitted on {fitted_on}) changes the test "
                   f"expected calibration error from {cal['ece_before']:.4f} to {cal['ece_after']:.4f} "
                   f"({cal['bins']} bins). The temperature is stored in `temperature.json`; `pipeline()` does not "
                   "apply it, so divide the logits by T yourself when you need calibrated probabilities.")
    return {"ci_tables": tables, "calibration_text": calibration, "reliability_image": image}


OUT_OF_SOURCE_FILE = "out_of_source.json"


def store_out_of_source(run_dir: Path, cv_dir: Path) -> Path:
    """Copy a leave-one-group-out summary into the run directory, where the card finds it."""
    source = cv_dir / "summary.json"
    if not source.is_file():
        raise UserError(f"{source}: missing; pass the folder that `framing cv CONFIG --group-field FIELD` wrote")
    summary = read_json(source)
    if "per_group" not in summary:
        raise UserError(f"{source}: not a leave-one-group-out summary (run `framing cv` with --group-field)")
    labels = read_json(run_dir / "labels.json")
    if summary["labels"] != labels["labels"]:
        raise UserError(f"{source}: labels {summary['labels']} differ from the run's {labels['labels']}")
    target = run_dir / OUT_OF_SOURCE_FILE
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    partial.replace(target)
    return target


def out_of_source_table(run_dir: Path) -> str | None:
    """The leave-one-source-out table that `framing card --out-of-source CV_DIR` stored in the run directory."""
    path = run_dir / OUT_OF_SOURCE_FILE
    if not path.is_file():
        return None
    from train.evaluation.report import group_table

    summary = read_json(path)
    lines = [f"Leave-one-{summary['group_field']}-out ({summary['config']}): each row is a model trained without that "
             f"{summary['group_field']} and scored on it alone (macro-F1 over the labels it has). Mean macro-F1 "
             f"**{summary['model']['macro_f1']['mean']:.3f}** (TF-IDF {summary['tfidf_logreg']['macro_f1']['mean']:.3f}); "
             f"all held-out paragraphs pooled: {summary['pooled']['macro_f1']:.3f}.", "",
             *group_table(summary, label_format="F1 `{}`")]
    return "\n".join(lines)


def render_card(run_dir: Path, shown_dir: Path | None = None) -> ModelCard:
    """`shown_dir` is the path the card's snippets name (the final run directory while it is still being built)."""
    shown = str(shown_dir or run_dir)
    metrics = read_json(run_dir / "metrics.json")
    labels = read_json(run_dir / "labels.json")
    run = read_json(run_dir / "run.json")
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise UserError(f"{config_path}: missing; is {run_dir} a complete run directory?")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    run_name, base_model = config["run_name"], run.get("base_model") or config["model"]["name_or_path"]
    test, val, train = metrics["test"], metrics.get("validation", {}), metrics.get("training", {})
    written = metrics.get("test_written", {})
    t = config["training"]
    headline = [("accuracy", "Accuracy"), ("macro_f1", "Macro F1"), ("weighted_f1", "Weighted F1"),
                ("micro_f1", "Micro F1"), ("exact_match", "Exact match"), ("hamming_loss", "Hamming loss")]
    example = "The strikes destroyed a militant training camp and killed two commanders of the group, the ministry said."
    multi = labels["problem_type"] == MULTI_LABEL
    if multi:
        snippet = (
            "import json\nfrom pathlib import Path\n\nfrom transformers import pipeline\n\n"
            f"run = Path({shown!r})\n"
            "classifier = pipeline(\"text-classification\", model=str(run), top_k=None)  # sigmoid per label\n"
            f"thresholds = json.loads((run / \"{THRESHOLDS_FILE}\").read_text())[\"thresholds\"]\n"
            f"scores = classifier([{example!r}])[0]  # one list of label scores per input text\n"
            "frames = [s[\"label\"] for s in scores if s[\"score\"] >= thresholds[s[\"label\"]]] or [\"none\"]\n"
            "print(frames, scores)"
        )
    else:
        snippet = (
            "from transformers import pipeline\n\n"
            f"classifier = pipeline(\"text-classification\", model={shown!r})\n"
            f"print(classifier({example!r}))"
        )
    kwargs = dict(
        model_name=run_name,
        summary=(
            f"A {labels['problem_type'].replace('_label_classification', '-label classification')} model that labels "
            "English news paragraphs about armed "
            f"conflicts and military interventions with their `{labels['field']}` ({', '.join(labels['labels'])}). "
            f"Fine-tuned from `{base_model}`. "
            + (f"Macro-F1 **{_fmt(test['macro_f1'])}** on {test['n']} held-out paragraphs of real published news "
               f"(articles no split trained on); {_fmt(written['macro_f1'])} on the project's written test split."
               if written else f"Test macro-F1 **{_fmt(test['macro_f1'])}** on {test['n']} held-out paragraphs.")
        ),
        label_field=labels["field"],
        problem_kind=("one label per paragraph" if labels["problem_type"].startswith("single")
                      else "any subset of labels per paragraph"),
        label_rows=[(n, LABEL_MEANINGS.get(n, "see data/codebook.md")) for n in labels["labels"]]
        + ([(EMPTY_MULTI_LABEL, "Reported when no label reaches its decision threshold (not a model output).")]
           if multi else []),
        thresholds_text=_thresholds_text(metrics) if multi else None,
        data_section=_data_section(metrics, labels),
        base_model=base_model,
        base_model_link=(f"[`{base_model}`](https://huggingface.co/{base_model})" if is_hub_id(base_model)
                         else f"`{base_model}` (a local model)"),
        early_stopping=bool(t.get("early_stopping_patience")),
        hyperparameters=[
            ("learning rate", t["learning_rate"]), ("max epochs", t["epochs"]), ("batch size", t["batch_size"]),
            ("gradient accumulation", t["gradient_accumulation_steps"]), ("weight decay", t["weight_decay"]),
            ("warm-up ratio", t["warmup_ratio"]), ("scheduler", t["lr_scheduler"]), ("class weights", t["class_weights"]),
            ("max length (tokens)", config["model"]["max_length"]), ("seed", config["seed"]),
        ],
        epochs_run=train.get("epochs_run", "n/a"), steps=train.get("global_steps", "n/a"),
        train_runtime=train.get("train_runtime_s", "n/a"), samples_per_second=train.get("train_samples_per_second", "n/a"),
        machine=f"{run.get('machine', {}).get('cpus', '?')} CPU cores",
        best_val=_fmt(train.get("best_checkpoint_metric")),
        n_test=test["n"], test_articles=metrics.get("split_articles", {}).get("test", "n/a"),
        headline_rows=[(label, _fmt(test[key]), _fmt(val.get(key)), _fmt(written.get(key)))
                       for key, label in headline if key in test],
        test_description=("Held-out real test split (published news, articles listed in "
                          f"`{config['data'].get('test_articles')}`)" if written else "Held-out test split"),
        test_column="real test" if written else "test",
        written_test=written.get("n"),
        out_of_source_table=out_of_source_table(run_dir),
        per_class_rows=[(n, _fmt(c["precision"], 3), _fmt(c["recall"], 3), _fmt(c["f1"], 3), c["support"])
                        for n, c in test["per_class"].items()]
        + ([(f"{test['no_label']['name']} (no label)", _fmt(test["no_label"]["precision"], 3),
             _fmt(test["no_label"]["recall"], 3), _fmt(test["no_label"]["f1"], 3), test["no_label"]["support"])]
           if "no_label" in test else []),
        confusion_image="confusion_matrix.png" if (run_dir / "confusion_matrix.png").is_file() else None,
        limitations=_limitations(metrics, labels, config),
        **_evaluation_section(run_dir),
        snippet=snippet,
        cli_line=(f"framing predict {shlex.quote(shown)} articles/ --output predictions.jsonl\n"
                  f"framing evaluate configs/eval-frame-minilm.yaml run_dir={shlex.quote(shown)} data_file=labelled.jsonl"),
        citation=CITATION,
    )
    template = resources.files("train.sharing").joinpath("templates/modelcard.md")
    with resources.as_file(template) as template_path:
        return ModelCard.from_template(_card_data(run_name, base_model, labels, metrics),
                                       template_path=str(template_path), **kwargs)


def write_card(run_dir: str | Path, shown_dir: str | Path | None = None) -> Path:
    run_dir = Path(run_dir)
    card = render_card(run_dir, Path(shown_dir) if shown_dir else None)
    target = run_dir / "README.md"
    partial = target.with_suffix(".md.partial")
    partial.write_text(str(card), encoding="utf-8")
    partial.replace(target)
    return target
