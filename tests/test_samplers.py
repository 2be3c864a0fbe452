"""Latent samplers fitted after training (parts/samplers.py): the mixture fits what it is
given, every continuous recipe generates, the fit is saved and reloads, bad requests are named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding.cli import main
from autoencoding.model import migrate_model_config
from autoencoding.parts.samplers import GMMConfig, GMMSampler


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return (load_digits().data[:600] / 16.0).astype(np.float32)


def test_gmm_recovers_separated_clusters_and_their_weights():
    rng = np.random.default_rng(0)
    centers = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]])
    sizes = [600, 300, 100]
    z = np.concatenate(
        [c + 0.3 * rng.normal(size=(n, 2)) for c, n in zip(centers, sizes, strict=True)]
    )
    s = GMMSampler(GMMConfig(components=3), (2,))
    s.fit_codes(z)
    draws = s.draw(4000, torch.Generator().manual_seed(0)).numpy()
    nearest = np.linalg.norm(draws[:, None] - centers[None], axis=-1).argmin(1)
    share = np.bincount(nearest, minlength=3) / len(draws)
    np.testing.assert_allclose(share, np.array(sizes) / 1000, atol=0.03)
    # every draw lies near a cluster: a single Gaussian would fill the gaps between them
    assert np.linalg.norm(draws - centers[nearest], axis=1).max() < 2.5
    # and the mixture's density prefers the clusters to the empty middle
    lp = s.log_prob(torch.tensor([[-6.0, 0.0], [-3.0, 3.0]], dtype=torch.float32))
    assert lp[0] > lp[1] + 10


def test_ae_generates_from_its_gmm_better_than_from_a_standard_normal(digits):
    m = ae.fit("ae", digits, seed=0, train={"epochs": 15, "progress": False})
    assert m.config.samplers[0]["name"] == "gmm"
    real = m.transform_scaled(digits[:300]).numpy().reshape(300, -1)
    gmm = m.module.sample(300, torch.Generator().manual_seed(0), sampler="gmm").numpy()
    # an AE has no prior: N(0, I) latents are the baseline a fitted sampler must beat
    z = torch.randn(300, m.config.latent_channels, generator=torch.Generator().manual_seed(0))
    normal = m.module.decode(z).numpy()

    def nn_dist(a):  # mean distance from each sample to its nearest real image
        return np.linalg.norm(a.reshape(len(a), -1)[:, None] - real[None], axis=-1).min(1).mean()

    assert nn_dist(gmm) < 0.8 * nn_dist(normal)


def test_sampling_is_seeded_and_survives_save_and_load(digits, tmp_path):
    m = ae.fit("ae", digits, seed=0, train={"epochs": 2, "progress": False})
    a = m.sample(8, seed=3, sampler="gmm")
    np.testing.assert_array_equal(a, m.sample(8, seed=3, sampler="gmm"))
    assert not np.array_equal(a, m.sample(8, seed=4, sampler="gmm"))
    m.save(tmp_path / "m")
    np.testing.assert_array_equal(ae.load(tmp_path / "m").sample(8, seed=3, sampler="gmm"), a)
    # the default sampler of a model without a prior is its first fitted sampler
    np.testing.assert_array_equal(m.sample(8, seed=3), a)


def test_a_vae_gmm_fits_posterior_draws_reproducibly(digits):
    """For a VAE the mixture models the aggregate posterior: draws of q(z|x), not means,
    so it spreads wider than the means' mixture, and the draws are seeded."""
    m = ae.fit("vae", digits, seed=0, train={"epochs": 20, "progress": False})

    def fitted(**opts):
        m.fit_sampler(digits, "gmm", **opts)
        g = m.module.samplers["gmm"]
        return torch.einsum("k,kij->ij", g.weights, g.chol @ g.chol.transpose(1, 2))

    post = fitted()
    assert torch.equal(post, fitted())  # same fit twice: the posterior draws are seeded
    means = fitted(codes="mean")
    assert torch.trace(post) > torch.trace(means)


@pytest.mark.filterwarnings("ignore::autoencoding.api.PosteriorCollapseWarning")  # 2 epochs
def test_a_vae_keeps_its_prior_and_gains_a_gmm(digits):
    m = ae.fit("vae", digits, seed=0, train={"epochs": 2, "progress": False})
    assert m.module.default_sampler() == "prior"
    prior, gmm = m.sample(50, sampler="prior"), m.sample(50, sampler="gmm")
    assert prior.shape == gmm.shape == (50, 64)
    assert not np.allclose(prior, gmm)


def test_fit_sampler_adds_one_to_a_model_trained_without(digits, tmp_path):
    m = ae.fit("ae", digits, seed=0, model={"samplers": []}, train={"epochs": 2, "progress": False})
    with pytest.raises(ae.AutoencodingError, match="fit_sampler"):
        m.sample(4)
    m.fit_sampler(digits, "gmm", components=4)
    assert m.sample(4).shape == (4, 64)
    m.save(tmp_path / "m")
    loaded = ae.load(tmp_path / "m")
    assert loaded.config.samplers == [
        {"name": "gmm", "components": 4, "covariance": "full", "reg_covar": 1e-6,
         "codes": "posterior", "draws": 5, "max_rows": 50_000, "seed": 0}
    ]  # fmt: skip
    np.testing.assert_array_equal(loaded.sample(4), m.sample(4))


def test_a_table_smaller_than_the_mixture_still_fits():
    x = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    m = ae.fit("ae", x, seed=0, train={"epochs": 1, "progress": False, "val_fraction": 0})
    assert m.sample(5, sampler="gmm").shape == (5, 3)
    assert int((m.module.samplers["gmm"].weights > 0).sum()) <= 6


def test_unknown_or_unfitted_samplers_are_named(digits):
    m = ae.fit("ae", digits[:100], seed=0, train={"epochs": 1, "progress": False})
    with pytest.raises(ae.AutoencodingError, match="no sampler 'flow'; it has: gmm"):
        m.sample(2, sampler="flow")
    with pytest.raises(ae.AutoencodingError, match="sampler must be a name"):
        m.sample(2, sampler=3)  # type: ignore[arg-type]
    fresh = ae.Autoencoder(ae.resolve("ae", [64], (0, 1), {"samplers": [{"name": "gmm"}]}))
    with pytest.raises(ae.AutoencodingError, match="never fitted"):
        fresh.sample(2, sampler="gmm")
    with pytest.raises(ae.AutoencodingError, match="components must be >= 1"):
        ae.resolve("ae", [64], (0, 1), {"samplers": [{"name": "gmm", "components": 0}]})
    with pytest.raises(ae.AutoencodingError, match="sampler"):
        ae.resolve("ae", [64], (0, 1), {"samplers": [{"name": "flowz"}]})


def test_configs_from_before_samplers_load_without_any():
    old = {"recipe": "vae", "input_shape": [64], "latent_dim": 8, "config_version": 2}
    assert migrate_model_config(old)["samplers"] == []
    assert migrate_model_config({"recipe": "ae"})["samplers"] == []


def test_cli_samples_from_the_named_sampler(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(["train", "ae", "--data", "digits", "--out", str(run), "--set", "train.epochs=1"]) == 0
    )
    out = tmp_path / "s.npy"
    assert main(["sample", str(run), "-n", "5", "--sampler", "gmm", "--out", str(out)]) == 0
    assert np.load(out).shape[0] == 5
    assert main(["sample", str(run), "-n", "5", "--sampler", "prior",
                 "--out", str(tmp_path / "p.npy")]) == 2  # fmt: skip
    assert "no sampler 'prior'" in capsys.readouterr().err
