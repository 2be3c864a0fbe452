"""Sparse-autoencoder recipes: ``sae-topk``, ``sae-batchtopk``, ``sae-relu``, ``sae-jumprelu``,
``sae-matryoshka``.

All share the SAE encoder/decoder pair ``sae`` (bias-centred linear maps, unit-norm decoder
rows, encoder initialised from the decoder, decoder bias at the data's geometric median,
stored input scale) and the FVU reconstruction loss; they differ in the bottleneck. Training
settings follow the scale of activation data: thousands of tokens per step, few epochs.

Each is marked ``data_kind="activations"`` (what ``interp.train_sae`` accepts) and carries
:func:`derive_sae_train` as its ``derive_train`` hook, so every entry point that knows the
width and the run length (``fit``, ``train_sae``) derives the learning rate and warm-up from
them (:func:`sae_train_defaults`) unless the user sets them, and the number of epochs from the
store's size: at least :data:`SAE_MIN_STEPS` optimizer steps (:func:`sae_epochs`), so a small
store is not under-trained by the default 2 epochs. The dead-latent window follows
the run inside the bottleneck (``SparseBottleneck.dead_window``: 1/240 of the run, at least
one batch). The AuxK weight is the bottleneck's own default (``AuxKConfig.auxk_alpha`` in
``parts/sparse.py``, with the measurements behind it).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .base import Recipe, add_recipe

if TYPE_CHECKING:
    from ..model import ModelConfig

SAE_NETS = {"name": "sae"}
SAE_TRAIN: dict[str, Any] = {
    "batch_size": 4096,
    "epochs": 2,
    # lr and warm-up stand only where the run length is unknown (the estimators build their
    # TrainConfig from these); fit and train_sae replace them by derive_sae_train's
    "lr": 2e-3,
    "warmup_steps": 10,
    "schedule": "wsd",
    "decay_fraction": 0.2,
    "val_fraction": 0.0,
    # Adam's second-moment decay 0.995, between the usual 0.999 and 0.99: the gradient scale
    # of an SAE changes quickly while latents die and revive. On protocol SAE (CPU, seeds 0-2,
    # sae-topk): 0.99 → FVU 0.1095, 1.07% dead; 0.995 → 0.1097, 0.68%; 0.999 → 0.1100, 0.74%
    # (GPU sweep: benchmarks/results/sae_sweep.md)
    "betas": [0.9, 0.995],
}


def sae_model(
    bottleneck: dict[str, Any], latent_dim: int = 4096, encoder_init_scale: float | None = None
) -> dict[str, Any]:
    """Model settings of an SAE recipe: the ``sae`` nets, FVU and this bottleneck;
    ``encoder_init_scale`` is restated only where a recipe's differs from the part's."""
    scale = {} if encoder_init_scale is None else {"encoder_init_scale": encoder_init_scale}
    return {
        "latent_dim": latent_dim,
        "encoder": {**SAE_NETS, **scale},
        "decoder": dict(SAE_NETS),
        "bottleneck": bottleneck,
        "reconstruction": {"name": "fvu"},
    }


def sae_lr(n_latents: int, total_steps: int) -> float:
    """Adam learning rate for an SAE of ``n_latents`` trained for ``total_steps`` steps:
    ``0.22 / sqrt(L) · (5000 / steps)^(1/3)``.

    The 1/sqrt(width) scaling is Gao et al.'s (2024). Short runs need a far larger rate than
    their long-run constant (2e-4 at 2^14 latents); SAELens's 3e-4 leaves protocol SAE's
    241-step MiniLM run at FVU 0.21. The step factor is fitted to two measured optima:
    protocol SAE (3072 latents, 241 steps, 100 warm-up steps) is best near 1.1e-2 — 5.4e-3
    gave FVU 0.1167, 8.1e-3 0.1121, 1.08e-2 0.1107, 1.35e-2 0.1106 with 2.5% dead — and the
    toy (512 latents, 1953 steps) near 1.3e-2 (MMCS 0.990; 2.7e-2: 0.979). A 100k-step run
    at 2^14 latents gets 6e-4. Sweep: ``benchmarks/results/sae_sweep.md``.
    """
    return 0.22 / math.sqrt(max(1, n_latents)) * (5000 / max(1, total_steps)) ** (1 / 3)


def sae_train_defaults(n_latents: int, total_tokens: int, batch_size: int) -> dict[str, Any]:
    """Training settings derived from the width and the run length."""
    steps = max(1, total_tokens // max(1, batch_size))
    # a long warm-up lets the high short-run rate in without killing latents (protocol SAE:
    # 12 warm-up steps → FVU 0.1145 with 4.9% dead at 8.1e-3; 50 → 0.1121, 0.8% dead)
    return {"lr": sae_lr(n_latents, steps), "warmup_steps": min(100, max(1, steps // 2))}


#: the fewest optimizer steps a default SAE run takes: a small store gets more epochs. On the
#: toy (d 64, 512 features, a 300k-row store, batch 4096) the old 2 epochs (148 steps) left
#: features unfound that this budget recovers (benchmarks/results/claim_sae_budget.md)
SAE_MIN_STEPS = 1000
#: ... but never more passes than this over a tiny store (a few rows repeated 1000 times
#: teach nothing more and write a checkpoint per epoch)
SAE_MAX_EPOCHS = 100


def sae_epochs(rows: int, batch_size: int, epochs: int) -> int:
    """Passes over ``rows`` for at least :data:`SAE_MIN_STEPS` steps of ``batch_size``: never
    fewer than ``epochs`` (the recipe's 2), never more than :data:`SAE_MAX_EPOCHS`."""
    per_epoch = max(1, -(-int(rows) // max(1, int(batch_size))))
    return max(int(epochs), min(SAE_MAX_EPOCHS, -(-SAE_MIN_STEPS // per_epoch)))


def derive_sae_train(model: ModelConfig, rows: int, train: dict[str, Any]) -> dict[str, Any]:
    """The SAE recipes' ``derive_train`` hook: the run-length budget :func:`sae_epochs` and
    :func:`sae_train_defaults` for this width and ``rows`` × ``epochs`` training tokens in
    batches of ``batch_size`` (``epochs`` as given: ``train_config`` derives again for the
    budget when it is taken, and keeps a user's ``epochs``)."""
    batch = int(train["batch_size"])
    tokens = rows * int(train["epochs"])
    return {
        **sae_train_defaults(model.latent_channels, tokens, batch),
        "epochs": sae_epochs(rows, batch, int(train["epochs"])),
    }


def sae_recipe(name: str, summary: str, paper: str, model: dict[str, Any]) -> Recipe:
    """An SAE recipe: made for activations, :data:`SAE_TRAIN`, lr and warm-up from the run."""
    return Recipe(
        name,
        summary,
        paper,
        model=model,
        train=SAE_TRAIN,
        data_kind="activations",
        derive_train=derive_sae_train,
    )


add_recipe(
    sae_recipe(
        "sae-topk",
        "Sparse autoencoder with TopK latents (k = 32) and the AuxK dead-latent loss.",
        "Gao et al., Scaling and evaluating sparse autoencoders (2024)",
        # W_enc = 0.5·W_decᵀ: with the derived lr, the dead window and AuxK at its default
        # weight 1, protocol SAE FVU 0.1095 ± 0.0006 with 0.3% dead on a GPU (scale 1 with
        # AuxK 1/8: 0.1104) and, on this CPU, 0.1091 with 0.75% dead (scale 0.7: 1.4% dead)
        model=sae_model({"name": "topk", "k": 32}, encoder_init_scale=0.5),
    )
)
add_recipe(
    sae_recipe(
        "sae-batchtopk",
        "Sparse autoencoder with BatchTopK latents (k = 32 per row on average) and AuxK.",
        "Bussmann et al., BatchTopK Sparse Autoencoders (2024)",
        model=sae_model({"name": "batchtopk", "k": 32}),
    )
)
add_recipe(
    sae_recipe(
        "sae-relu",
        "Sparse autoencoder with ReLU latents and an L1 penalty.",
        "Bricken et al., Towards Monosemanticity (2023); Cunningham et al., Sparse Autoencoders "
        "Find Highly Interpretable Features in Language Models (ICLR 2024)",
        model=sae_model({"name": "relu"}, encoder_init_scale=0.1),
    )
)
add_recipe(
    sae_recipe(
        "sae-jumprelu",
        "Sparse autoencoder with JumpReLU latents (learned thresholds) and an L0 penalty.",
        "Rajamanoharan et al., Jumping Ahead: Improving Reconstruction Fidelity with JumpReLU "
        "Sparse Autoencoders (2024)",
        # the bottleneck's defaults (ε 0.05, AuxK, λ = 2 per firing latent in normalised
        # units) recover the toy's features (claims/sae_variants.py) and, on protocol SAE's
        # MiniLM data, leave no latent dead (sae_recipes_minilm.py)
        model=sae_model({"name": "jumprelu"}, encoder_init_scale=0.1),
    )
)
add_recipe(
    sae_recipe(
        "sae-matryoshka",
        "Matryoshka sparse autoencoder: BatchTopK latents whose prefixes reconstruct alone.",
        "Bussmann et al., Learning Multi-Level Features with Matryoshka Sparse Autoencoders "
        "(2025); Zaigrajew et al., Interpreting CLIP with Hierarchical Sparse Autoencoders (2025)",
        model=sae_model({"name": "matryoshka", "k": 32}),
    )
)
