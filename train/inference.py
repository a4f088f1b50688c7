"""Batched inference for a loaded model: sorted by length, dynamically padded, under torch.inference_mode.

Needs only a run directory's model and tokenizer, never training code.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm


def predict_logits(model, tokenizer, texts: list[str], *, batch_size: int = 64, max_length: int = 256,
                   progress: bool = True, sort_by_length: bool = True) -> np.ndarray:
    """Logits in input order. Sorting by token length first means each batch pads to a similar length."""
    if not texts:
        return np.zeros((0, model.config.num_labels), dtype=np.float32)
    encoded = tokenizer(texts, truncation=True, max_length=max_length)
    lengths = np.fromiter((len(ids) for ids in encoded["input_ids"]), dtype=np.int64, count=len(texts))
    order = np.argsort(-lengths, kind="stable") if sort_by_length else np.arange(len(texts))
    out = np.empty((len(texts), model.config.num_labels), dtype=np.float32)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
    bar = tqdm(total=len(texts), unit="para", desc="Predicting", disable=not progress)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer.pad({k: [encoded[k][i] for i in idx] for k in keys}, return_tensors="pt")
            out[idx] = model(**batch).logits.float().numpy()
            bar.update(len(idx))
    bar.close()
    return out
