"""β-TC-VAE and DIP-VAE (parts/disentangle.py), the disentanglement metrics and the
synthetic factor data: the estimators' invariants, gradients, and the recipes end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import autoencoding
from autoencoding.cli import main
from autoencoding.data import load_data
from autoencoding.data.factors import FACTOR_SIZES, factor_blobs
from autoencoding.errors import AutoencodingError
from autoencoding.evaluate.disentanglement import dci, mig, mutual_information
from autoencoding.parts.base import BOTTLENECKS, part_config
from autoencoding.parts.disentangle import (
    aggregate_covariance,
    dip_penalty,
    elbo_decomposition,
    total_correlation,
)
from autoencoding.recipes import RECIPES, resolve


def gaussian_codes(rho: float, n: int = 1024, seed: int = 0):
    """Posteriors of n rows in 4 dims whose aggregate is N(0, Σ) with corr(z_0, z_1) ≈ rho,
    and one sample from each."""
    g = torch.Generator().manual_seed(seed)
    var = 0.3  # tight posteriors bias the batch estimate of q(z) upwards (Chen et al. §4)
    base = torch.randn(n, 4, generator=g)
    base[:, 1] = rho * base[:, 0] + (1 - rho**2) ** 0.5 * base[:, 1]
    mean = base * (1 - var) ** 0.5
    logvar = torch.full_like(mean, var).log()
    z = mean + var**0.5 * torch.randn(n, 4, generator=g)
    return z, mean, logvar


def test_tc_is_near_zero_for_independent_codes_and_positive_for_correlated():
    indep = float(total_correlation(*gaussian_codes(0.0)))
    corr = float(total_correlation(*gaussian_codes(0.99)))
    # true TC of the correlated aggregate: −½ log(1 − 0.693²) ≈ 0.33 nats
    assert abs(indep) < 0.05
    assert 0.25 < corr < 0.45
    assert corr > 8 * abs(indep)


def test_decomposition_sums_to_the_sampled_kl():
    z, mean, logvar = gaussian_codes(0.5, n=256)
    parts = elbo_decomposition(z, mean, logvar)
    log_q = -0.5 * (np.log(2 * np.pi) + logvar + (z - mean).pow(2) / logvar.exp()).sum(-1)
    log_p = -0.5 * (np.log(2 * np.pi) + z.pow(2)).sum(-1)
    total = parts["mi"] + parts["tc"] + parts["dim_kl"]
    assert torch.allclose(total, (log_q - log_p).mean(), atol=1e-4)


def test_dip_penalty_is_zero_at_identity_and_positive_elsewhere():
    eye = torch.eye(5)
    assert float(dip_penalty(eye, 10.0, 100.0)) == 0.0
    off = eye.clone()
    off[0, 1] = off[1, 0] = 0.3
    assert float(dip_penalty(off, 10.0, 0.0)) == pytest.approx(10 * 2 * 0.09)
    assert float(dip_penalty(2 * eye, 0.0, 1.0)) == pytest.approx(5.0)


def test_dip_covariances_i_and_ii():
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(4096, 3, generator=g) * torch.tensor([1.0, 2.0, 0.5])
    logvar = torch.full_like(mean, 0.25).log()
    c1 = aggregate_covariance(mean, logvar, "i")
    c2 = aggregate_covariance(mean, logvar, "ii")
    assert torch.allclose(torch.diagonal(c1), torch.tensor([1.0, 4.0, 0.25]), rtol=0.08)
    assert torch.allclose(c2 - c1, 0.25 * torch.eye(3), atol=1e-5)


def test_dip_lambda_d_follows_the_papers_ratio():
    _, cfg = part_config(BOTTLENECKS, {"name": "gaussian-dip", "lambda_od": 2.0})
    assert cfg.diagonal_weight == 20.0
    _, cfg = part_config(BOTTLENECKS, {"name": "gaussian-dip", "type": "ii", "lambda_od": 2.0})
    assert cfg.diagonal_weight == 2.0
    with pytest.raises(AutoencodingError, match="type"):
        part_config(BOTTLENECKS, {"name": "gaussian-dip", "type": "iii"})


def test_gradients_lower_the_tc_of_a_learned_posterior():
    """Optimising only the TC estimate decorrelates codes produced by a linear map."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 4, generator=g)
    mix = torch.tensor([[1.0, 0.9, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0.8], [0, 0, 0, 1.0]])
    lin = torch.nn.Linear(4, 8)
    with torch.no_grad():
        lin.weight.zero_()
        lin.weight[:4] = mix.T
        lin.bias.zero_()
        lin.bias[4:] = -2.0
    bn = BOTTLENECKS.get("gaussian-tc")(part_config(BOTTLENECKS, "gaussian-tc")[1], 4)
    opt = torch.optim.Adam(lin.parameters(), lr=0.01)

    def tc() -> torch.Tensor:
        mean, logvar = bn.posterior(lin(x))
        z = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=g)
        return total_correlation(z, mean, logvar)

    before = float(tc().detach())
    for _ in range(150):
        opt.zero_grad()
        tc().backward()
        opt.step()
    after = float(tc().detach())
    assert before > 0.3
    assert after < 0.3 * before


