"""Recipes: named, documented compositions of parts with defaults from their papers.

A recipe is data, not code: model-config overrides plus training defaults. Adding a method
means registering one more :class:`Recipe` (here or in the file that adds its part).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .config import from_dict
from .errors import AutoencodingError
from .model import ModelConfig
from .registry import Registry


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    """One line for `autoencoding recipes`."""
    paper: str
    """The paper the defaults come from."""
    model: dict[str, Any] = field(default_factory=dict)
    """Overrides of ModelConfig fields."""
    train: dict[str, Any] = field(default_factory=dict)
    """Overrides of TrainConfig fields."""


RECIPES: Registry[Recipe] = Registry("recipe")


def add_recipe(recipe: Recipe) -> Recipe:
    return RECIPES.register(recipe.name)(recipe)


def get_recipe(name: str) -> Recipe:
    return RECIPES.get(name)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and "name" not in v:
            out[k] = _merge(out[k], v)
        elif (
            isinstance(v, dict)
            and isinstance(out.get(k), dict)
            and v.get("name") == out[k].get("name")
        ):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def auto_reconstruction(data_min: float, data_max: float) -> dict[str, Any]:
    """The likelihood that fits the data: Bernoulli for data in [0, 1], else Gaussian."""
    if data_min >= 0.0 and data_max <= 1.0:
        return {"name": "bernoulli"}
    return {"name": "gaussian", "variance": "learned"}


def resolve(
    recipe: str,
    input_shape: list[int] | tuple[int, ...],
    data_range: tuple[float, float] | None = None,
    overrides: dict[str, Any] | None = None,
) -> ModelConfig:
    """The full model config for ``recipe`` on data of this shape and value range.

    ``overrides`` are merged into the recipe's model settings (part specs with the same
    ``name`` merge option by option). A reconstruction named ``auto`` becomes Bernoulli for
    data in [0, 1] and a learned-variance Gaussian otherwise.
    """
    r = get_recipe(recipe)
    settings = _merge({"recipe": recipe, **r.model}, overrides or {})
    settings["input_shape"] = [int(s) for s in input_shape]
    rec = settings.get("reconstruction", {"name": "mse"})
    if (rec if isinstance(rec, str) else rec.get("name")) == "auto":
        if data_range is None:
            raise AutoencodingError(
                f"recipe {recipe!r} picks its likelihood from the data; pass data_range"
            )
        settings["reconstruction"] = auto_reconstruction(*data_range)
    return from_dict(ModelConfig, settings, where=f"recipe {recipe!r}").normalized()


# Measured on protocol GEN (benchmarks/gen_vae.py): a 3x higher peak lr with a final linear
# decay (wsd) and 1000 steps of KL warm-up gain ~0.4 nats of test NLL over constant Adam 1e-3
# in the same 100 epochs; the warm-up also stops the early posterior collapse of short runs.
VAE_TRAIN = {"epochs": 100, "lr": 3e-3, "schedule": "wsd", "batch_size": 64}
KL_WARMUP = 1000

add_recipe(
    Recipe(
        "ae",
        "Plain deterministic autoencoder (MSE).",
        "Hinton & Salakhutdinov, Reducing the Dimensionality of Data with Neural Networks (2006)",
        model={"bottleneck": {"name": "identity"}},
    )
)
add_recipe(
    Recipe(
        "dae",
        "Denoising autoencoder with Gaussian noise (std 0.1 of the scaled data).",
        "Vincent et al., Stacked Denoising Autoencoders (JMLR 2010)",
        model={"corruption": {"name": "gaussian", "std": 0.1}},
    )
)
add_recipe(
    Recipe(
        "dae-masking",
        "Denoising autoencoder with masking noise (25% of entries zeroed).",
        "Vincent et al., Extracting and Composing Robust Features with Denoising Autoencoders "
        "(ICML 2008)",
        model={"corruption": {"name": "masking", "rate": 0.25}},
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
        model={"regularizers": [{"name": "contractive", "weight": 1e-4}]},
    )
)
add_recipe(
    Recipe(
        "lorae",
        "Low-rank autoencoder: linear latent map with a nuclear-norm penalty.",
        "Mazumder et al., Learning Low-Rank Latent Spaces with Simple Deterministic Autoencoder "
        "(WACV 2024)",
        model={"bottleneck": {"name": "lowrank", "weight": 1e-3}},
    )
)
add_recipe(
    Recipe(
        "vae",
        "Variational autoencoder; likelihood from the data (Bernoulli on [0,1], else Gaussian).",
        "Kingma & Welling, Auto-Encoding Variational Bayes (ICLR 2014)",
        model={"bottleneck": {"name": "gaussian", "beta": 1.0, "warmup_steps": KL_WARMUP},
           "reconstruction": {"name": "auto"}},
        train=VAE_TRAIN,
    )
)
add_recipe(
    Recipe(
        "beta-vae",
        "β-VAE (β = 4): a stronger KL weight for more factorised latents.",
        "Higgins et al., beta-VAE: Learning Basic Visual Concepts with a Constrained Variational "
        "Framework (ICLR 2017)",
        model={"bottleneck": {"name": "gaussian", "beta": 4.0, "warmup_steps": KL_WARMUP},
           "reconstruction": {"name": "auto"}},
        train=VAE_TRAIN,
    )
)

# Families registered in their own files: vqvae, fsq, qlae (recipes_discrete); sae-topk,
# sae-batchtopk, sae-relu, sae-jumprelu, sae-matryoshka (recipes_sae); remasker
# (recipes_tabular).
from . import recipes_discrete, recipes_sae, recipes_tabular  # noqa: E402, F401
