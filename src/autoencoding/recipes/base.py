"""The recipe record, its registry and :func:`resolve`; imports no recipe family.

A recipe is data, not code: model-config overrides, training defaults and the metadata that
says how entry points treat it (what data it trains on, which training settings follow from
the model and the run length). Generic code (``fit``, ``train_sae``, the estimators) reads
that metadata instead of testing recipe or part names.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import from_dict
from ..errors import AutoencodingError
from ..model import ModelConfig
from ..registry import Registry

#: what a recipe trains on: rows of samples (tables, images, series; :func:`autoencoding.fit`)
#: or a network's activations (:func:`autoencoding.interp.train_sae`)
DATA_KINDS = ("samples", "activations")

#: ``derive_train(model, rows, train) -> settings``: see :attr:`Recipe.derive_train`
DeriveTrain = Callable[[ModelConfig, int, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Recipe:
    name: str
    """The registry name (``vae``, ``sae-topk``, ...)."""
    summary: str
    """One line for `autoencoding recipes`."""
    paper: str
    """The paper the defaults come from."""
    model: dict[str, Any] = field(default_factory=dict)
    """Overrides of ModelConfig fields."""
    train: dict[str, Any] = field(default_factory=dict)
    """Overrides of TrainConfig fields."""
    data_kind: str = "samples"
    """What it is made for: ``"samples"`` (rows, images, series) or ``"activations"`` (a
    network's activations; only these recipes are accepted by ``interp.train_sae``, while
    ``fit`` trains either kind)."""
    derive_train: DeriveTrain | None = None
    """Training settings that follow from the model and the run length (e.g. an SAE's learning
    rate from its width and step count), or None. Called as ``derive_train(model, rows,
    train)`` with the resolved ModelConfig, the training rows per epoch and every TrainConfig
    setting as a dict (recipe defaults < the user's); what it returns sits between the
    recipe's ``train`` and the user's settings, so a user's key always wins. It may return
    ``epochs`` (a run-length budget from the data's size): where the user set none, the hook
    is called again with that many epochs so the other settings follow the run actually
    taken. It must not return ``batch_size``, ``seed`` or ``val_fraction``."""

    any_size: bool = False
    """The model is fully convolutional: a sample's sizes after its channels are stored as
    null, so one trained on patches codes images of any (suitably divisible) size."""

    def __post_init__(self) -> None:
        if self.data_kind not in DATA_KINDS:
            raise AutoencodingError(
                f"recipe {self.name!r}: data_kind must be one of {list(DATA_KINDS)}, "
                f"got {self.data_kind!r}"
            )


RECIPES: Registry[Recipe] = Registry("recipe")


def add_recipe(recipe: Recipe) -> Recipe:
    return RECIPES.register(recipe.name)(recipe)


def get_recipe(name: str) -> Recipe:
    return RECIPES.get(name)


def recipes_for(data_kind: str) -> list[str]:
    """Names of the registered recipes made for ``data_kind`` (one of :data:`DATA_KINDS`)."""
    return [n for n in RECIPES.names() if RECIPES.get(n).data_kind == data_kind]


def derived_train(
    recipe: str, model: ModelConfig, rows: int, train: dict[str, Any]
) -> dict[str, Any]:
    """The recipe's derived training settings for this model and run (empty without a hook)."""
    hook = get_recipe(recipe).derive_train
    return dict(hook(model, int(rows), dict(train))) if hook is not None else {}


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
    if settings.get("latent_dim") == "input":  # codecs whose latent is the input (vector-codec)
        settings["latent_dim"] = int(math.prod(settings["input_shape"]))
    if r.any_size:
        settings["input_shape"][1:] = [None] * (len(input_shape) - 1)
    rec = settings.get("reconstruction", {"name": "mse"})
    if (rec if isinstance(rec, str) else rec.get("name")) == "auto":
        if data_range is None:
            raise AutoencodingError(
                f"recipe {recipe!r} picks its likelihood from the data; pass data_range"
            )
        settings["reconstruction"] = auto_reconstruction(*data_range)
    return from_dict(ModelConfig, settings, where=f"recipe {recipe!r}").normalized()