def test_bottleneck_terms_and_eval_mean():
    for name in ("gaussian-tc", "gaussian-dip"):
        cls, cfg = part_config(BOTTLENECKS, name)
        bn = cls(cfg, 3)
        h = torch.randn(32, 6, requires_grad=True)
        out = bn(h, step=0)
        loss = sum(out.losses.values())
        loss.backward()
        assert h.grad is not None and torch.isfinite(h.grad).all()
        assert set(out.params) == {"mean", "logvar"}
        bn.eval()
        assert torch.equal(bn(h).z, h[:, :3])


def test_factor_data_is_a_full_independent_grid():
    ds = load_data("synthetic:factors")
    f = ds.meta["factors"]
    assert ds.x.shape == (1024, 256) and f.shape == (1024, 4)
    assert ds.meta["factor_names"] == list(FACTOR_SIZES)
    assert len({tuple(r) for r in f}) == 1024
    assert 0.0 <= ds.x.min() and ds.x.max() <= 1.0
    x2, f2 = factor_blobs()
    assert np.array_equal(x2, ds.x) and np.array_equal(f2, f)


def test_mig_of_true_factors_is_one_and_of_a_rotation_much_lower():
    _, f = factor_blobs()
    z = f.astype(float)
    assert mig(z, f) == pytest.approx(1.0, abs=1e-6)
    zs = (z - z.mean(0)) / z.std(0)
    rot, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))
    assert mig(zs @ rot, f) < 0.5
    mi = mutual_information(z, f)
    assert mi.shape == (4, 4) and np.allclose(mi, np.diag(np.diag(mi)), atol=1e-9)


def test_dci_of_true_factors_and_a_rotation():
    _, f = factor_blobs()
    z = f.astype(float)
    good = dci(z, f)
    assert good["dci_disentanglement"] > 0.95 and good["dci_completeness"] > 0.95
    assert good["dci_informativeness"] > 0.95
    zs = (z - z.mean(0)) / z.std(0)
    rot, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))
    assert dci(zs @ rot, f)["dci_disentanglement"] < 0.5


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(AutoencodingError, match="same n"):
        mig(np.zeros((10, 3)), np.zeros((9, 2)))


def test_recipes_resolve_with_the_papers_defaults():
    assert {"beta-tc-vae", "dip-vae"} <= set(RECIPES.names())
    tc = resolve("beta-tc-vae", [256], (0, 1)).bottleneck
    assert (tc["name"], tc["alpha"], tc["beta"], tc["gamma"]) == ("gaussian-tc", 1.0, 6.0, 1.0)
    dip = resolve("dip-vae", [256], (0, 1), {"bottleneck": {"type": "ii"}}).bottleneck
    assert (dip["name"], dip["type"], dip["lambda_od"]) == ("gaussian-dip", "ii", 10.0)


@pytest.mark.parametrize("recipe", ["beta-tc-vae", "dip-vae"])
def test_recipe_trains_saves_and_loads(recipe, tmp_path):
    x, _ = factor_blobs()
    m = autoencoding.fit(
        recipe,
        x[::4],
        model={"latent_dim": 4, "encoder": {"name": "mlp", "hidden": [32]}},
        train={"epochs": 2, "progress": False},
        seed=0,
    )
    last = m.history[-1]
    key = "train/tc" if recipe == "beta-tc-vae" else "train/dip"
    assert np.isfinite(last[key]) and np.isfinite(last["train/loss"])
    m.save(tmp_path / "m")
    back = autoencoding.load(tmp_path / "m")
    assert np.allclose(back.encode(x[:16]), m.encode(x[:16]), atol=1e-6)


@pytest.mark.filterwarnings("ignore:posterior collapse")  # one epoch, still in warm-up
def test_cli_trains_beta_tc_vae_on_the_factor_data(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "beta-tc-vae", "--data", "synthetic:factors", "--epochs", "1"]
    assert main([*argv, "--quiet", "--out", str(out)]) == 0
    assert autoencoding.load(out).module.config.bottleneck["name"] == "gaussian-tc"
