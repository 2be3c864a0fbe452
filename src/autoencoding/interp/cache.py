"""Cache a transformer's activations at one or more hook points into activation stores.

Python::

    from autoencoding.interp import cache_activations, builtin_corpus
    stores = cache_activations("minilm", builtin_corpus(), ["blocks.2.resid_post"], "acts/")

Special and padding positions are dropped; every store records the model, hook point,
window, dtype and token counts in its manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .models import Windows, check_hooks, load_model, pad_id, run_with_hooks
from .store import ActivationStore, StoreWriter


@torch.no_grad()
def cache_activations(
    model: str | tuple[nn.Module, Any],
    texts: Sequence[str],
    hooks: Sequence[str],
    out: str | Path,
    window: int = 126,
    batch_size: int = 32,
    dtype: str = "float16",
    shard_tokens: int = 1 << 18,
    max_tokens: int | None = None,
    progress: bool = True,
    device: str = "cpu",
) -> dict[str, ActivationStore]:
    """Run ``model`` over ``texts`` in windows of ``window`` tokens and write one store per
    hook point under ``out/<hook>``. ``model`` is a local folder, an alias (``minilm``) or a
    (module, tokenizer) pair. Returns the opened stores by hook name."""
    name = model if isinstance(model, str) else type(model[0]).__name__
    module, tokenizer = load_model(model) if isinstance(model, str) else model
    module = module.to(device).eval()
    hooks = list(dict.fromkeys(hooks))
    check_hooks(module, hooks)
    win = Windows(tokenizer, texts, window).limit(max_tokens)
    pad = pad_id(tokenizer)
    d_of: dict[str, int] = {}
    writers: dict[str, StoreWriter] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=win.n_tokens, desc="activations", unit="tok", dynamic_ncols=True)
    seq0 = 0
    for batch in win.batches(batch_size, pad):
        keep = batch.pop("keep")
        acts = run_with_hooks(module, hooks, **{k: v.to(device) for k, v in batch.items()})
        rows, cols = keep.nonzero(as_tuple=True)
        tokens = batch["input_ids"][rows, cols]
        positions = cols - len(win.prefix)
        for h in hooks:
            a = acts[h].float().cpu()[rows, cols]
            if h not in writers:
                d_of[h] = a.shape[1]
                writers[h] = StoreWriter(
                    Path(out) / h,
                    a.shape[1],
                    dtype=dtype,
                    shard_tokens=shard_tokens,
                    meta={"model": name, "hook": h, "window": window, "source": "transformers"},
                )
            writers[h].add(a, tokens, rows + seq0, positions)
        seq0 += keep.shape[0]
        if bar is not None:
            bar.update(int(keep.sum()))
    if bar is not None:
        bar.close()
    return {h: ActivationStore.open(w.close()) for h, w in writers.items()}
