"""Generative recipes beyond the VAE: ``wae``, ``rae``, ``iwae``, ``vamp``.

The parts live in ``parts/generative.py``. Choices where the papers leave room, for the
digits-sized data of protocol GEN (shared/BENCHMARKS.md):

- ``wae``: λ = 10 and the IMQ kernel C = 2·d·σ² summed over the scales
  0.1…10 × C, as in the WAE authors' released code; the cost is the data's likelihood
  (``auto``: Bernoulli cross-entropy on [0, 1], summed over entries like the paper's
  squared-error cost), so λ keeps the paper's meaning against a summed cost.
- ``rae``: RAE-L2 with β = 1e-4 on ½‖z‖² and λ = 1e-7 on ‖θ_dec‖² (the RAE code's
  defaults, also pythae's); samples through a 10-component GMM fitted to the codes.
- ``iwae``: k = 10 samples (pythae's protocol; the paper reports k = 5 and 50).
- ``vamp``: K = 50 pseudo-inputs (the paper's 500 are a third of the 1,437 digits).

``iwae`` and ``vamp`` train like ``vae`` (peak lr 3e-3, warmup-stable-decay, 1000 steps of
KL warm-up: ``recipes/continuous.py``, measured on protocol GEN).
"""

from __future__ import annotations

from .base import Recipe, add_recipe

# the `vae` recipe's training settings and KL warm-up (recipes/continuous.py: why)
VAE_TRAIN = {"epochs": 100, "lr": 3e-3, "schedule": "wsd", "batch_size": 64}
KL_WARMUP = 1000
# every recipe also fits a 10-component GMM to its training codes after training (Ghosh et
# al. 2020), sampled with ``sample(n, sampler="gmm")``; ``rae`` has no other way to sample
GMM = [{"name": "gmm", "components": 10}]

add_recipe(
    Recipe(
        "wae",
        "Wasserstein autoencoder: deterministic code, MMD (IMQ kernel) to a N(0, I) prior.",
        "Tolstikhin et al., Wasserstein Auto-Encoders (ICLR 2018)",
        model={
            "bottleneck": {"name": "wae-mmd", "weight": 10.0},
            "reconstruction": {"name": "auto"},
            "samplers": GMM,
        },
        train={"epochs": 100},
    )
)
add_recipe(
    Recipe(
        "rae",
        "Regularized autoencoder (RAE-L2): code-norm and decoder penalties, GMM sampler.",
        "Ghosh et al., From Variational to Deterministic Autoencoders (ICLR 2020)",
        model={
            "bottleneck": {"name": "rae", "weight": 1e-4},
            "regularizers": [{"name": "decoder-l2", "weight": 1e-7}],
            "reconstruction": {"name": "auto"},
            "samplers": GMM,
        },
        train={"epochs": 100},
    )
)
add_recipe(
    Recipe(
        "iwae",
        "Importance-weighted autoencoder: the VAE trained on the k = 10 sample bound.",
        "Burda et al., Importance Weighted Autoencoders (ICLR 2016)",
        model={
            "bottleneck": {"name": "iwae", "samples": 10, "warmup_steps": KL_WARMUP},
            "reconstruction": {"name": "auto"},
            "samplers": GMM,
        },
        train=VAE_TRAIN,
    )
)
add_recipe(
    Recipe(
        "vamp",
        "VAE with a VampPrior: mixture of posteriors at 50 learned pseudo-inputs.",
        "Tomczak & Welling, VAE with a VampPrior (AISTATS 2018)",
        model={
            "bottleneck": {"name": "vamp", "components": 50, "warmup_steps": KL_WARMUP},
            "reconstruction": {"name": "auto"},
            "samplers": GMM,
        },
        train=VAE_TRAIN,
    )
)
