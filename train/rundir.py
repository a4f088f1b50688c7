"""Run directories: built in a temporary sibling folder and renamed into place, so none ever looks complete
when it is not. Also the provenance record (run.json): git revision, command, versions, timings."""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from train.errors import UserError

RUN_FILES = ("config.yaml", "labels.json", "metrics.json", "run.json", "test_predictions.jsonl",
             "confusion_matrix.png", "config.json", "model.safetensors", "README.md", "temperature.json",
             "eval-test/metrics.json", "eval-test/report.md", "eval-test/predictions.jsonl",
             "eval-test/confusion_matrix.png", "eval-test/reliability.png")


def check_target(run_dir: Path, overwrite: bool) -> None:
    """Stop before any work when a finished run would be overwritten without the user's say-so."""
    if run_dir.exists() and not overwrite:
        raise UserError(
            f"{run_dir}: run directory already exists; pick another run_name, or pass --overwrite "
            "(or output.overwrite=true) to replace it"
        )


@contextmanager
def atomic_directory(final: Path, overwrite: bool):
    """Yield a fresh temporary folder next to `final`; on success swap it in, on failure remove it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    check_target(final, overwrite)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    try:
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    swap_into_place(work, final)


def swap_into_place(work: Path, final: Path) -> None:
    """Rename the finished `work` folder to `final`, retiring an older `final` only once `work` is complete."""
    if final.exists():
        retired = final.with_name(f".{final.name}.replaced-{os.getpid()}")
        final.rename(retired)
        work.rename(final)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        work.rename(final)


def git_revision(cwd: Path | None = None) -> dict:
    """The commit the code ran from and whether the tree had uncommitted changes."""
    def run(*args):
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)

    try:
        head = run("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = run("status", "--porcelain", "--untracked-files=no")
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def provenance(base_model: str, extra: dict | None = None) -> dict:
    import datasets
    import torch
    import transformers

    package_root = Path(__file__).resolve().parent.parent
    return {
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "cwd": os.getcwd(),
        "git": git_revision(package_root),
        "base_model": base_model,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "datasets": datasets.__version__,
        },
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        **(extra or {}),
    }


def write_json(path: Path, payload) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_jsonl(path: Path, records) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: missing; is {path.parent} a complete run directory?") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
