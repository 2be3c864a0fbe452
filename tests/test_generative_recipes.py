"""WAE-MMD, RAE, IWAE and VampPrior: their terms pin what the papers define, and each recipe
trains, saves, loads and samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding.evaluate.metrics import importance_nll, log_likelihood_terms
from autoencoding.model import Autoencoder
from autoencoding.parts.generative import VampBottleneck, mmd_imq
from autoencoding.recipes import resolve

RECIPES = ["wae", "rae", "iwae", "vamp"]
NETS = {"latent_dim": 2, "encoder": {"name": "mlp", "hidden": [16]}}


def _data(n=120, d=6, seed=0):
    g = np.random.default_rng(seed)
    return (g.random((n, d)) > 0.5).astype(np.float32) * 0.8 + 0.1


def test_mmd_imq_is_near_zero_for_one_distribution_and_clearly_positive_for_a_shift():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 4, generator=g), torch.randn(500, 4, generator=g)
    same = float(mmd_imq(a, b))
    shifted = float(mmd_imq(a, b + 1.0))
    assert abs(same) < 0.01
    assert shifted > 0.2 and shifted > 20 * abs(same)


def test_mmd_imq_of_a_sample_with_itself_is_unbiased_not_zero_clamped():
    # the U-statistic drops the diagonal: identical samples give a small negative value
    a = torch.randn(50, 3, generator=torch.Generator().manual_seed(1))
    assert float(mmd_imq(a, a)) < 0


def _vae_like(name, **opts):
    cfg = resolve("vae", [6], (0.0, 1.0), {**NETS, "bottleneck": {"name": name, **opts}})
    torch.manual_seed(0)
    return Autoencoder(cfg).train()


def _bound(model, x, k, draws=200):
    """E over draws of the k-sample bound log (1/k) Σ w_i, from the evaluator's terms."""
    torch.manual_seed(3)
    ll, lw = log_likelihood_terms(model, x, k * draws)
    logw = (ll + lw).view(draws, k, -1)
    return float((torch.logsumexp(logw, 1) - math.log(k)).mean())


def test_the_iwae_bound_is_above_the_elbo_and_grows_with_k():
    model = _vae_like("iwae", samples=5)
    x = torch.from_numpy(_data(40))
    b1, b5, b50 = (_bound(model, x, k) for k in (1, 5, 50))
    assert b1 < b5 < b50


def test_the_iwae_training_loss_is_minus_its_k_sample_bound():
    model = _vae_like("iwae", samples=8)
    x = torch.from_numpy(_data(30))
    torch.manual_seed(5)
    out = model(x, step=10_000)
    assert set(out.terms) == {"reconstruction", "kl", "iw_gap"}
    assert torch.allclose(out.loss, -out.metrics["iw_bound"], atol=1e-5)
    # one sample: the bound is the single-sample ELBO with the analytic KL swapped for its
    # Monte Carlo estimate, so the gap averages to ~0
    one = _vae_like("iwae", samples=1)
    gaps = [float(one(x, step=10_000).metrics["iw_gap"]) for _ in range(200)]
    assert abs(np.mean(gaps)) < 0.05
    assert model.config.bottleneck["samples"] == 8


def test_the_vamp_prior_is_a_normalized_mixture_of_the_pseudo_inputs_posteriors():
    cfg = resolve("vae", [6], (0.0, 1.0), {
        "latent_dim": 1, "encoder": {"name": "mlp", "hidden": [16]},
        "bottleneck": {"name": "vamp", "components": 5}})  # fmt: skip
    torch.manual_seed(0)
    model = Autoencoder(cfg).eval()
    model.init_from_data(torch.from_numpy(_data(30)))
    bn: VampBottleneck = model.bottleneck  # type: ignore[assignment]
    with torch.no_grad():
        grid = torch.linspace(-30, 30, 60_001)[:, None]
        dens = bn.log_mixture(grid, *bn.prior_components()).exp()
        assert abs(float(dens.sum() * (grid[1] - grid[0])) - 1.0) < 1e-3
        mu, logvar = bn.prior_components()
        z = bn.sample_prior(4000, generator=torch.Generator().manual_seed(0))
    # samples follow the mixture: their mean and variance match its moments
    var = logvar.exp()
    m_mix = float(mu.mean())
    v_mix = float((var + mu.pow(2)).mean() - m_mix**2)
    assert abs(float(z.mean()) - m_mix) < 4 * math.sqrt(v_mix / 4000)
    assert abs(float(z.var()) / v_mix - 1) < 0.1
    # and each sample sits within its component's reach
    nearest = ((z - mu.T).abs() / var.sqrt().T).min(1).values
    assert float((nearest < 4.5).float().mean()) == 1.0


def test_vamp_importance_weights_use_the_mixture_prior():
    model = _vae_like("vamp", components=4)
    model.init_from_data(torch.from_numpy(_data(20)))
    x = torch.from_numpy(_data(10))
    torch.manual_seed(0)
    with torch.no_grad():
        h = model.run(x, decode=False).h
        z, lw = model.bottleneck.log_importance(h, 3)
        mean, logvar = model.bottleneck.posterior(h)
        log_q = torch.distributions.Normal(mean, (0.5 * logvar).exp()).log_prob(z).sum(-1)
        mu, lv = model.bottleneck.prior_components()
        comps = torch.distributions.Normal(mu, (0.5 * lv).exp())
        log_p = torch.logsumexp(comps.log_prob(z[..., None, :]).sum(-1), -1) - math.log(4)
    torch.testing.assert_close(lw, log_p - log_q, atol=1e-4, rtol=1e-4)


def test_rae_penalties_appear_in_the_training_metrics():
    m = ae.fit("rae", _data(), seed=0, scaling="none", model=NETS,
               train={"epochs": 2, "progress": False, "val_fraction": 0})  # fmt: skip
    last = m.history[-1]
    assert last["train/latent_l2"] > 0 and last["train/decoder_l2"] > 0


@pytest.mark.filterwarnings("ignore::autoencoding.api.PosteriorCollapseWarning")
@pytest.mark.parametrize("recipe", RECIPES)
def test_each_recipe_trains_saves_loads_and_samples(recipe, tmp_path):
    x = _data()
    m = ae.fit(recipe, x, seed=0, scaling="none", model=NETS,
               train={"epochs": 2, "progress": False})  # fmt: skip
    assert recipe in ae.RECIPES.names()
    m.save(tmp_path / "m")
    back = ae.load(tmp_path / "m")
    np.testing.assert_array_equal(m.encode(x), back.encode(x))
    s1, s2 = m.sample(5, seed=1), back.sample(5, seed=1)
    assert s1.shape == (5, 6) and np.isfinite(s1).all()
    np.testing.assert_allclose(s1, s2, rtol=1e-5, atol=1e-6)
    if recipe in ("iwae", "vamp"):
        xt = torch.from_numpy(x[:30])
        nll = importance_nll(m.module.eval(), xt, 20)
        assert math.isfinite(nll) and nll == importance_nll(back.module.eval(), xt, 20)
