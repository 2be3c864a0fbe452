"""The parts behind the imputer: re-masking corruption, per-feature-token transformer, and the
``remasker`` recipe as a plain recipe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_wine

import autoencoding as ae
from autoencoding.errors import AutoencodingError
from autoencoding.model import Autoencoder
from autoencoding.parts import CORRUPTIONS, DECODERS, ENCODERS
from autoencoding.parts.base import build
from autoencoding.recipes import resolve


def _masked_batch(n=64, d=7, rate=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(n, d, generator=g)
    observed = torch.rand(n, d, generator=g) >= rate
    observed[0] = False  # a row with nothing observed
    observed[1] = False
    observed[1, 3] = True  # a row with one observed entry
    return torch.stack([values * observed, observed.float()], dim=1)


def test_remask_hides_only_observed_and_scores_hidden():
    x = _masked_batch()
    part = build(CORRUPTIONS, {"name": "remask", "rate": 0.5}).train()
    torch.manual_seed(0)
    r = part(x)
    x_tilde, where = r.x, r.where
    observed, visible = x[:, 1] > 0.5, x_tilde[:, 1] > 0.5
    hidden = where[:, 0]
    assert not (visible & ~observed).any()  # missing entries are never shown
    assert not (hidden & ~observed).any()  # nor scored
    assert torch.equal(hidden, observed & ~visible)
    assert not where[:, 1].any()  # the observed-flag channel is never a target
    assert (x_tilde[:, 0][~visible] == 0).all()
    has_obs = observed.any(1)
    assert visible[has_obs].any(1).all()  # every row with data keeps one visible entry
    assert visible[1, 3]
    assert 0.35 < hidden.sum() / observed.sum() < 0.65


def test_remask_eval_mode_is_fixed_and_observed_loss_counts_all():
    x = _masked_batch()
    part = build(CORRUPTIONS, {"name": "remask", "loss_on": "observed"}).eval()
    (a, wa), (b, wb) = ((r.x, r.where) for r in (part(x), part(x)))
    assert torch.equal(a, b) and torch.equal(wa, wb)
    assert torch.equal(wa[:, 0], x[:, 1] > 0.5)
    complete = torch.randn(8, 5)  # plain tables: every entry observed, where shaped like x
    r = part(complete)
    xt, w = r.x, r.where
    assert xt.shape == (8, 2, 5) and w.shape == (8, 5) and w.all()


def test_feature_transformer_ignores_hidden_values():
    torch.manual_seed(0)
    d = 6
    enc = build(
        ENCODERS,
        {"name": "feature_transformer", "embed_dim": 16, "heads": 2},
        input_shape=(2, d),
        out_features=d * 16,
    ).eval()
    dec = build(
        DECODERS,
        {"name": "feature_transformer", "embed_dim": 16, "heads": 2},
        latent_dim=d * 16,
        output_shape=(2, d),
        factor=2,
    ).eval()
    x = _masked_batch(16, d)
    y = x.clone()
    y[:, 0] = torch.where(x[:, 1] > 0.5, x[:, 0], torch.randn(16, d) * 100)
    assert torch.allclose(enc(x), enc(y), atol=1e-5)
    assert torch.isfinite(enc(x)).all()  # rows with nothing visible included
    assert dec(enc(x)).shape == (16, 2 * 2 * d)
    with pytest.raises(AutoencodingError, match="masked tables"):
        build(ENCODERS, {"name": "feature_transformer"}, input_shape=(3, 4, 4), out_features=8)
    with pytest.raises(AutoencodingError, match="heads"):
        build(
            ENCODERS,
            {"name": "feature_transformer", "embed_dim": 10, "heads": 4},
            input_shape=(4,),
            out_features=8,
        )


def test_token_padding_does_not_change_attention():
    torch.manual_seed(0)
    from autoencoding.parts.feature_transformer import Blocks, FeatureTransformerConfig

    blocks = Blocks(FeatureTransformerConfig(embed_dim=8, depth=1, heads=2)).eval()
    x = torch.randn(3, 5, 8)
    ref = blocks.blocks[0](x)  # no padding, no mask
    assert torch.allclose(blocks(x), blocks.norm(ref), atol=1e-5)


def test_remasker_recipe_trains_on_a_complete_table():
    cfg = resolve("remasker", [13])
    assert cfg.encoder["name"] == "feature_transformer" and cfg.corruption["name"] == "remask"
    model = ae.fit("remasker", "wine", train={"epochs": 2, "progress": False}, seed=0)
    rec = model.reconstruct(load_wine().data[:5])
    assert rec.shape == (5, 13) and np.isfinite(rec).all()
    masked = Autoencoder(resolve("remasker", [2, 13], overrides={"latent_dim": 13 * 32}))
    out = masked(_masked_batch(4, 13))
    assert torch.isfinite(out.loss)
