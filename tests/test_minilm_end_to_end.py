"""The one test that uses the real packaged all-MiniLM-L6-v2, on a small slice, through the CLI."""

import json

import pytest


@pytest.mark.slow
def test_packaged_minilm_trains_and_loads_offline(tmp_path):
    from transformers import pipeline

    from train.cli import main

    code = main(["train", "configs/frame-minilm.yaml", f"output.dir={tmp_path}", "run_name=minilm-slice",
                 "data.path=tests/fixtures/paragraphs.jsonl", "data.validation_size=0.2", "data.test_size=0.2",
                 "data.max_examples=48", "training.epochs=1", "model.max_length=64", "training.batch_size=16"])
    assert code == 0
    run = tmp_path / "minilm-slice"
    config = json.loads((run / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"]) == (6, 384)
    assert json.loads((run / "run.json").read_text())["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    out = pipeline("text-classification", model=str(run))("Refugees crowded the border crossing.")
    assert out[0]["label"] in config["label2id"]
