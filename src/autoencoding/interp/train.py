"""Train a sparse autoencoder on an activation store (or an in-memory tensor of activations).

Python::

    from autoencoding.interp import ActivationStore, train_sae
    store = ActivationStore.open("acts/blocks.2.resid_post")
    sae = train_sae(store, "sae-topk", latents=3072, k=32, out="runs/sae")

Under ``torchrun`` (DDP, gloo on CPU) every process reads its share of each global batch::

    torchrun --nproc-per-node 2 my_script.py      # my_script calls train_sae(...)

The learning rate and warm-up follow the width and the run length (the SAE recipes'
``derive_train`` hook, :func:`autoencoding.recipes.sae.sae_train_defaults`) unless given, and
the dead-latent window follows the run inside the bottleneck; the decoder bias and input
scale are initialised from an even sample of the store (the same on every process).
The saved folder loads with :func:`autoencoding.load`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..api import TrainedModel, train_recipe
from ..data.scaling import Scaler
from ..errors import AutoencodingError
from ..model import Autoencoder
from ..recipes import get_recipe, recipes_for
from ..train import TrainConfig
from .store import ActivationStore, StoreBatches


def train_sae(
    data: ActivationStore | torch.Tensor,
    recipe: str = "sae-topk",
    latents: int | None = None,
    k: int | None = None,
    *,
    model: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    resume: bool = False,
    init_samples: int = 32768,
) -> TrainedModel:
    """Train ``recipe`` (an ``sae-*`` recipe) on activations; ``latents`` defaults to 8× the
    activation width; ``k`` sets the TopK-family sparsity; ``model`` / ``train`` override
    the recipe's settings.

    The flow is :func:`autoencoding.api.train_recipe`'s, as in ``fit``; what is added here
    is the store's part: an even sample of it for the data-dependent init, shuffled
    :class:`StoreBatches` (each process reads its share), and the store's provenance in
    ``info``."""
    rec = get_recipe(recipe)
    if rec.data_kind != "activations":
        raise AutoencodingError(
            f"train_sae needs an sae-* recipe (one made for activations: "
            f"{', '.join(recipes_for('activations'))}), got {recipe!r}"
        )
    if isinstance(data, torch.Tensor):
        if data.dim() != 2 or len(data) == 0:
            raise AutoencodingError(f"activations must be (n, d), got {tuple(data.shape)}")
        d, n_tokens = data.shape[1], data.shape[0]
    else:
        d, n_tokens = data.d, len(data)
    over: dict[str, Any] = {"latent_dim": latents or 8 * d, **(model or {})}
    if k is not None:
        bn = dict(over.get("bottleneck") or {"name": rec.model["bottleneck"]["name"]})
        over["bottleneck"] = {**bn, "k": k}

    def init_sample() -> torch.Tensor:
        if isinstance(data, torch.Tensor):
            rows = torch.linspace(0, n_tokens - 1, min(n_tokens, init_samples)).long()
            return data[rows].float()
        return data.sample(init_samples).float()

    def batches(cfg: TrainConfig) -> Any:
        if isinstance(data, torch.Tensor):
            return data.float()
        return StoreBatches(data, cfg.batch_size, seed=cfg.seed)

    trained, trainer = train_recipe(
        recipe,
        [d],
        n_tokens,
        batches,
        init_sample,
        scaler=Scaler.fit("none", np.zeros((1, d), np.float32)),
        model=over,
        train=train,
        seed=seed,
        out=out,
        resume=resume,
    )
    trained.info["dead_window_tokens"] = int(trained.module.bottleneck.dead_window())
    if isinstance(data, ActivationStore):
        trained.info["store"] = {
            k: data.manifest.get(k) for k in ("model", "hook", "d", "window", "n_tokens")
        }
    if out is not None and trainer.rank == 0:
        trained.save(out)
    return trained


@torch.no_grad()
def sae_statistics(
    module: Autoencoder, data: ActivationStore | torch.Tensor
) -> tuple[dict[str, float], torch.Tensor]:
    """One pass over ``data``: the metrics of :func:`evaluate_sae` and each latent's firing
    frequency (fraction of rows on which it is non-zero, shape (L,)), from the same counts."""
    module.eval()
    chunks = data.split(8192) if isinstance(data, torch.Tensor) else data.iter_chunks(8192)
    n, sse, s1, s2, l0 = 0, 0.0, None, None, 0.0
    fires = None
    for x in chunks:
        x = x.float().to(next(module.parameters()).device)
        if x.shape[1] != module.n_features:
            raise AutoencodingError(
                f"activations have {x.shape[1]} features but the SAE expects {module.n_features}"
            )
        p = module.run(x)
        b, rec = p.bottleneck, p.out.flatten(1)
        sse += float((rec - x).double().pow(2).sum())
        s1 = x.double().sum(0) if s1 is None else s1 + x.double().sum(0)
        s2 = x.double().pow(2).sum(0) if s2 is None else s2 + x.double().pow(2).sum(0)
        active = b.z != 0
        l0 += float(active.sum())
        f = active.sum(0)
        fires = f if fires is None else fires + f
        n += len(x)
    if n == 0:
        raise AutoencodingError("no activations to evaluate")
    tv = float((s2 - s1.pow(2) / n).sum())
    metrics = {
        "fvu": sse / tv,
        "l0": l0 / n,
        "dead": float((fires == 0).float().mean()),
        "dense": float((fires > 0.1 * n).float().mean()),
        "tokens": n,
    }
    return metrics, (fires.double() / n).cpu()


def evaluate_sae(module: Autoencoder, data: ActivationStore | torch.Tensor) -> dict[str, float]:
    """FVU = Σ‖x − x̂‖² / Σ‖x − x̄‖² over all of ``data``, mean L0, dead fraction (latents
    never active on ``data``) and dense fraction (active on more than 10% of rows)."""
    return sae_statistics(module, data)[0]
