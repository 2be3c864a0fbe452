"""Learned image codecs: ``bmshj-factorized``, ``bmshj-hyperprior`` and ``mbt-mean-scale``.

Fully convolutional (GDN analysis / synthesis transforms, total stride 16, ``parts/gdn.py``)
around an entropy-model bottleneck (``parts/entropy.py``, ``parts/hyperprior.py``), trained
on λ·D + R and writing real bytes (``model.compress`` / ``autoencoding compress``). Trained on
patches, they code whole images whose sides are multiples of 16 (64 for the hyperpriors).
Train the hyperpriors on patches of 128 pixels or more: a 64-pixel patch gives a 1x1 side
latent, whose learned scales do not carry over to whole images (measured: a mean-scale model
trained on 64-pixel patches coded coffee at 3.66 bpp whole against 0.32 bpp as 64-pixel
tiles; the bottleneck warns when it trains on such latents).
Data in [0, 1] (or a known 0–255 range) is kept in [0, 1]; distortion is MSE per entry.

Defaults are sized for a CPU: N = 64 hidden channels and M = 96 latent channels (CompressAI's
smallest quality levels use N = 128, M = 192), λ = 0.013, Adam 1e-3 with a cosine decay (the
papers use 1e-4 for millions of steps; a short run needs the larger rate).
"""

from __future__ import annotations

from .base import Recipe, add_recipe

CODEC_TRAIN = {
    "epochs": 20,
    "batch_size": 16,
    "lr": 1e-3,
    "schedule": "cosine",
    "min_lr_ratio": 0.05,
    "grad_clip": 1.0,
}

_NETS = {
    "encoder": {"name": "gdn-conv", "channels": 64, "layers": 4},
    "decoder": {"name": "gdn-conv", "channels": 64, "layers": 4},
    "reconstruction": {"name": "mse"},
    "samplers": [],
}

add_recipe(
    Recipe(
        "bmshj-factorized",
        "Learned image codec, factorized prior: GDN convs (stride 16), one learned CDF per "
        "latent channel, real bytes.",
        "Ballé et al., Variational image compression with a scale hyperprior (ICLR 2018), "
        "factorized-prior baseline; Ballé et al., End-to-end Optimized Image Compression "
        "(ICLR 2017)",
        model={
            **_NETS,
            "latent_dim": [96, None, None],
            "bottleneck": {"name": "factorized", "lmbda": 0.013, "stride": 16},
        },
        train=CODEC_TRAIN,
        any_size=True,
    )
)

add_recipe(
    Recipe(
        "bmshj-hyperprior",
        "Learned image codec, scale hyperprior: a side latent tells the Gaussian conditional "
        "each position's scale.",
        "Ballé et al., Variational image compression with a scale hyperprior (ICLR 2018)",
        model={
            **_NETS,
            "latent_dim": [96, None, None],
            "bottleneck": {"name": "hyperprior", "lmbda": 0.013, "stride": 16},
        },
        train=CODEC_TRAIN,
        any_size=True,
    )
)

add_recipe(
    Recipe(
        "mbt-mean-scale",
        "Learned image codec, mean-scale hyperprior (no autoregressive context): the side "
        "latent gives a mean and a scale per position.",
        "Minnen, Ballé & Toderici, Joint Autoregressive and Hierarchical Priors for Learned "
        "Image Compression (NeurIPS 2018), mean-scale hyperprior",
        model={
            **_NETS,
            "latent_dim": [96, None, None],
            "bottleneck": {
                "name": "hyperprior",
                "means": True,
                "lmbda": 0.013,
                "stride": 16,
                "decoder_input": "round",
            },
        },
        train=CODEC_TRAIN,
        any_size=True,
    )
)
