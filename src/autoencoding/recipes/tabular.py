"""Recipes for tables with missing values: ``remasker``.

The parts live in ``parts/remask.py`` (the re-masking corruption) and
``parts/feature_transformer.py`` (the per-feature-token transformer). The imputer
(``autoencoding.estimators.MaskedAutoencoderImputer``) trains this recipe on tables with NaN at
the missing entries (the corruption hides them) and widens the code to the full token grid; as
a plain recipe on a complete table it is a masked autoencoder for tabular rows.
"""

from __future__ import annotations

from .base import Recipe, add_recipe

add_recipe(
    Recipe(
        "remasker",
        "Masked autoencoder for tables: per-feature tokens, a transformer over the visible "
        "ones, re-masking of observed entries (loss on the re-masked).",
        "Du, Melo & Wang, ReMasker: Imputing Tabular Data with Masked Autoencoding (ICLR 2024)",
        model={
            "encoder": {"name": "feature_transformer", "embed_dim": 32, "depth": 2, "heads": 4},
            "corruption": {"name": "remask", "rate": 0.5},
            "reconstruction": {"name": "mse"},
        },
        train={"epochs": 200, "lr": 1e-3, "batch_size": 64, "optimizer": "adamw"},
    )
)
