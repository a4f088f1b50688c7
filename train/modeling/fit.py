"""The training steps `framing train` and cross-validation share: runtime set-up, then fine-tuning with the Trainer.

The metrics the Trainer reports are passed in (`compute_metrics`), so modeling knows nothing about evaluation.
"""

from __future__ import annotations

from pathlib import Path

from train.config import RunConfig
from train.labels import LabelSet
from train.modeling.resume import CHECKPOINT_DIR, is_main_process, newest_complete_checkpoint, world_size
from train.modeling.trainer import build_trainer, tokenize_splits


def setup_runtime(cfg: RunConfig) -> None:
    """Threads and seeds; under torchrun, the process group (gloo on CPU) before any process touches files."""
    import os

    import torch
    from transformers import set_seed

    if world_size() > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() and not cfg.training.use_cpu else "gloo")
        if not cfg.training.num_threads:  # processes on one machine share its cores
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    if cfg.training.num_threads:
        torch.set_num_threads(cfg.training.num_threads)
    set_seed(cfg.seed)


def train_model(cfg: RunConfig, model, tokenizer, splits, labels: LabelSet, work: Path, resume: bool,
                compute_metrics=None):
    """Fine-tune with the Trainer; returns the trainer (best checkpoint loaded) and training statistics.
    With `resume`, training continues from the newest complete checkpoint (optimizer, scheduler, RNG, data order)."""
    tokenized = tokenize_splits(splits, tokenizer, labels, text_field=cfg.data.text_field,
                                max_length=cfg.model.max_length)
    tensorboard_dir = work / "logs" if cfg.output.tensorboard and is_main_process() else None
    trainer = build_trainer(cfg, model, tokenizer, tokenized, labels, work / CHECKPOINT_DIR, tensorboard_dir,
                            compute_metrics=compute_metrics)
    checkpoint = newest_complete_checkpoint(work) if resume else None
    if resume and is_main_process():
        print(f"Resuming from {checkpoint}" if checkpoint else "No complete checkpoint yet: training from the start")
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    state = trainer.state
    stats = {
        "train_runtime_s": round(result.metrics.get("train_runtime", 0.0), 2),
        "train_samples_per_second": round(result.metrics.get("train_samples_per_second", 0.0), 3),
        "epochs_run": round(state.epoch or 0.0, 3),
        "global_steps": state.global_step,
        "best_checkpoint_metric": state.best_metric,
        "best_epoch": _best_epoch(state),
        "log_history": state.log_history,
    }
    return trainer, stats


def _best_epoch(state) -> float | None:
    for entry in state.log_history:
        if entry.get("eval_macro_f1") == state.best_metric:
            return entry.get("epoch")
    return None
