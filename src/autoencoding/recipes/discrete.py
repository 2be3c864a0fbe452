"""Recipes with discrete bottlenecks: ``vqvae``, ``fsq`` and ``qlae``.

The parts live in ``parts/vq.py`` and ``parts/fsq.py``; each recipe works with the MLP
(default) or the conv nets (``model={"encoder": {"name": "conv2d"}}`` on image data).
"""

from __future__ import annotations

from .base import Recipe, add_recipe

DISCRETE_TRAIN = {"epochs": 100, "lr": 1e-3, "batch_size": 64}

add_recipe(
    Recipe(
        "vqvae",
        "VQ-VAE: 4 vectors of 16 dims, 512 codes, EMA updates, k-means init, dead-code restarts, "
        "rotation-trick gradients.",
        "van den Oord et al., Neural Discrete Representation Learning (NeurIPS 2017); "
        "Fifty et al., Restructuring Vector Quantization with the Rotation Trick (ICLR 2025)",
        model={
            "latent_dim": 64,
            "bottleneck": {
                "name": "vq",
                "dim": 16,
                "codebook_size": 512,
                "commitment": 0.25,
                "update": "ema",
                "ema_decay": 0.99,
                "gradient": "rotation",
                "kmeans_init": True,
                "restarts": True,
            },
            "reconstruction": {"name": "auto"},
        },
        train=DISCRETE_TRAIN,
    )
)

add_recipe(
    Recipe(
        "fsq",
        "Finite scalar quantization: groups of 4 dims with levels [8, 5, 5, 5] (1000 codes each).",
        "Mentzer et al., Finite Scalar Quantization: VQ-VAE Made Simple (ICLR 2024)",
        model={
            "latent_dim": 8,
            "bottleneck": {"name": "fsq", "levels": [8, 5, 5, 5]},
            "reconstruction": {"name": "auto"},
        },
        train=DISCRETE_TRAIN,
    )
)

add_recipe(
    Recipe(
        "qlae",
        "Quantized latent autoencoder: 10 learned values per latent dim, AdamW weight decay 0.1.",
        "Hsu et al., Disentanglement via Latent Quantization (NeurIPS 2023)",
        model={
            "latent_dim": 8,
            # The paper weighs both terms 0.01 against a per-pixel-mean BCE; here likelihoods
            # and these terms are per-sample sums, so the same balance is
            # 0.01·n_features/latent_dim (0.08 on 8×8 digits with 8 latents, 0.32 on 16×16
            # images, ~10 on the paper's 64×64 RGB sets). 0.3 keeps encoder outputs at the
            # values on small images (with 0.01 they run away: quantization error ~19 on
            # the blobs of benchmarks/claims/qlae.py).
            "bottleneck": {"name": "qlae", "n_values": 10, "quantization": 0.3, "commitment": 0.3},
            "reconstruction": {"name": "auto"},
        },
        train={**DISCRETE_TRAIN, "optimizer": "adamw", "weight_decay": 0.1, "grad_clip": 1.0},
    )
)
