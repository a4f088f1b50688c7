import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TINY_MODEL = FIXTURES / "tiny-bert"
FIXTURE_DATA = FIXTURES / "paragraphs.jsonl"


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch):
    # Configs name paths relative to the repository root, as the README's commands do.
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One debug training run on the tiny BERT, shared by every test that inspects a run directory."""
    from train.pipeline import run_training

    out = tmp_path_factory.mktemp("runs")
    os.chdir(ROOT)
    return run_training("configs/debug.yaml", [f"output.dir={out}"])


@pytest.fixture(scope="session")
def tiny_multilabel_run(tmp_path_factory) -> Path:
    """The debug recipe on the multi-label `frames` field: sigmoid head, BCE, thresholds tuned on validation."""
    from train.pipeline import run_training

    out = tmp_path_factory.mktemp("runs-multilabel")
    os.chdir(ROOT)
    return run_training("configs/debug.yaml", [f"output.dir={out}", "run_name=debug-frames",
                                               "task.label_field=frames", "training.epochs=3.0"])
