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
from autoencoding.parts.base import Corrupted, build
from autoencoding.recipes import resolve


def _nan_batch(n=64, d=7, rate=0.4, seed=0):
    """A table with NaN at the missing entries: row 0 has nothing observed, row 1 one entry."""
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(n, d, generator=g)
    observed = torch.rand(n, d, generator=g) >= rate
    observed[0] = False
    observed[1] = False
    observed[1, 3] = True
    return torch.where(observed, values, float("nan"))


def test_remask_on_a_nan_table_hides_only_observed_and_scores_only_hidden():
    x = _nan_batch()
    observed = ~torch.isnan(x)
    part = build(CORRUPTIONS, {"name": "remask", "rate": 0.5}).train()
    assert part.accepts_missing
    torch.manual_seed(0)
    r = part(x)
    visible = ~r.hidden
    assert r.hidden.shape == r.where.shape == r.x.shape == x.shape
    assert not (visible & ~observed).any()  # missing entries are never shown
    assert not (r.where & ~observed).any()  # nor scored
    assert torch.equal(r.where, r.hidden & observed)  # the loss scores the hidden ones only
    assert torch.isfinite(r.x).all() and torch.isfinite(r.target).all()
    assert (r.x[r.hidden] == 0).all()
    assert torch.equal(r.x[visible], x[visible])
    assert torch.equal(r.target[observed], x[observed])
    has_obs = observed.any(1)
    assert visible[has_obs].any(1).all()  # every row with data keeps one visible entry
    assert visible[1, 3]
    assert 0.35 < r.where.sum() / observed.sum() < 0.65


def test_remask_eval_mode_is_fixed_observe_hides_the_missing_and_observed_loss_counts_all():
    x = _nan_batch()
    observed = ~torch.isnan(x)
    part = build(CORRUPTIONS, {"name": "remask", "loss_on": "observed"}).eval()
    a, b = part(x), part(x)
    assert torch.equal(a.x, b.x) and torch.equal(a.where, b.where)
    assert torch.equal(a.where, observed)
    seen = part.observe(x)  # inference: only the data's own missing entries are hidden
    assert torch.equal(seen.hidden, ~observed) and seen.where is None
    assert torch.equal(seen.x, torch.nan_to_num(x, nan=0.0))
    complete = torch.randn(8, 5)  # a complete table: every entry observed
    r = part(complete)
    assert r.x.shape == r.where.shape == (8, 5) and r.where.all()
    assert not part.observe(complete).hidden.any()


def test_other_corruptions_still_reject_missing_values():
    assert not build(CORRUPTIONS, {"name": "gaussian"}).accepts_missing
    model = Autoencoder(resolve("dae", [5], (-3.0, 3.0)))
    x = torch.randn(4, 5)
    x[2, 1] = float("nan")
    with pytest.raises(AutoencodingError, match="NaN first at sample 2.*does not accept missing"):
        model.encode(x)
    remasker = Autoencoder(resolve("remasker", [5], overrides={"latent_dim": 5 * 32}))
    assert torch.isfinite(remasker.reconstruct(x)).all()  # NaN = missing: accepted
    x[0, 0] = float("inf")
    with pytest.raises(AutoencodingError, match="inf first at sample 0"):
        remasker.reconstruct(x)


def test_feature_transformer_ignores_hidden_values():
    torch.manual_seed(0)
    d = 6
    spec = {"name": "feature_transformer", "embed_dim": 16, "heads": 2}
    enc = build(ENCODERS, spec, input_shape=(d,), out_features=d * 16).eval()
    dec = build(DECODERS, spec, latent_dim=d * 16, output_shape=(d,), factor=2).eval()
    hidden = torch.isnan(_nan_batch(16, d))
    x = torch.randn(16, d)
    y = torch.where(hidden, torch.randn(16, d) * 100, x)
    h = enc.encode(Corrupted(x, hidden=hidden))
    assert torch.allclose(h, enc.encode(Corrupted(y, hidden=hidden)), atol=1e-5)
    assert not torch.allclose(h, enc.encode(Corrupted(x)), atol=1e-3)  # the mask matters
    assert torch.isfinite(h).all()  # rows with nothing visible included
    assert torch.equal(enc(x), enc.encode(Corrupted(x)))  # forward: everything visible
    assert dec.decode(h).shape == (16, 2 * d)
    with pytest.raises(AutoencodingError, match="table rows shaped"):
        build(ENCODERS, spec, input_shape=(2, 4), out_features=8)
    with pytest.raises(AutoencodingError, match="heads"):
        build(
            ENCODERS,
            {"name": "feature_transformer", "embed_dim": 10, "heads": 4},
            input_shape=(4,),
            out_features=8,
        )


def test_mlp_mask_input_reads_the_flags_from_the_record():
    torch.manual_seed(0)
    d = 5
    enc = build(ENCODERS, {"name": "mlp", "hidden": [8], "mask_input": True}, input_shape=(d,),
                out_features=3)  # fmt: skip
    assert enc.net[0].in_features == 2 * d
    x = torch.randn(4, d)
    hidden = torch.zeros(4, d, dtype=torch.bool)
    hidden[:, 0] = True
    flags = torch.cat([x, (~hidden).float()], 1)
    assert torch.allclose(enc.encode(Corrupted(x, hidden=hidden)), enc.net(flags))
    assert torch.allclose(enc(x), enc.net(torch.cat([x, torch.ones_like(x)], 1)))
    # the contractive penalty differentiates with respect to x only
    ref = super(type(enc), enc).jacobian_frobenius_sq(x)
    torch.testing.assert_close(enc.jacobian_frobenius_sq(x), ref)


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
    model = Autoencoder(resolve("remasker", [13], overrides={"latent_dim": 13 * 32}))
    out = model(_nan_batch(4, 13))  # NaN = missing
    assert torch.isfinite(out.loss) and torch.isfinite(out.out).all()
