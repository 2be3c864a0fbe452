"""Continuous bottlenecks: identity, Gaussian (KL, warm-up, free bits, IW terms), low-rank."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from autoencoding import AutoencodingError
from autoencoding.parts import BOTTLENECKS, BottleneckOutput
from autoencoding.parts.base import build


def gaussian(latent_dim=3, **opts):
    return build(BOTTLENECKS, {"name": "gaussian", **opts}, latent_dim=latent_dim)


def test_identity_passes_h_through():
    b = build(BOTTLENECKS, "identity", latent_dim=4)
    h = torch.randn(5, 4)
    out = b(h)
    assert isinstance(out, BottleneckOutput)
    assert out.z is h and out.losses == {} and out.codes is None
    assert b.encoder_features() == 4 and not b.generative
    with pytest.raises(AutoencodingError, match="needs a generative bottleneck"):
        b.sample_prior(2)


def test_gaussian_record_shapes(torch_gen):
    b = gaussian(3)
    assert b.encoder_features() == 6 and b.generative
    out = b(torch.randn(5, 6, generator=torch_gen))
    assert out.z.shape == (5, 3)
    assert set(out.losses) == {"kl"} and out.losses["kl"].dim() == 0
    assert out.params["mean"].shape == out.params["logvar"].shape == (5, 3)
    assert set(out.stats) == {"kl", "kl_weight"}


def test_gaussian_kl_matches_the_closed_form(torch_gen):
    b = gaussian(4)
    h = torch.randn(7, 8, generator=torch_gen, dtype=torch.float64)
    out = b.eval()(h)
    mean, logvar = h.chunk(2, dim=-1)
    logvar = 10 * torch.tanh(logvar / 10)  # the documented soft clamp
    closed = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(-1).mean()
    torch.testing.assert_close(out.losses["kl"], closed)
    reference = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    torch.testing.assert_close(out.losses["kl"], reference.sum(-1).mean())
    torch.testing.assert_close(out.stats["kl"], closed)


def test_gaussian_kl_is_zero_at_the_prior():
    out = gaussian(3)(torch.zeros(4, 6))
    assert float(out.losses["kl"]) == 0.0


def test_gaussian_logvar_soft_clamp_keeps_variance_finite():
    mean, logvar = gaussian(1).posterior(torch.tensor([[0.0, 1e4]]))
    assert float(logvar) == pytest.approx(10.0, abs=1e-4)
    assert torch.isfinite(logvar.exp()).all()


def test_beta_scales_the_kl(torch_gen):
    h = torch.randn(6, 4, generator=torch_gen)
    kl1 = gaussian(2, beta=1.0).eval()(h).losses["kl"]
    kl4 = gaussian(2, beta=4.0).eval()(h).losses["kl"]
    torch.testing.assert_close(kl4, 4 * kl1)


def test_warmup_ramps_the_kl_weight_linearly(torch_gen):
    b = gaussian(2, beta=2.0, warmup_steps=10).train()
    h = torch.randn(6, 4, generator=torch_gen)
    weights = [b.kl_weight(s) for s in (0, 4, 9, 10, 1000)]
    assert weights == pytest.approx([0.2, 1.0, 2.0, 2.0, 2.0])
    out = b(h, step=1)
    assert float(out.stats["kl_weight"]) == pytest.approx(0.4)
    torch.testing.assert_close(out.losses["kl"], 0.4 * out.stats["kl"])
    # no step (and eval mode) means the full weight
    assert b.kl_weight(None) == 2.0
    assert float(b.eval()(h, step=0).stats["kl_weight"]) == 2.0


def test_free_bits_floor_each_dimension():
    b = gaussian(3, free_bits=0.5)
    # dimension 0 carries 2 nats per sample, dimensions 1 and 2 none
    h = torch.zeros(4, 6)
    h[:, 0] = 2.0
    out = b.eval()(h)
    assert float(out.stats["kl"]) == pytest.approx(2.0)  # the true KL is logged
    assert float(out.losses["kl"]) == pytest.approx(2.0 + 0.5 + 0.5)
    # at the prior the penalty is the floor alone, which has no gradient
    h0 = torch.zeros(4, 6, requires_grad=True)
    out0 = b(h0)
    assert out0.losses["kl"].item() == pytest.approx(3 * 0.5)
    out0.losses["kl"].backward()
    assert float(h0.grad.abs().sum()) == 0.0


def test_eval_mode_returns_the_posterior_mean_and_training_samples(torch_gen):
    b = gaussian(3)
    h = torch.randn(5, 6, generator=torch_gen)
    assert torch.equal(b.eval()(h).z, h[:, :3])
    z1, z2 = b.train()(h).z, b(h).z
    assert not torch.equal(z1, z2) and not torch.equal(z1, h[:, :3])


def test_reparameterized_samples_have_the_posterior_moments():
    torch.manual_seed(0)
    b = gaussian(2).train()
    h = torch.tensor([[1.0, -2.0, math.log(0.25), math.log(4.0)]]).expand(20000, 4)
    z = b(h).z
    torch.testing.assert_close(z.mean(0), torch.tensor([1.0, -2.0]), atol=0.05, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([0.5, 2.0]), atol=0.05, rtol=0)


def test_log_importance_shapes_and_values(torch_gen):
    b = gaussian(3)
    h = torch.randn(4, 6, generator=torch_gen, dtype=torch.float64)
    z, log_w = b.log_importance(h, k=5)
    assert z.shape == (5, 4, 3) and log_w.shape == (5, 4)
    mean, logvar = b.posterior(h)
    log_q = Normal(mean, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    log_p = Normal(0.0, 1.0).log_prob(z).sum(-1)
    torch.testing.assert_close(log_w, log_p - log_q)


def test_log_importance_average_is_minus_the_kl():
    # E_q[log p(z) - log q(z|x)] = -KL(q || p)
    torch.manual_seed(0)
    b = gaussian(2)
    h = torch.tensor([[0.5, -1.0, -0.5, 0.3]], dtype=torch.float64)
    _, log_w = b.log_importance(h, k=200_000)
    kl = b.eval()(h).stats["kl"]
    assert float(log_w.mean()) == pytest.approx(-float(kl), abs=0.01)


def test_sample_prior_is_seeded():
    b = gaussian(3)
    a = b.sample_prior(4, generator=torch.Generator().manual_seed(1))
    c = b.sample_prior(4, generator=torch.Generator().manual_seed(1))
    assert a.shape == (4, 3) and torch.equal(a, c)


@pytest.mark.parametrize(
    "opts, message",
    [
        ({"beta": -1.0}, "beta must be >= 0"),
        ({"warmup_steps": -1}, "warmup_steps must be >= 0"),
        ({"free_bits": -0.1}, "free_bits must be >= 0"),
        ({"betta": 1.0}, "unknown option"),
    ],
)
def test_gaussian_bad_options(opts, message):
    with pytest.raises(AutoencodingError, match=message):
        gaussian(2, **opts)


def test_lowrank_nuclear_norm(torch_gen):
    b = build(BOTTLENECKS, {"name": "lowrank", "weight": 0.5}, latent_dim=4)
    assert torch.equal(b.linear.weight, torch.eye(4))  # starts as the identity
    with torch.no_grad():
        b.linear.weight.copy_(torch.randn(4, 4, generator=torch_gen))
    h = torch.randn(6, 4, generator=torch_gen)
    out = b(h)
    torch.testing.assert_close(out.z, h @ b.linear.weight.T)
    nuclear = np.linalg.norm(b.linear.weight.detach().numpy(), ord="nuc")
    assert float(out.stats["nuclear_norm"]) == pytest.approx(nuclear, rel=1e-5)
    assert out.losses["nuclear"].item() == pytest.approx(0.5 * nuclear, rel=1e-5)


def test_lowrank_penalty_gradient_shrinks_singular_values():
    b = build(BOTTLENECKS, {"name": "lowrank", "weight": 1.0}, latent_dim=3)
    b(torch.zeros(1, 3)).losses["nuclear"].backward()
    # d‖W‖_* / dW = U Vᵀ, the identity at W = I
    torch.testing.assert_close(b.linear.weight.grad, torch.eye(3))


def test_lowrank_rejects_negative_weight():
    with pytest.raises(AutoencodingError, match="weight must be >= 0"):
        build(BOTTLENECKS, {"name": "lowrank", "weight": -1.0}, latent_dim=2)
