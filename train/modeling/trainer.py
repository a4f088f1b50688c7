"""TrainingArguments from the config, the HF Trainer with its callbacks, and the loss. Knows nothing about the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from datasets import DatasetDict
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
)

from train.data.corpus import ROW_WEIGHT
from train.labels import LabelSet

LENGTH_COLUMN = "length"


def tokenize_splits(splits: DatasetDict, tokenizer, labels: LabelSet, *, text_field: str, max_length: int) -> DatasetDict:
    """Text -> input_ids (no padding: the collator pads per batch) + `labels` + `length` for length grouping."""

    def encode(batch):
        encoded = tokenizer(batch[text_field], truncation=True, max_length=max_length)
        encoded["labels"] = [labels.encode(v) for v in batch[labels.field]]
        encoded[LENGTH_COLUMN] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    keep = {"input_ids", "attention_mask", "token_type_ids", "labels", LENGTH_COLUMN, ROW_WEIGHT}
    tokenized = splits.map(encode, batched=True, desc="Tokenizing")
    return tokenized.remove_columns([c for c in tokenized["train"].column_names if c not in keep])


def class_weights(train_labels: list, labels: LabelSet) -> torch.Tensor:
    """Inverse-frequency weights, sklearn's 'balanced' rule: n / (k * count); unseen classes get weight 1."""
    if labels.is_multi_label:
        hot = np.asarray(train_labels, dtype=np.float64)
        positives = hot.sum(axis=0)
        negatives = len(hot) - positives
        weights = np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0)
        return torch.tensor(weights, dtype=torch.float32)
    counts = np.bincount(np.asarray(train_labels), minlength=len(labels.names)).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (len(labels.names) * np.maximum(counts, 1)), 1.0)
    return torch.tensor(weights, dtype=torch.float32)


class RowWeightedTrainer(Trainer):
    """Passes each training row's `row_weight` (data.weights) to the loss instead of to the model."""

    row_weights: torch.Tensor | None = None

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if ROW_WEIGHT not in self._signature_columns:  # keep the column in the batches: compute_loss takes it out
            self._signature_columns.append(ROW_WEIGHT)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self.row_weights = inputs.pop(ROW_WEIGHT, None)
        return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                    num_items_in_batch=num_items_in_batch)


def make_loss(labels: LabelSet, weights: torch.Tensor | None, row_weights=lambda: None):
    """compute_loss_func for the Trainer. Sums over the batch and divides by the examples in the accumulated
    batch, so gradient accumulation and data parallelism give the same scale as one big batch. `row_weights`
    returns the current batch's per-row weights (data.weights), or None."""

    def loss_fn(outputs, targets, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        w = weights.to(logits.device) if weights is not None else None
        if labels.is_multi_label:
            per_item = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, targets.to(logits.dtype), pos_weight=w, reduction="none"
            ).mean(dim=1)
        else:
            per_item = torch.nn.functional.cross_entropy(logits, targets, weight=w, reduction="none")
        rows = row_weights()
        if rows is not None:
            per_item = per_item * rows.to(per_item.device, per_item.dtype)
        denominator = num_items_in_batch if num_items_in_batch is not None else per_item.new_tensor(len(per_item))
        return per_item.sum() / denominator

    return loss_fn


def _ddp_backend(t) -> str | None:
    """gloo for CPU processes under torchrun/accelerate; None (the default) otherwise."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    return None if torch.cuda.is_available() and not t.use_cpu else "gloo"


def training_arguments(cfg, output_dir: Path, labels: LabelSet) -> TrainingArguments:
    t = cfg.training
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=t.epochs,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,
        lr_scheduler_type=t.lr_scheduler,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        save_only_model=False,  # optimizer, scheduler and RNG states too: `--resume` continues exactly
        restore_callback_states_from_checkpoint=True,  # early stopping's patience survives a resume
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=t.logging_steps,
        report_to="none",
        seed=cfg.seed,
        data_seed=cfg.seed,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        length_column_name=LENGTH_COLUMN,
        use_cpu=t.use_cpu or not torch.cuda.is_available(),
        bf16=False,
        fp16=False,
        dataloader_num_workers=0,
        ddp_backend=_ddp_backend(t),
        ddp_find_unused_parameters=False,  # every parameter takes part in the forward pass
        disable_tqdm=False,
    )


def _callbacks(cfg, tensorboard_dir: Path | None) -> list:
    from train.modeling.resume import MarkCompleteCheckpoints

    callbacks = [MarkCompleteCheckpoints()]
    if cfg.training.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.training.early_stopping_patience))
    if tensorboard_dir is not None:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        callbacks.append(TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(tensorboard_dir))))
    return callbacks


def build_trainer(cfg, model, tokenizer, tokenized: DatasetDict, labels: LabelSet, workdir: Path,
                  tensorboard_dir: Path | None = None, compute_metrics=None) -> Trainer:
    """The Trainer with dynamic padding (or max_length padding when turned off), weights and callbacks."""
    if cfg.training.dynamic_padding:
        collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
    else:
        collator = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=cfg.model.max_length)
    weights = None
    if cfg.training.class_weights == "balanced":
        weights = class_weights(tokenized["train"]["labels"], labels)
    trainer = RowWeightedTrainer(
        model=model,
        args=training_arguments(cfg, workdir, labels),
        data_collator=collator,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        callbacks=_callbacks(cfg, tensorboard_dir),
    )
    trainer.compute_loss_func = make_loss(labels, weights, lambda: trainer.row_weights)
    return trainer
