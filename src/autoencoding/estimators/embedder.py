"""Autoencoder embeddings as a scikit-learn transformer: :class:`AutoencoderEmbedder`.

``fit`` trains any recipe on the (standardized) rows, ``transform`` returns the latent codes
(posterior means for VAEs) and ``inverse_transform`` decodes codes back to rows in the data's
own units. In a ``Pipeline`` it replaces PCA where a nonlinear map helps, e.g. the
stacked-autoencoder + k-means mapping of Shirmard et al., "Remote sensing framework for
geological mapping via stacked autoencoders and clustering" (2022)::

    Pipeline([("embed", AutoencoderEmbedder(latent_dim=8)), ("cluster", KMeans(10))])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted

from .base import (
    AutoencoderEstimatorBase,
    as_input,
    batched,
    model_config,
    torch_threads,
    validate_table,
)


class AutoencoderEmbedder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, AutoencoderEstimatorBase
):
    """Encode rows to an autoencoder's latent codes (and decode them back).

    Parameters
    ----------
    recipe : str, default="ae"
        Any recipe name from ``autoencoding.RECIPES`` (``ae``, ``vae``, ``dae``, ``cae``, ...).
    latent_dim : int or None, default=None
        Size of the code (the number of output features of ``transform``); None takes the
        recipe's (8 unless the recipe fixes another, e.g. ``vqvae``).
    hidden : list of int or None, default=None
        Encoder hidden widths (the decoder mirrors them); None sizes them from the data.
    epochs, batch_size, lr : training length, batch size and learning rate; None takes the
        recipe's default.
    model : dict or None
        Further model-config overrides (see ``autoencoding.resolve``).
    train : dict or None
        Further training settings (see ``autoencoding.train.TrainConfig``).
    random_state : int, RandomState or None
        Seeds initialisation, shuffling and noise.
    n_jobs : int or None
        Torch threads during fit and transform; None = 1 (fastest for small tables).

    Attributes
    ----------
    module_ : autoencoding.Autoencoder
        The trained model (input: standardized rows).
    center_, scale_ : ndarray
        The standardization fitted on the training rows.
    """

    _parameter_constraints: dict = {
        **AutoencoderEstimatorBase._parameter_constraints,
        # None: the recipe's own training length, batch size and learning rate
        **{
            name: [*AutoencoderEstimatorBase._parameter_constraints[name], None]
            for name in ("epochs", "batch_size", "lr")
        },
    }

    def __init__(
        self,
        recipe: str = "ae",
        *,
        latent_dim: int | None = None,
        hidden: list[int] | None = None,
        epochs: int | None = 100,
        batch_size: int | None = 64,
        lr: float | None = 1e-3,
        model: dict[str, Any] | None = None,
        train: dict[str, Any] | None = None,
        random_state: Any = None,
        n_jobs: int | None = None,
    ) -> None:
        self.recipe = recipe
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.model = model
        self.train = train
        self.random_state = random_state
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> AutoencoderEmbedder:
        """Train the autoencoder on the rows of X; returns self."""
        x = validate_table(self, X, reset=True).astype(np.float64)
        xs = self._fit_standardization(x)
        over: dict[str, Any] = {}
        if self.latent_dim is not None:
            over["latent_dim"] = int(self.latent_dim)
        if self.hidden is not None:
            over["encoder"] = {"name": "mlp", "hidden": [int(h) for h in self.hidden]}
        over.update(self.model or {})
        mcfg = model_config(self.recipe, [x.shape[1]], (float(xs.min()), float(xs.max())), over)
        [self.module_], [self.history_] = self._train_members(xs, mcfg)
        self._n_features_out = int(mcfg.latent_dim)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Latent codes of the rows of X, shaped (n_samples, latent_dim)."""
        check_is_fitted(self, "module_")
        x = validate_table(self, X, reset=False)
        xs = as_input((x - self.center_) / self.scale_)
        with torch_threads(self.n_jobs):
            z = batched(self.module_.encode, xs)
        return z.numpy()

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Rows decoded from latent codes, in the units of the training data."""
        check_is_fitted(self, "module_")
        z = np.asarray(X, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self._n_features_out:
            raise ValueError(
                f"inverse_transform expects codes shaped (n_samples, {self._n_features_out}), "
                f"got {z.shape}"
            )
        if not np.isfinite(z).all():
            raise ValueError("inverse_transform: codes contain NaN or infinity")
        with torch_threads(self.n_jobs):
            rows = batched(self.module_.decode, as_input(z))
        return rows.numpy() * self.scale_ + self.center_
