"""Resume after SIGKILL, determinism, and the working directory of a training run.

Each training here runs in its own process (`python -m train.cli`), as a user's would, so a SIGKILL is real.
"""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from train.cli import main
from train.modeling.resume import COMPLETE_MARKER, newest_complete_checkpoint

ROOT = Path(__file__).resolve().parent.parent
# The debug recipe: 90 training paragraphs, batch 8 -> 12 optimizer steps per epoch, 2 epochs.
STEPS_PER_EPOCH, TOTAL_STEPS = 12, 24


def train_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "train.cli", "train", "configs/debug.yaml", f"output.dir={out}",
            "output.write_card=false", "output.evaluate=false", *extra]


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def kill_mid_epoch(cmd: list[str], after_step: int) -> None:
    """Start a training and SIGKILL it as soon as its progress bar passes `after_step`."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = b""
    try:
        while True:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                raise AssertionError("training ended before it could be killed:\n" + seen[-2000:].decode(errors="replace"))
            seen += chunk
            steps = [int(m) for m in re.findall(rb"(\d+)/%d \[" % TOTAL_STEPS, seen)]
            if steps and max(steps) > after_step:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def scores(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {split: {k: v for k, v in metrics[split].items() if isinstance(v, float)} for split in ("validation", "test")}


def probabilities(run_dir: Path) -> list[dict]:
    return [json.loads(line)["probabilities"] for line in (run_dir / "test_predictions.jsonl").read_text().splitlines()]


def losses(run_dir: Path) -> list[tuple]:
    """Every logged training and validation loss, by step (timings left out)."""
    history = json.loads((run_dir / "metrics.json").read_text())["training"]["log_history"]
    return [(h["step"], h.get("loss"), h.get("eval_loss")) for h in history if "loss" in h or "eval_loss" in h]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    run(train_command(out))
    return out / "debug"


def test_two_runs_of_one_config_and_seed_are_identical(reference, tmp_path):
    run(train_command(tmp_path))
    again = tmp_path / "debug"
    assert scores(again) == scores(reference)
    assert (again / "test_predictions.jsonl").read_bytes() == (reference / "test_predictions.jsonl").read_bytes()
    assert losses(again) == losses(reference) and len(losses(reference)) > 3


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(reference, tmp_path):
    kill_mid_epoch(train_command(tmp_path), after_step=STEPS_PER_EPOCH + 3)  # in epoch 2, after checkpoint 1
    work = tmp_path / ".debug.partial"
    assert not (tmp_path / "debug").exists(), "a killed run must not look complete"
    assert newest_complete_checkpoint(work).name == f"checkpoint-{STEPS_PER_EPOCH}"
    # A checkpoint cut short by a kill (no completion marker) is never picked, however new it looks.
    fake = work / "checkpoints" / "checkpoint-999"
    fake.mkdir()
    (fake / "model.safetensors").write_bytes(b"\x00" * 10)
    assert newest_complete_checkpoint(work).name == f"checkpoint-{STEPS_PER_EPOCH}"

    result = run(train_command(tmp_path) + ["--resume"])
    assert f"Resuming from {work / 'checkpoints' / f'checkpoint-{STEPS_PER_EPOCH}'}" in result.stdout
    resumed = tmp_path / "debug"
    assert not work.exists() and not (resumed / "checkpoints").exists()
    for split, values in scores(reference).items():
        assert scores(resumed)[split] == pytest.approx(values, abs=1e-6)
    for a, b in zip(probabilities(resumed), probabilities(reference), strict=True):
        assert a == pytest.approx(b, abs=1e-6)


def test_newest_complete_checkpoint_skips_unmarked_and_foreign_folders(tmp_path):
    base = tmp_path / "checkpoints"
    for step, marked in ((5, True), (10, True), (15, False)):
        (base / f"checkpoint-{step}").mkdir(parents=True)
        if marked:
            (base / f"checkpoint-{step}" / COMPLETE_MARKER).write_text("{}")
    (base / "checkpoint-xyz").mkdir()
    assert newest_complete_checkpoint(tmp_path).name == "checkpoint-10"
    assert newest_complete_checkpoint(tmp_path / "nothing-here") is None


def test_resume_without_an_interrupted_run_is_refused(tmp_path, capsys):
    assert main(["train", "configs/debug.yaml", f"output.dir={tmp_path}", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "no interrupted run to resume" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_leftover_partial_run_needs_resume_or_overwrite(tmp_path, capsys):
    work = tmp_path / ".debug.partial"
    (work / "checkpoints" / "checkpoint-3").mkdir(parents=True)
    (work / "resume_config.json").write_text("{}")
    assert main(["train", "configs/debug.yaml", f"output.dir={tmp_path}"]) == 2
    assert "pass --resume" in capsys.readouterr().err
    # resuming with another config than the interrupted one is refused too
    assert main(["train", "configs/debug.yaml", f"output.dir={tmp_path}", "--resume"]) == 2
    assert "another config" in capsys.readouterr().err
    assert work.is_dir(), "refusals leave the interrupted run untouched"
