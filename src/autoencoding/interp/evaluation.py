"""Evaluate an SAE beyond its reconstruction of a store: how often each latent fires, and
what splicing it into its host model costs.

* :func:`frequency_histogram` — latents binned by log10 of their firing frequency (dead
  latents, whose log is undefined, counted apart). A healthy SAE is one bump well below 1;
  a spike near log10 = 0 is dense latents, a long left tail is latents on their way to dying
  (Bricken et al., "Towards Monosemanticity", 2023, feature-density histograms);
* :func:`plot_frequency_histogram` — the same as a PNG;
* :func:`evaluate_splice` — :func:`~autoencoding.interp.splice.spliced_metrics` on text cut
  into windows exactly as ``autoencoding sae cache`` cuts it (special and padding tokens do
  not count), so the spliced loss is measured on the distribution the SAE was trained on.

Python::

    from autoencoding.interp import load_model
    from autoencoding.interp.train import sae_statistics
    from autoencoding.interp.evaluation import evaluate_splice, frequency_histogram

    metrics, freq = sae_statistics(sae.module, store)
    hist = frequency_histogram(freq, metrics["tokens"])
    model, tok = load_model("minilm")
    splice = evaluate_splice(model, tok, sae.module, "blocks.2.resid_post", texts)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import AutoencodingError
from .models import Windows, check_hooks, max_positions, pad_id
from .splice import spliced_metrics


def frequency_histogram(
    frequency: torch.Tensor | np.ndarray, n_tokens: int, bins_per_decade: int = 4
) -> dict[str, Any]:
    """Counts of latents per bin of log10(firing frequency), from the rarest frequency the
    data can show (1 / ``n_tokens``) up to 1; ``dead`` latents (frequency 0) are counted
    apart, so ``sum(counts) + dead == latents``."""
    if n_tokens < 1:
        raise AutoencodingError(f"n_tokens must be >= 1, got {n_tokens}")
    if bins_per_decade < 1:
        raise AutoencodingError(f"bins_per_decade must be >= 1, got {bins_per_decade}")
    f = np.asarray(frequency, dtype=np.float64).reshape(-1)
    lo = min(-1, math.floor(math.log10(1 / n_tokens) * bins_per_decade)) / bins_per_decade
    edges = np.linspace(lo, 0.0, round(-lo * bins_per_decade) + 1)
    alive = f[f > 0]
    # clip: k / n rounds to a hair outside [1/n, 1] in floating point
    counts, _ = np.histogram(np.clip(np.log10(alive), lo, 0.0), bins=edges)
    return {
        "log10_edges": [round(float(e), 6) for e in edges],
        "counts": [int(c) for c in counts],
        "dead": int((f == 0).sum()),
        "latents": int(f.size),
    }


def plot_frequency_histogram(hist: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Bar chart of :func:`frequency_histogram`'s counts (dead latents in the legend)."""
    from ..report import _plt

    plt = _plt()
    edges = np.asarray(hist["log10_edges"])
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=110)
    ax.bar(
        edges[:-1],
        hist["counts"],
        width=np.diff(edges),
        align="edge",
        edgecolor="white",
        label=f"{hist['latents'] - hist['dead']} firing, {hist['dead']} dead",
    )
    ax.set_xlabel("log10 activation frequency")
    ax.set_ylabel("latents")
    ax.set_title(title or "activation frequency", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


@torch.no_grad()
def evaluate_splice(
    model: nn.Module,
    tokenizer: Any,
    sae: nn.Module,
    hook: str,
    texts: Sequence[str],
    window: int = 126,
    max_tokens: int | None = 20_000,
    batch_size: int = 8,
    progress: bool = True,
    device: str = "cpu",
) -> dict[str, Any]:
    """Spliced metrics of ``sae`` at ``hook`` over the first ``max_tokens`` tokens of
    ``texts`` in windows of ``window`` tokens (shortened to fit the model's positions), plus
    the number of tokens and the window used."""
    check_hooks(model, [hook])
    if batch_size < 1:
        raise AutoencodingError(f"batch_size must be >= 1, got {batch_size}")
    win = Windows(tokenizer, texts, window)
    limit = max_positions(model)
    specials = len(win.prefix) + len(win.suffix)
    if limit is not None and window + specials > limit:
        win.window = max(1, limit - specials)  # the model's position table is shorter
    win.limit(max_tokens)
    model = model.to(device).eval()
    sae = sae.to(device)
    batches = (
        {k: v.to(device) for k, v in b.items()} for b in win.batches(batch_size, pad_id(tokenizer))
    )
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(
            batches, total=win.n_batches(batch_size), desc="splice", unit="batch", leave=False
        )
    out: dict[str, Any] = dict(spliced_metrics(model, sae, hook, batches))
    out.update(tokens=win.n_tokens, window=win.window)
    return out
