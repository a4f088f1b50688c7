"""Where a training run lives while it trains, and how an interrupted one continues.

A run is built in `<output.dir>/.<run_name>.partial/` and renamed to `<output.dir>/<run_name>/` when everything
is written, so nothing that looks complete is ever half-written. The name is fixed (not random) so that
`framing train CONFIG --resume` finds the interrupted run again, and so that every process of a distributed
run agrees on it. Checkpoints count only once marked complete: the marker is written after the Trainer has
saved every file of the checkpoint, so one cut short by a kill is never picked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from transformers import TrainerCallback

from train.errors import UserError
from train.rundir import check_target, swap_into_place

CHECKPOINT_DIR = "checkpoints"
COMPLETE_MARKER = "checkpoint_complete.json"
RESUME_KEY_FILE = "resume_config.json"


def partial_run_dir(final: Path) -> Path:
    return final.with_name(f".{final.name}.partial")


def is_main_process() -> bool:
    """Rank 0 of a torchrun/accelerate launch, or the only process."""
    return int(os.environ.get("RANK", "0")) == 0


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


class MarkCompleteCheckpoints(TrainerCallback):
    """After the Trainer has written a checkpoint in full, mark it (write to a temp name, then rename)."""

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            marker = folder / COMPLETE_MARKER
            tmp = marker.with_suffix(".tmp")
            tmp.write_text(json.dumps({"global_step": state.global_step, "epoch": state.epoch}) + "\n",
                           encoding="utf-8")
            tmp.replace(marker)


def newest_complete_checkpoint(work: Path) -> Path | None:
    """The complete checkpoint with the highest step; unmarked (partially written) ones are skipped."""
    found = []
    for folder in (work / CHECKPOINT_DIR).glob("checkpoint-*"):
        match = re.fullmatch(r"checkpoint-(\d+)", folder.name)
        if match and folder.is_dir() and (folder / COMPLETE_MARKER).is_file():
            found.append((int(match.group(1)), folder))
    return max(found)[1] if found else None


def _resume_key(cfg) -> dict:
    """Everything that shapes the model; `output.overwrite` may differ between the first and the resumed launch."""
    key = cfg.model_dump(mode="json")
    key["output"].pop("overwrite", None)
    return key


def _prepare(final: Path, work: Path, cfg, overwrite: bool, resume: bool) -> None:
    key = _resume_key(cfg)
    if resume:
        if not work.is_dir():
            raise UserError(f"{work}: no interrupted run to resume for run_name {cfg.run_name!r}; "
                            "run without --resume to start it")
        saved_path = work / RESUME_KEY_FILE
        saved = json.loads(saved_path.read_text(encoding="utf-8")) if saved_path.is_file() else None
        if saved != key:
            raise UserError(f"{work}: --resume with another config than the interrupted run; resume with the same "
                            "config and overrides, or pass --overwrite without --resume to start again")
        check_target(final, overwrite)
        return
    check_target(final, overwrite)
    if work.exists():
        if not overwrite:
            raise UserError(f"{work}: an interrupted run of {cfg.run_name!r} left checkpoints here; pass --resume "
                            "to continue it, or --overwrite to start again")
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / RESUME_KEY_FILE).write_text(json.dumps(key, indent=2) + "\n", encoding="utf-8")


@contextmanager
def training_directory(cfg, overwrite: bool, resume: bool):
    """Yield the run's working folder; on success rename it into place (rank 0). On failure keep it only if
    it holds a complete checkpoint to resume from."""
    final = cfg.run_dir
    work = partial_run_dir(final)
    main = is_main_process()
    if main:
        final.parent.mkdir(parents=True, exist_ok=True)
        _prepare(final, work, cfg, overwrite, resume)
    barrier()
    try:
        yield work
    except BaseException:
        if main:
            if newest_complete_checkpoint(work) is None:
                shutil.rmtree(work, ignore_errors=True)
            else:
                print(f"Stopped; checkpoints kept in {work}. Continue with: framing train CONFIG --resume "
                      "(same config and overrides)")
        raise
    if main:
        (work / RESUME_KEY_FILE).unlink(missing_ok=True)
        swap_into_place(work, final)
