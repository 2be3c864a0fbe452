"""Corruptions: noise statistics, and no corruption outside training."""

from __future__ import annotations

import pytest
import torch

from autoencoding import AutoencodingError
from autoencoding.parts import CORRUPTIONS
from autoencoding.parts.base import build


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.6])
def test_masking_zeroes_about_rate_of_the_entries(rate):
    torch.manual_seed(0)
    c = build(CORRUPTIONS, {"name": "masking", "rate": rate}).train()
    x = torch.rand(400, 50) + 0.5  # no zeros to begin with
    r = c(x)
    xt, where = r.x, r.where
    zeroed = xt == 0
    assert float(zeroed.float().mean()) == pytest.approx(rate, abs=0.01)
    assert torch.equal(xt[~zeroed], x[~zeroed])  # the rest is untouched
    assert where is None  # the loss still counts every entry


def test_gaussian_noise_has_the_configured_std():
    torch.manual_seed(0)
    c = build(CORRUPTIONS, {"name": "gaussian", "std": 0.3}).train()
    x = torch.rand(500, 40)
    r = c(x)
    xt, where = r.x, r.where
    noise = xt - x
    assert float(noise.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(noise.std()) == pytest.approx(0.3, rel=0.02)
    assert where is None


@pytest.mark.parametrize(
    "spec", ["none", {"name": "gaussian", "std": 0.5}, {"name": "masking", "rate": 0.5}]
)
def test_corruption_is_off_in_eval_mode(spec):
    c = build(CORRUPTIONS, spec).eval()
    x = torch.rand(8, 5)
    r = c(x)
    xt, where = r.x, r.where
    assert torch.equal(xt, x) and where is None


def test_no_corruption_in_training_either():
    c = build(CORRUPTIONS, "none").train()
    x = torch.rand(4, 3)
    assert c(x).x is x


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"name": "gaussian", "std": 0.0}, "std must be > 0"),
        ({"name": "masking", "rate": 1.0}, r"rate must be in \(0, 1\)"),
        ({"name": "masking", "rate": 0.0}, r"rate must be in \(0, 1\)"),
        ({"name": "dropout"}, "unknown corruption 'dropout'; known corruptions: gaussian"),
    ],
)
def test_bad_corruption_specs(spec, message):
    with pytest.raises(AutoencodingError, match=message):
        build(CORRUPTIONS, spec)
