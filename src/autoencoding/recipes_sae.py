"""Sparse-autoencoder recipes: ``sae-topk``, ``sae-batchtopk``, ``sae-relu``, ``sae-jumprelu``,
``sae-matryoshka``.

All share the SAE encoder/decoder pair ``sae`` (bias-centred linear maps, unit-norm decoder
rows, encoder initialised from the decoder, decoder bias at the data's geometric median,
stored input scale) and the FVU reconstruction loss; they differ in the bottleneck. Training
settings follow the scale of activation data: thousands of tokens per step, few epochs.

:func:`sae_train_defaults` derives the learning rate and the dead-latent window from the
width and the run length, for entry points that know both (the ``interp`` trainer).
"""

from __future__ import annotations

import math
from typing import Any

from .recipes import Recipe, add_recipe

SAE_NETS = {"name": "sae"}
SAE_TRAIN: dict[str, Any] = {
    "batch_size": 4096,
    "epochs": 2,
    "lr": 2e-3,
    "warmup_steps": 10,
    "schedule": "wsd",
    "decay_fraction": 0.2,
    "val_fraction": 0.0,
}


def sae_model(
    bottleneck: dict[str, Any], latent_dim: int = 4096, encoder_init_scale: float = 1.0
) -> dict[str, Any]:
    return {
        "latent_dim": latent_dim,
        "encoder": {**SAE_NETS, "encoder_init_scale": encoder_init_scale},
        "decoder": dict(SAE_NETS),
        "bottleneck": bottleneck,
        "reconstruction": {"name": "fvu"},
    }


def sae_lr(n_latents: int, total_steps: int) -> float:
    """Adam learning rate for an SAE of ``n_latents`` trained for ``total_steps`` steps:
    ``0.3 / sqrt(L) · min(1, sqrt(5000 / steps))``.

    The 1/sqrt(width) scaling is Gao et al.'s (2024); their constant (2e-4 at 2^14 latents)
    is tuned for runs of tens of thousands of steps, and the second factor comes close to it
    there (0.3/128 · sqrt(5000/100k) ≈ 5e-4). Short runs need far more: SAELens's 3e-4 leaves
    protocol SAE's 241-step MiniLM run at FVU 0.21 (3e-3: 0.11). Measured on that run (3072
    latents): 3.6e-3 → FVU 0.125, 6e-3 → 0.115, 9e-3 → 0.115 with 11% dead latents; on the
    toy (512 latents, 1955 steps) 3.3e-3 → MMCS 0.968, 1e-2 → 0.990.
    """
    base = 0.3 / math.sqrt(max(1, n_latents))
    return base * min(1.0, math.sqrt(5000 / max(1, total_steps)))


def sae_dead_tokens(total_tokens: int, n_latents: int, k: float) -> int:
    """Dead-latent window for a run of ``total_tokens``: a fortieth of the run, at most Gao et
    al.'s 10M tokens, at least 100 expected firings of a latent (100·L/k tokens). On protocol
    SAE (989k tokens, lr 6e-3) a window of run/10 left 5.7% of latents dead on eval, run/40
    0.9%, at the same FVU."""
    return int(min(10_000_000, max(100 * n_latents / max(1.0, k), total_tokens // 40)))


def sae_train_defaults(n_latents: int, total_tokens: int, batch_size: int) -> dict[str, Any]:
    """Training settings derived from the width and the run length."""
    steps = max(1, total_tokens // max(1, batch_size))
    return {"lr": sae_lr(n_latents, steps), "warmup_steps": min(100, max(1, steps // 20))}


add_recipe(
    Recipe(
        "sae-topk",
        "Sparse autoencoder with TopK latents (k = 32) and the AuxK dead-latent loss.",
        "Gao et al., Scaling and evaluating sparse autoencoders (2024)",
        model=sae_model({"name": "topk", "k": 32}),
        train=SAE_TRAIN,
    )
)
add_recipe(
    Recipe(
        "sae-batchtopk",
        "Sparse autoencoder with BatchTopK latents (k = 32 per row on average) and AuxK.",
        "Bussmann et al., BatchTopK Sparse Autoencoders (2024)",
        model=sae_model({"name": "batchtopk", "k": 32}),
        train=SAE_TRAIN,
    )
)
add_recipe(
    Recipe(
        "sae-relu",
        "Sparse autoencoder with ReLU latents and an L1 penalty.",
        "Bricken et al., Towards Monosemanticity (2023); Cunningham et al., Sparse Autoencoders "
        "Find Highly Interpretable Features in Language Models (ICLR 2024)",
        model=sae_model({"name": "relu"}, encoder_init_scale=0.1),
        train=SAE_TRAIN,
    )
)
add_recipe(
    Recipe(
        "sae-jumprelu",
        "Sparse autoencoder with JumpReLU latents (learned thresholds) and an L0 penalty.",
        "Rajamanoharan et al., Jumping Ahead: Improving Reconstruction Fidelity with JumpReLU "
        "Sparse Autoencoders (2024)",
        model=sae_model({"name": "jumprelu"}, encoder_init_scale=0.1),
        train=SAE_TRAIN,
    )
)
add_recipe(
    Recipe(
        "sae-matryoshka",
        "Matryoshka sparse autoencoder: BatchTopK latents whose prefixes reconstruct alone.",
        "Bussmann et al., Learning Multi-Level Features with Matryoshka Sparse Autoencoders "
        "(2025); Zaigrajew et al., Interpreting CLIP with Hierarchical Sparse Autoencoders (2025)",
        model=sae_model({"name": "matryoshka", "k": 32}),
        train=SAE_TRAIN,
    )
)
