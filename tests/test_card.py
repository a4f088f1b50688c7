import json
import os
import re
import subprocess
import sys
import time

from huggingface_hub import ModelCard
from huggingface_hub.repocard import metadata_load

from train.sharing.card import _card_data, write_card

REQUIRED = ["language", "license", "library_name", "pipeline_tag", "tags", "metrics", "model-index"]


def nulls(value, path="") -> list[str]:
    if value is None:
        return [path or "(root)"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{path}[{i}]")]
    return []


def test_card_parses_and_model_index_matches_metrics(tiny_run):
    card = ModelCard.load(tiny_run / "README.md")
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    results = {r.metric_name: r for r in card.data.eval_results}
    assert results["Macro F1"].metric_value == round(metrics["test"]["macro_f1"], 4)
    assert results["Macro F1"].metric_type == "f1" and results["Macro F1"].metric_config == "macro"
    assert results["Accuracy"].metric_value == round(metrics["test"]["accuracy"], 4)
    for name, cls in metrics["test"]["per_class"].items():
        assert results[f"F1 ({name})"].metric_value == round(cls["f1"], 4)
    assert {r.dataset_split for r in card.data.eval_results} == {"test"}


def test_metadata_has_every_required_field_and_no_nulls(tiny_run):
    meta = metadata_load(tiny_run / "README.md")
    assert [f for f in REQUIRED if f not in meta] == []
    assert meta["pipeline_tag"] == "text-classification" and meta["library_name"] == "transformers"
    assert nulls(meta) == []
    assert "datasets" not in meta, "datasets only when it is a real hub id"


def test_hub_base_model_goes_into_metadata(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    labels = json.loads((tiny_run / "labels.json").read_text())
    data = _card_data("x", "sentence-transformers/all-MiniLM-L6-v2", labels, metrics).to_dict()
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    local = _card_data("x", "/tmp/some/local/model", labels, metrics).to_dict()
    assert "base_model" not in local or local["base_model"] is None


def test_card_sections_are_filled_and_image_exists(tiny_run):
    text = (tiny_run / "README.md").read_text()
    for heading in ("### Confidence intervals and baselines", "### Calibration", "## Labels", "## Intended uses",
                    "## Out-of-scope uses", "## Training data",
                    "## Training procedure", "## Evaluation", "## Limitations and biases", "## How to use",
                    "## Citation"):
        assert heading in text
    assert not re.search(r"TODO|\{\{|\}\}|n/a", text)
    for name in json.loads((tiny_run / "labels.json").read_text())["labels"]:
        assert f"`{name}`" in text
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert images and all((tiny_run / image).is_file() for image in images)


def test_card_snippet_runs_as_written(tiny_run, capsys):
    text = (tiny_run / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    exec(compile(snippet, "card-snippet", "exec"), {})
    printed = capsys.readouterr().out
    labels = json.loads((tiny_run / "labels.json").read_text())["labels"]
    assert any(f"'{name}'" in printed for name in labels)


def test_card_command_rewrites_the_card(tiny_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    (copy / "README.md").unlink()
    write_card(copy)
    assert ModelCard.load(copy / "README.md").data.model_name == "debug"


def _push(run_dir, extra_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(extra_env)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "train.cli", "push", str(run_dir), "--repo-id", "someone/model"],
                          capture_output=True, text=True, env=env, timeout=60)
    return proc, time.monotonic() - start


def test_push_without_token_fails_fast_with_exit_2(tiny_run, tmp_path):
    proc, seconds = _push(tiny_run, {"HF_HOME": str(tmp_path / "hf")})
    assert proc.returncode == 2
    assert "no Hugging Face token" in proc.stderr and "Traceback" not in proc.stderr
    assert seconds < 5


def test_push_with_unreachable_hub_fails_fast_with_exit_2(tiny_run, tmp_path):
    # A closed port on loopback stands in for "no network".
    proc, seconds = _push(tiny_run, {"HF_HOME": str(tmp_path / "hf"), "HF_TOKEN": "hf_not_a_real_token",
                                     "HF_ENDPOINT": "http://127.0.0.1:9"})
    assert proc.returncode == 2
    assert "cannot reach" in proc.stderr and "Traceback" not in proc.stderr
    assert seconds < 5
