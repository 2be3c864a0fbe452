"""Recipes for disentangled latents: ``beta-tc-vae`` and ``dip-vae``.

The parts live in ``parts/disentangle.py``; the metrics that check them (MIG, DCI) in
``evaluate/disentanglement.py``, the data with known factors in ``data/factors.py``
(``synthetic:factors``); the claim-check is ``benchmarks/claims/claim_disentangle.py``.
"""

from __future__ import annotations

from .base import Recipe, add_recipe

# The VAE recipes' training settings and KL warm-up (recipes/continuous.py), so that a
# comparison with `vae` / `beta-vae` changes the loss alone.
TRAIN = {"epochs": 100, "lr": 3e-3, "schedule": "wsd", "batch_size": 64}
WARMUP = 1000
# Like every continuous recipe, each generates from a 10-component GMM fitted to its
# training codes after training (Ghosh et al. 2020): ``sample(n, sampler="gmm")``.
GMM = [{"name": "gmm", "components": 10}]

add_recipe(
    Recipe(
        "beta-tc-vae",
        "β-TC-VAE: VAE with the total correlation of the latents weighted apart (β = 6).",
        "Chen, Li, Grosse & Duvenaud, Isolating Sources of Disentanglement in Variational "
        "Autoencoders (NeurIPS 2018)",
        model={
            "bottleneck": {
                "name": "gaussian-tc",
                "alpha": 1.0,
                "beta": 6.0,
                "gamma": 1.0,
                "warmup_steps": WARMUP,
            },
            "reconstruction": {"name": "auto"},
            "samplers": GMM,
        },
        train=TRAIN,
    )
)
add_recipe(
    Recipe(
        "dip-vae",
        "DIP-VAE: VAE plus a penalty pushing the latents' covariance to I (type i or ii).",
        "Kumar, Sattigeri & Balakrishnan, Variational Inference of Disentangled Latent Concepts "
        "from Unlabeled Observations (ICLR 2018)",
        model={
            "bottleneck": {
                "name": "gaussian-dip",
                "type": "i",
                "lambda_od": 10.0,
                "warmup_steps": WARMUP,
            },
            "reconstruction": {"name": "auto"},
            "samplers": GMM,
        },
        train=TRAIN,
    )
)
