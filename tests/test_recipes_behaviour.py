"""Short trainings on the digits that check what each recipe is for, not just that it runs.

Each model trains for a few seconds on one CPU thread; the margins below hold across seeds
with room to spare (measured over seeds 0-3). The full claim-checks live in benchmarks/.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import autoencoding
from autoencoding import PosteriorCollapseWarning
from autoencoding.data import split_indices
from autoencoding.evaluate import evaluate_model

#: the deterministic recipes: 20 epochs at a raised learning rate reach a usable model fast
FAST = {"epochs": 20, "lr": 3e-3, "progress": False}


@pytest.fixture(scope="module")
def split(digits_all):
    x, y = digits_all
    tr, te = split_indices(len(x), 0.2, seed=0, y=y)
    return x[tr], x[te]


@pytest.fixture(scope="module")
def fitted(split):
    """fitted(recipe, latent_dim, ...) trains once per module and caches the model."""
    cache: dict = {}
    x_train, _ = split

    def get(recipe: str, latent_dim: int = 8, train: dict | None = None, **model):
        key = (recipe, latent_dim, repr(train), repr(model))
        if key not in cache:
            cache[key] = autoencoding.fit(
                recipe,
                x_train,
                model={"latent_dim": latent_dim, **model},
                train=train or FAST,
                seed=0,
            )
        return cache[key]

    return get


def mse_of(model, x: np.ndarray) -> float:
    return float(((model.reconstruct(x) - x) ** 2).mean())


def effective_rank(z: np.ndarray) -> float:
    """exp(entropy) of the normalised singular values of the centred latents (Roy & Vetterli)."""
    s = np.linalg.svd(z - z.mean(0), compute_uv=False)
    p = s / s.sum()
    return float(np.exp(-(p * np.log(p + 1e-12)).sum()))


def sensitivity(model, x: np.ndarray) -> tuple[float, float]:
    """Scale-free sensitivity of the code, so an encoder cannot look contractive just by
    shrinking its code: (E‖f(x+ε) − f(x)‖ / E‖f(x) − mean f‖ with ε ~ N(0, 0.05²),
    E‖J_f(x)‖_F / mean code std), as in benchmarks/claims/cae.py."""
    xt = torch.from_numpy(x)
    z = model.module.encode(xt)
    spread = float((z - z.mean(0)).norm(dim=1).mean())
    g = torch.Generator().manual_seed(0)
    dz = model.module.encode(xt + 0.05 * torch.randn(xt.shape, generator=g)) - z
    with torch.no_grad():
        jac = float(model.module.encoder.jacobian_frobenius_sq(xt).sqrt().mean())
    return float(dz.norm(dim=1).mean()) / spread, jac / float(z.std(0).mean())


def test_ae_beats_the_mean_image(fitted, split):
    x_train, x_test = split
    baseline = float(((x_test - x_train.mean(0)) ** 2).mean())
    assert mse_of(fitted("ae"), x_test) < 0.4 * baseline


def test_vae_beats_a_factorised_bernoulli_and_its_bounds_are_ordered(fitted, split):
    x_train, x_test = split
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vae = autoencoding.fit("vae", x_train, train={"epochs": 20, "progress": False}, seed=0)
    assert not [w for w in caught if w.category is PosteriorCollapseWarning]
    assert vae.config.reconstruction["name"] == "bernoulli"  # [0, 1] data
    # baseline: independent Bernoulli pixels with the training mean as probability
    p = np.clip(x_train.mean(0), 1e-4, 1 - 1e-4)
    baseline = float(-(x_test * np.log(p) + (1 - x_test) * np.log(1 - p)).sum((1, 2, 3)).mean())
    m = evaluate_model(vae.module, vae.transform_scaled(x_test), nll_samples=100)
    assert m["nll"] < baseline - 1.0
    # the importance-weighted bound is tighter than the ELBO
    assert m["neg_elbo"] >= m["nll"]
    assert m["neg_elbo"] - m["nll"] < 5.0
    assert m["active_units"] >= 2


def test_cae_is_less_sensitive_than_ae_at_similar_reconstruction(fitted, split):
    _, x_test = split
    ae, cae = fitted("ae"), fitted("cae")
    assert mse_of(cae, x_test) < 1.15 * mse_of(ae, x_test)
    (ae_noise, ae_jac), (cae_noise, cae_jac) = sensitivity(ae, x_test), sensitivity(cae, x_test)
    # measured 11-19 % lower over seeds 0-3 with the recipe's λ
    assert cae_noise < 0.95 * ae_noise
    assert cae_jac < 0.95 * ae_jac


def test_lorae_latents_have_lower_effective_rank_than_ae(fitted, split):
    _, x_test = split
    # a latent wider than the data needs leaves room for the rank to drop
    ae, lorae = fitted("ae", latent_dim=16), fitted("lorae", latent_dim=16)
    assert mse_of(lorae, x_test) < 1.5 * mse_of(ae, x_test)
    assert effective_rank(lorae.encode(x_test)) < effective_rank(ae.encode(x_test)) - 1.0


def test_dae_reconstructs_noisy_inputs_better_than_ae(fitted, split):
    _, x_test = split
    ae, dae = fitted("ae"), fitted("dae")
    noisy = x_test + 0.3 * np.random.default_rng(0).normal(size=x_test.shape).astype(np.float32)
    ae_err = float(((ae.reconstruct(noisy) - x_test) ** 2).mean())
    dae_err = float(((dae.reconstruct(noisy) - x_test) ** 2).mean())
    assert dae_err < 0.85 * ae_err
    assert mse_of(dae, x_test) < 1.3 * mse_of(ae, x_test)  # clean inputs stay fine


def test_posterior_collapse_warns_with_what_to_change(split):
    x_train, _ = split
    with pytest.warns(PosteriorCollapseWarning, match="Lower beta.*warm-up.*free bits") as rec:
        model = autoencoding.fit(
            "vae",
            x_train[:600],
            model={"bottleneck": {"beta": 100.0}},
            train={"epochs": 5, "progress": False},
        )
    assert "no latent unit is active" in str(rec[0].message)
    assert model.info["active_units"] == 0
