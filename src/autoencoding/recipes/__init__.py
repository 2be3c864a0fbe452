"""Recipes: named, documented compositions of parts with defaults from their papers.

``base`` holds the :class:`Recipe` record, the registry and :func:`resolve`; each family
module (``continuous``, ``discrete``, ``sae``, ``tabular``) imports only ``base`` and
registers its recipes on import. Importing this package registers them all. Adding a method
means registering one more :class:`Recipe` in its family's module (or in a new one imported
here).
"""

from . import (  # noqa: F401  (register the recipes)
    codec,
    codec_vec,
    continuous,
    discrete,
    disentangle,
    generative,
    masked,
    sae,
    tabular,
)
from .base import (
    DATA_KINDS,
    RECIPES,
    DeriveTrain,
    Recipe,
    add_recipe,
    auto_reconstruction,
    derived_train,
    get_recipe,
    recipes_for,
    resolve,
)

__all__ = [
    "DATA_KINDS",
    "RECIPES",
    "DeriveTrain",
    "Recipe",
    "add_recipe",
    "auto_reconstruction",
    "derived_train",
    "get_recipe",
    "recipes_for",
    "resolve",
]
