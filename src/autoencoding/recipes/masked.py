"""Masked autoencoders on patches: ``mae`` (images), ``mae-video``, ``patch-mae`` (series),
``pits`` (series, patch-independent MLP).

The parts live in ``parts/patches.py`` (grid, sin-cos positions), ``parts/transformer.py``
(visible-only encoder, light decoder), ``parts/pits.py`` and ``parts/masks.py`` (masks,
``patch-mse`` with ``norm_pix``). Every recipe's latent is a token sequence
(``latent_dim: [null, D]``); ``encode`` mean-pools it by default (``pool``: mean, cls,
tokens, flatten); the series recipes default to ``meanmax`` (mean and max per channel: on
MNIST-1D, 20 epochs, `pits` 256 wide, the all-label probe rises from 0.70 mean-pooled to
0.81, because where a pattern occurs moves from series to series).

The papers' models are ViT-B/L on ImageNet (MAE: 12-24 blocks of width 768-1024, 1600
epochs); here the defaults are scaled to a 2-core CPU and small data (digits 16×16, series of
length 40-64): width 64, 3-4 encoder blocks, a 1-2 block decoder of width 32-64, AdamW with
weight decay 0.05 and a cosine schedule (as MAE), batch 64, learning rate 1e-3 (MAE's
1.5e-4 × batch/256 is tuned for batches of 4096 and 800+ epochs). What the papers fix and we
keep: the mask ratio (MAE 75%, VideoMAE 90%, PatchTST 40%), the loss on hidden patches only,
fixed sin-cos positions, pre-norm blocks, channel-independent patches for series, and
per-patch normalised targets (``norm_pix``) for images (MAE's default; on digits 16×16 it
lifts the 10-label probe, benchmarks/claims/mae_norm_pix.py): their reconstructions are then
per-patch standardised, not in the data's units. ``mae-video`` predicts raw values: on the
sliding-digit videos of benchmarks/claims/mae_video_tube.py (30 epochs, seed 0) norm_pix
lowered the mean-pooled probe from 0.689 to 0.607 (VideoMAE uses it on real video).

    autoencoding train mae --data images.npy          # (n, C, H, W), H and W divisible by 4
    autoencoding train patch-mae --data series.npy    # (n, C, T), T divisible by 4
    autoencoding encode runs/x --data series.npy --pool mean --out z.npy
"""

from __future__ import annotations

from .base import Recipe, add_recipe

#: MAE's optimiser (AdamW, weight decay 0.05, β2 0.95, cosine) at a CPU-sized run
MAE_TRAIN = {
    "epochs": 100,
    "lr": 1e-3,
    "batch_size": 64,
    "optimizer": "adamw",
    "weight_decay": 0.05,
    "betas": [0.9, 0.95],
    "schedule": "cosine",
}

add_recipe(
    Recipe(
        "mae",
        "Masked autoencoder for images: 75% random patches hidden, a ViT on the visible ones, "
        "a light decoder with mask tokens; loss on hidden patches.",
        "He et al., Masked Autoencoders Are Scalable Vision Learners (CVPR 2022)",
        model={
            "latent_dim": [None, 64],
            "encoder": {
                "name": "patch_transformer",
                "patch": [4],
                "embed_dim": 64,
                "depth": 4,
                "heads": 4,
                "decoder_dim": 64,
                "decoder_depth": 2,
                "decoder_heads": 4,
            },
            "corruption": {"name": "patch-random", "ratio": 0.75},
            "reconstruction": {"name": "patch-mse", "norm_pix": True},
        },
        train=MAE_TRAIN,
    )
)
add_recipe(
    Recipe(
        "mae-video",
        "Masked autoencoder for video (n, C, T, H, W): 2×4×4 tubelets, 90% tube masking.",
        "Tong et al., VideoMAE (NeurIPS 2022); Feichtenhofer et al., Masked Autoencoders As "
        "Spatiotemporal Learners (NeurIPS 2022)",
        model={
            "latent_dim": [None, 64],
            "encoder": {
                "name": "patch_transformer",
                "patch": [2, 4, 4],
                "embed_dim": 64,
                "depth": 4,
                "heads": 4,
                "decoder_dim": 32,
                "decoder_depth": 1,
                "decoder_heads": 4,
            },
            "corruption": {"name": "patch-tube", "ratio": 0.9},
            "reconstruction": {"name": "patch-mse", "norm_pix": False},
        },
        train=MAE_TRAIN,
    )
)
add_recipe(
    Recipe(
        "patch-mae",
        "PatchTST masked pretraining for series (n, C, T): channel-independent patches of 4, "
        "40% hidden per channel, a transformer on the visible ones.",
        "Nie et al., A Time Series is Worth 64 Words: Long-term Forecasting with Transformers "
        "(PatchTST, ICLR 2023)",
        model={
            "latent_dim": [None, 64],
            "encoder": {
                "name": "patch_transformer",
                "patch": [4],
                "channels": "independent",
                "embed_dim": 64,
                "depth": 3,
                "heads": 4,
                "decoder_dim": 32,
                "decoder_depth": 1,
                "decoder_heads": 4,
                "pool": "meanmax",
            },
            "corruption": {"name": "patch-random", "ratio": 0.4, "channels": "independent"},
            "reconstruction": {"name": "patch-mse"},
        },
        train=MAE_TRAIN,
    )
)
add_recipe(
    Recipe(
        "pits",
        "PITS for series (n, C, T): each patch of 4 embedded on its own by a 256-wide MLP with "
        "dropout and reconstructed by a linear decoder (no attention, no masking).",
        "Lee, Park & Lee, Learning to Embed Time Series Patches Independently (ICLR 2024)",
        model={
            "latent_dim": [None, 256],
            "encoder": {
                "name": "patch_mlp",
                "patch": [4],
                "channels": "independent",
                "hidden": 256,
                "embed_dim": 256,
                "dropout": 0.2,
                "pool": "meanmax",
            },
            "corruption": {"name": "none"},
            "reconstruction": {"name": "mse"},
        },
        train={**MAE_TRAIN, "weight_decay": 0.0, "betas": [0.9, 0.999]},
    )
)
