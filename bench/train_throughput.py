"""Training throughput of our recipe vs the same Trainer padding every batch to max_length, in one run.

    python bench/train_throughput.py [--config configs/frame-minilm.yaml] [--samples 256] [--repeats 1]

Both arms use the same config, model, data slice, seed, batch size and thread count. Ours: dynamic padding
+ length-grouped batches. Baseline: every batch padded to model.max_length, random order. It prints samples/s,
the ratio, the tokens each arm pushed through the model (padding included) and an estimate of achieved GFLOP/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def encoder_flops_per_sequence(config, length: int) -> float:
    """Forward FLOPs of a BERT encoder on one sequence: 2 x weights x tokens for the dense layers plus the
    attention score and mix products (2 x 2 x L x s^2 x d). Training is about 3x the forward pass."""
    d, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    dense_params = layers * (4 * d * d + 2 * d * inter)
    return 2.0 * dense_params * length + 4.0 * layers * length * length * d


class CountingCollator:
    """Wraps a collator and records the padded shape of every batch it builds."""

    def __init__(self, inner):
        self.inner, self.shapes = inner, []

    def __call__(self, features):
        batch = self.inner(features)
        self.shapes.append(tuple(batch["input_ids"].shape))
        return batch


def run_arm(name: str, cfg, splits, labels) -> dict:
    import torch
    from transformers import set_seed

    from train.modeling.models import build_classifier
    from train.modeling.trainer import build_trainer, tokenize_splits

    set_seed(cfg.seed)
    tokenizer, model = build_classifier(cfg.model, labels)
    tokenized = tokenize_splits(splits, tokenizer, labels, text_field=cfg.data.text_field, max_length=cfg.model.max_length)
    workdir = Path("/tmp") / f"bench-train-{name}"
    trainer = build_trainer(cfg, model, tokenizer, tokenized, labels, workdir)
    trainer.args.eval_strategy = "no"
    trainer.args.save_strategy = "no"
    trainer.args.load_best_model_at_end = False
    trainer.args.disable_tqdm = True
    trainer.callback_handler.callbacks = [c for c in trainer.callback_handler.callbacks
                                          if type(c).__name__ != "EarlyStoppingCallback"]
    counter = CountingCollator(trainer.data_collator)
    trainer.data_collator = counter
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    samples = sum(s[0] for s in counter.shapes)
    tokens = sum(s[0] * s[1] for s in counter.shapes)
    flops = 3.0 * sum(s[0] * encoder_flops_per_sequence(model.config, s[1]) for s in counter.shapes)
    return {"name": name, "seconds": seconds, "samples": samples, "samples_per_s": samples / seconds,
            "padded_tokens": tokens, "gflops_per_s": flops / seconds / 1e9, "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/frame-minilm.yaml")
    parser.add_argument("--samples", type=int, default=256, help="training paragraphs per arm (one epoch)")
    args = parser.parse_args()

    from train.config import load_config
    from train.data.corpus import load_splits

    common = ["training.epochs=1", f"data.max_examples={args.samples}", "output.tensorboard=false",
              "training.early_stopping_patience=null"]
    ours_cfg = load_config(args.config, common)
    base_cfg = load_config(args.config, [*common, "training.dynamic_padding=false", "training.group_by_length=false"])
    labels = ours_cfg.task.label_set()
    splits = load_splits(ours_cfg.data, labels, ours_cfg.seed)
    print(f"config {args.config}; model {ours_cfg.model.name_or_path}; {len(splits['train'])} training paragraphs; "
          f"batch {ours_cfg.training.batch_size}; max_length {ours_cfg.model.max_length}")
    results = [run_arm("padded-baseline", base_cfg, splits, labels), run_arm("ours", ours_cfg, splits, labels)]
    print(f"\n{'arm':<18}{'samples':>8}{'seconds':>9}{'samples/s':>11}{'padded tokens':>15}{'GFLOP/s':>9}")
    for r in results:
        print(f"{r['name']:<18}{r['samples']:>8}{r['seconds']:>9.1f}{r['samples_per_s']:>11.2f}"
              f"{r['padded_tokens']:>15}{r['gflops_per_s']:>9.1f}")
    base, ours = results
    print(f"\nratio ours / padded baseline: {ours['samples_per_s'] / base['samples_per_s']:.2f}x samples/s "
          f"({base['padded_tokens'] / ours['padded_tokens']:.2f}x fewer tokens pushed through the model); "
          f"torch threads {ours['threads']}")


if __name__ == "__main__":
    main()
