"""AutoencoderEmbedder: clustering in a Pipeline, inverse_transform, names, model selection."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, load_wine
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from autoencoding.estimators import AutoencoderEmbedder


def test_pipeline_with_kmeans_beats_chance():
    b = load_wine()
    pipe = Pipeline(
        [
            ("embed", AutoencoderEmbedder(latent_dim=2, epochs=50, random_state=0)),
            ("cluster", KMeans(3, n_init=10, random_state=0)),
        ]
    )
    labels = pipe.fit_predict(b.data)
    assert adjusted_rand_score(b.target, labels) > 0.5


def test_transform_inverse_and_names():
    x = load_iris().data
    emb = AutoencoderEmbedder(latent_dim=3, epochs=30, random_state=0).fit(x)
    z = emb.transform(x)
    assert z.shape == (150, 3) and z.dtype == np.float64
    back = emb.inverse_transform(z)
    assert back.shape == x.shape
    # a 3-d code of a 4-feature table reconstructs far better than the column means
    assert np.mean((back - x) ** 2) < 0.2 * np.mean((x - x.mean(0)) ** 2)
    assert list(emb.get_feature_names_out()) == [f"autoencoderembedder{i}" for i in range(3)]
    with pytest.raises(ValueError, match=r"\(n_samples, 3\)"):
        emb.inverse_transform(z[:, :2])
    with pytest.raises(ValueError, match="4 features"):
        emb.transform(x[:, :2])


@pytest.mark.parametrize("recipe", ["vae", "cae", "lorae"])
def test_any_recipe(recipe):
    x = load_iris().data
    z = AutoencoderEmbedder(recipe, latent_dim=2, epochs=3, random_state=0).fit_transform(x)
    assert z.shape == (150, 2) and np.isfinite(z).all()


def test_grid_search_and_clone():
    x, y = load_iris(return_X_y=True)
    pipe = Pipeline(
        [("embed", AutoencoderEmbedder(epochs=5, random_state=0)), ("km", KMeans(3, n_init=3))]
    )
    search = GridSearchCV(
        pipe,
        {"embed__latent_dim": [2, 3]},
        cv=2,
        scoring=lambda est, X, y: adjusted_rand_score(y, est.predict(X)),
    ).fit(x, y)
    assert search.best_params_["embed__latent_dim"] in (2, 3)
    emb = clone(pipe.named_steps["embed"])
    assert not hasattr(emb, "module_") and emb.get_params()["epochs"] == 5


def test_bad_input():
    x = load_iris().data
    with pytest.raises(ValueError, match="NaN"):
        AutoencoderEmbedder(epochs=2).fit(np.where(x > 7, np.nan, x))
    with pytest.raises(ValueError, match="latent_dim"):
        AutoencoderEmbedder(latent_dim=0).fit(x)


def test_recipe_code_size_by_default():
    x = load_iris().data
    emb = AutoencoderEmbedder("vqvae", epochs=2, random_state=0).fit(x)
    assert emb.transform(x).shape == (150, 64)
    assert len(emb.get_feature_names_out()) == 64
