"""Reconstruction losses: per-sample NLLs against hand-computed values, masks, variance floors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autoencoding import AutoencodingError
from autoencoding.parts import RECONSTRUCTIONS
from autoencoding.parts.base import build

LOG_2PI = math.log(2 * math.pi)


def floored(log_sigma, min_sigma=1e-3):
    """The documented smooth floor: log σ = log σ_min + softplus(raw - log σ_min)."""
    floor = math.log(min_sigma)
    return floor + torch.nn.functional.softplus(torch.as_tensor(log_sigma) - floor)


def rec(spec, n_features=3):
    return build(RECONSTRUCTIONS, spec, n_features=n_features)


def P(out, params=1):
    """Decoder output as the model hands it over: (B, params per entry, *sample shape)."""
    return out.view(len(out), params, -1)


def test_mse_is_the_mean_per_entry():
    r = rec("mse")
    out = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
    x = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    torch.testing.assert_close(r.per_sample(P(out), x), torch.tensor([5 / 3, 0.0]))
    assert r.params_per_feature == 1 and not r.is_likelihood
    assert torch.equal(r.mean(P(out)), out)  # the point reconstruction is shaped like x


def test_bernoulli_nll_equals_the_hand_computed_value():
    r = rec("bernoulli", 2)
    logits = torch.tensor([[0.0, 2.0], [-1.0, 3.0]], dtype=torch.float64)
    x = torch.tensor([[1.0, 0.0], [0.25, 1.0]], dtype=torch.float64)
    p = 1 / (1 + np.exp(-logits.numpy()))
    xn = x.numpy()
    expected = -(xn * np.log(p) + (1 - xn) * np.log(1 - p)).sum(1)
    np.testing.assert_allclose(r.per_sample(P(logits), x).numpy(), expected, rtol=1e-12)
    # row 0 by hand: -log σ(0) - log(1 - σ(2)) = log 2 + log(1 + e²)
    assert float(r.per_sample(P(logits), x)[0]) == pytest.approx(
        math.log(2) + math.log(1 + math.e**2)
    )
    torch.testing.assert_close(r.mean(P(logits)), torch.sigmoid(logits))
    assert r.is_likelihood


def test_bernoulli_samples_are_binary():
    torch.manual_seed(0)
    s = rec("bernoulli").sample(P(torch.zeros(1000, 3)))
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    assert float(s.mean()) == pytest.approx(0.5, abs=0.05)


def test_gaussian_fixed_variance_nll_equals_the_hand_computed_value():
    r = rec({"name": "gaussian", "variance": "fixed", "sigma": 2.0}, 2)
    out = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    x = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    # Σ ½((x-μ)/σ)² + log σ + ½ log 2π = ½(1/4 + 1) + 2 log 2 + log 2π
    expected = 0.5 * (0.25 + 1.0) + 2 * math.log(2.0) + LOG_2PI
    assert float(r.per_sample(P(out), x)) == pytest.approx(expected, rel=1e-12)
    assert list(r.parameters()) == []


def test_gaussian_learned_variance_nll_and_parameter():
    r = rec({"name": "gaussian", "variance": "learned", "sigma": 0.5}, 2).double()
    (log_sigma,) = list(r.parameters())
    torch.testing.assert_close(log_sigma, torch.full((2,), math.log(0.5), dtype=torch.float64))
    out = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    x = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    sigma = floored(log_sigma.detach()).exp()
    assert float(sigma[0]) == pytest.approx(0.5, rel=0.01)  # the floor barely moves it
    reference = -torch.distributions.Normal(out, sigma).log_prob(x).sum(1)
    torch.testing.assert_close(r.per_sample(P(out), x), reference)


def test_gaussian_learned_variance_has_a_floor():
    r = rec({"name": "gaussian", "variance": "learned", "min_sigma": 0.01}, 2)
    with torch.no_grad():
        r.log_sigma.fill_(-50.0)  # what a constant feature would drive it to
    out = torch.zeros(1, 2)
    nll = r.per_sample(P(out), out).detach()  # perfect reconstruction
    # log σ ≥ log(min_sigma): the NLL stays finite and bounded below
    assert torch.isfinite(nll).all()
    assert float(nll) == pytest.approx(2 * (math.log(0.01) + 0.5 * LOG_2PI), abs=1e-4)
    sigma_sample = r.sample(P(torch.zeros(10000, 2))).detach().std()
    assert float(sigma_sample) == pytest.approx(0.01, rel=0.05)


def test_gaussian_decoder_variance_splits_the_output():
    r = rec({"name": "gaussian", "variance": "decoder"}, 2).double()
    assert r.params_per_feature == 2
    mean = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    raw = torch.tensor([[0.0, 1.0]], dtype=torch.float64)  # log σ, far above the floor
    out = P(torch.cat([mean, raw], 1), 2)
    torch.testing.assert_close(r.mean(out), mean)
    x = torch.tensor([[0.0, 2.0]], dtype=torch.float64)
    reference = -torch.distributions.Normal(mean, floored(raw).exp()).log_prob(x).sum(1)
    torch.testing.assert_close(r.per_sample(out, x), reference)
    # a very negative raw output hits the floor instead of a zero variance
    tiny = r.per_sample(P(torch.cat([mean, torch.full_like(raw, -1e4)], 1), 2), mean)
    assert float(tiny) == pytest.approx(2 * (math.log(1e-3) + 0.5 * LOG_2PI), abs=1e-6)


@pytest.mark.parametrize(
    "spec",
    [
        "mse",
        "bernoulli",
        {"name": "gaussian", "variance": "fixed"},
        {"name": "gaussian", "variance": "learned"},
    ],
)
def test_where_mask_counts_only_the_masked_entries(spec):
    torch.manual_seed(0)
    r = rec(spec, 4)
    out = torch.randn(3, 4)
    x = torch.rand(3, 4)
    where = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1]], dtype=torch.bool)
    masked = r.per_sample(P(out), x, where)
    # changing the unmasked entries changes nothing
    x2 = torch.where(where, x, torch.rand(3, 4))
    out2 = torch.where(where, out, torch.randn(3, 4))
    torch.testing.assert_close(r.per_sample(P(out2), x2, where), masked)
    # and each row equals the loss restricted to its masked columns
    for i in range(3):
        cols = where[i].nonzero().flatten()
        sub = build(RECONSTRUCTIONS, spec, n_features=len(cols))
        if isinstance(spec, dict) and spec["variance"] == "learned":
            sub.log_sigma.data = r.log_sigma.data[cols]
        expected = sub.per_sample(P(out[i : i + 1, cols]), x[i : i + 1, cols])
        torch.testing.assert_close(masked[i : i + 1], expected)


def test_an_empty_mask_row_counts_nothing():
    r = rec("mse", 2)
    where = torch.zeros(1, 2, dtype=torch.bool)
    assert float(r.per_sample(P(torch.ones(1, 2)), torch.zeros(1, 2), where)) == 0.0


def test_image_shaped_masks_work():
    r = rec("bernoulli", 4)
    where = torch.tensor([[[[1, 0], [0, 1]]]], dtype=torch.bool)
    out, x = torch.zeros(1, 1, 1, 2, 2), torch.ones(1, 1, 2, 2)  # (B, params, C, H, W)
    assert float(r.per_sample(out, x, where)) == pytest.approx(2 * math.log(2))


@pytest.mark.parametrize(
    "opts, message",
    [
        ({"sigma": 0.0}, "sigma must be > 0"),
        ({"min_sigma": -1.0}, "min_sigma must be > 0"),
        ({"variance": "per-pixel"}, "expected one of"),
    ],
)
def test_gaussian_bad_options(opts, message):
    with pytest.raises(AutoencodingError, match=message):
        rec({"name": "gaussian", **opts})


def test_mse_has_no_options():
    with pytest.raises(
        AutoencodingError, match=r"reconstruction 'mse': unknown option\(s\) 'sigma'"
    ):
        rec({"name": "mse", "sigma": 1.0})
