"""Recipes with continuous latents: ``ae``, ``dae``, ``dae-masking``, ``cae``, ``lorae``,
``vae``, ``beta-vae``. Each fits a ``gmm`` latent sampler after training, so each generates.

The parts live in ``parts/bottlenecks.py`` (identity, low-rank, Gaussian),
``parts/corruption.py`` (the denoising noises) and ``parts/regularizers.py`` (contractive).
"""

from __future__ import annotations

from .base import Recipe, add_recipe

# Measured on protocol GEN (benchmarks/gen_vae.py): a 3x higher peak lr with a final linear
# decay (wsd) and 1000 steps of KL warm-up gain ~0.4 nats of test NLL over constant Adam 1e-3
# in the same 100 epochs; the warm-up also stops the early posterior collapse of short runs.
VAE_TRAIN = {"epochs": 100, "lr": 3e-3, "schedule": "wsd", "batch_size": 64}
KL_WARMUP = 1000
# Every continuous recipe generates: a Gaussian mixture fitted on the training codes after
# training (Ghosh et al. 2020), sampled with ``sample(n, sampler="gmm")``.
GMM = [{"name": "gmm", "components": 10}]

add_recipe(
    Recipe(
        "ae",
        "Plain deterministic autoencoder (MSE).",
        "Hinton & Salakhutdinov, Reducing the Dimensionality of Data with Neural Networks (2006)",
        model={"bottleneck": {"name": "identity"}, "samplers": GMM},
    )
)
add_recipe(
    Recipe(
        "dae",
        "Denoising autoencoder with Gaussian noise (std 0.1 of the scaled data).",
        "Vincent et al., Stacked Denoising Autoencoders (JMLR 2010)",
        model={"corruption": {"name": "gaussian", "std": 0.1}, "samplers": GMM},
    )
)
add_recipe(
    Recipe(
        "dae-masking",
        "Denoising autoencoder with masking noise (25% of entries zeroed).",
        "Vincent et al., Extracting and Composing Robust Features with Denoising Autoencoders "
        "(ICML 2008)",
        model={"corruption": {"name": "masking", "rate": 0.25}, "samplers": GMM},
    )
)
add_recipe(
    Recipe(
        "cae",
        "Contractive autoencoder: Frobenius norm of the full encoder Jacobian.",
        "Rifai et al., Contractive Auto-Encoders (ICML 2011); deep Jacobian as in "
        "Autoencoder-based General Purpose Representation Learning for Customer Embedding (2024)",
        # λ = 1e-4 against a per-entry MSE: on digits it cuts the code's sensitivity to input
        # noise by ~15% for ~5% more reconstruction error (benchmarks/claims/cae.py); larger λ
        # buys little more invariance for much worse reconstruction.
        model={"regularizers": [{"name": "contractive", "weight": 1e-4}], "samplers": GMM},
    )
)
add_recipe(
    Recipe(
        "lorae",
        "Low-rank autoencoder: linear latent map with a nuclear-norm penalty.",
        "Mazumder et al., Learning Low-Rank Latent Spaces with Simple Deterministic Autoencoder "
        "(WACV 2024)",
        model={"bottleneck": {"name": "lowrank", "weight": 1e-3}, "samplers": GMM},
    )
)
add_recipe(
    Recipe(
        "vae",
        "Variational autoencoder; likelihood from the data (Bernoulli on [0,1], else Gaussian).",
        "Kingma & Welling, Auto-Encoding Variational Bayes (ICLR 2014)",
        model={
            "bottleneck": {"name": "gaussian", "beta": 1.0, "warmup_steps": KL_WARMUP},
            "reconstruction": {"name": "auto"},
            "samplers": GMM,
        },
        train=VAE_TRAIN,
    )
)
add_recipe(
    Recipe(
        "beta-vae",
        "β-VAE (β = 4): a stronger KL weight for more factorised latents.",
        "Higgins et al., beta-VAE: Learning Basic Visual Concepts with a Constrained Variational "
        "Framework (ICLR 2017)",
        model={
            "bottleneck": {"name": "gaussian", "beta": 4.0, "warmup_steps": KL_WARMUP},
            "reconstruction": {"name": "auto"},
            "samplers": GMM,
        },
        train=VAE_TRAIN,
    )
)
