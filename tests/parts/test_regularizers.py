"""Regularizers: the contractive penalty equals λ times the mean squared Jacobian norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import jacrev, vmap

from autoencoding import AutoencodingError
from autoencoding.parts import ENCODERS, REGULARIZERS
from autoencoding.parts.base import Encoder, build


def reference_penalty(encoder, x, weight):
    jac = vmap(jacrev(lambda row: encoder(row.unsqueeze(0)).squeeze(0)))(x)
    return weight * jac.pow(2).flatten(1).sum(1).mean()


def test_contractive_penalty_on_an_mlp():
    torch.manual_seed(0)
    enc = build(ENCODERS, {"name": "mlp", "hidden": [8, 8]}, input_shape=(5,), out_features=3)
    enc = enc.double()
    reg = build(REGULARIZERS, {"name": "contractive", "weight": 0.3})
    x = torch.randn(6, 5, dtype=torch.float64)
    terms = reg(enc, x)
    assert set(terms) == {"contractive"}
    torch.testing.assert_close(terms["contractive"], reference_penalty(enc, x, 0.3))


def test_contractive_penalty_on_an_encoder_without_a_closed_form():
    torch.manual_seed(0)

    class SoftplusEncoder(Encoder):  # no closed-form Jacobian: the base class's autograd one
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.Softplus(), nn.Linear(3, 2))

        def forward(self, x):
            return self.net(x)

    enc = SoftplusEncoder().double()
    reg = build(REGULARIZERS, {"name": "contractive", "weight": 2.0})
    x = torch.randn(5, 4, dtype=torch.float64)
    torch.testing.assert_close(reg(enc, x)["contractive"], reference_penalty(enc, x, 2.0))


def test_contractive_default_weight_and_validation():
    assert build(REGULARIZERS, "contractive").cfg.weight > 0  # the default does something
    with pytest.raises(AutoencodingError, match="weight must be >= 0"):
        build(REGULARIZERS, {"name": "contractive", "weight": -0.1})
    with pytest.raises(AutoencodingError, match="unknown regularizer 'l1'"):
        build(REGULARIZERS, {"name": "l1"})
