"""Masked-autoencoder parts: patch grids, sin-cos positions, visible-only encoders, masks."""

from __future__ import annotations

import pytest
import torch

from autoencoding.errors import AutoencodingError
from autoencoding.model import Autoencoder, ModelConfig
from autoencoding.parts.patches import make_grid, sincos_embedding
from autoencoding.recipes import resolve

SHAPES = {
    "series": ([3, 40], [4], "patch_transformer"),
    "image": ([2, 16, 12], [4], "patch_transformer"),
    "video": ([3, 4, 8, 8], [2, 4, 4], "patch_transformer"),
    "pits": ([2, 24], [4], "patch_mlp"),
}


def tiny(shape, patch, encoder="patch_transformer", corruption="patch-random", **enc):
    spec = {"name": encoder, "patch": patch, "embed_dim": 16}
    if encoder == "patch_transformer":
        spec.update(depth=1, heads=2, decoder_dim=8, decoder_depth=1, decoder_heads=2)
    spec.update(enc)
    cfg = ModelConfig(
        input_shape=shape,
        latent_dim=[None, 16],
        encoder=spec,
        corruption={"name": corruption, "ratio": 0.75}
        if isinstance(corruption, str)
        else corruption,
        reconstruction={"name": "patch-mse"},
    )
    return Autoencoder(cfg)


@pytest.mark.parametrize("independent", [True, False])
@pytest.mark.parametrize(
    "shape,patch", [([3, 12], [4]), ([2, 8, 12], [4, 2]), ([2, 4, 8, 4], [2, 4, 2])]
)
def test_patchify_round_trips_and_cuts_contiguous_patches(shape, patch, independent):
    g = make_grid(shape, patch, independent, "test")
    x = torch.randn(5, *shape)
    p = g.patchify(x)
    assert p.shape == (5, g.groups, g.n, g.patch_dim)
    assert torch.equal(g.unpatchify(p), x)
    # the first token holds the first patch: the leading block of every axis
    first = x[(slice(None), slice(None), *[slice(0, q) for q in g.patch])]
    want = first[:, 0].flatten(1) if independent else first.flatten(1)
    assert torch.equal(p[:, 0, 0], want)


def test_sincos_positions_are_nonzero_and_distinct_from_construction():
    for grid, dim in [((10,), 16), ((4, 4), 32), ((2, 4, 4), 48), ((3, 3), 17)]:
        pe = sincos_embedding(grid, dim)
        assert pe.shape == (int(torch.tensor(grid).prod()), dim)
        assert (pe.abs().sum(1) > 0).all()
        assert torch.cdist(pe, pe).add(torch.eye(len(pe)) * 1e3).min() > 1e-3
    # the model's buffers hold them (a freshly built model, no initialiser called)
    m = tiny([1, 16, 16], [4])
    assert torch.equal(m.encoder.pos, sincos_embedding((4, 4), 16))
    assert m.encoder.pos.abs().sum(1).min() > 0


@pytest.mark.parametrize("kind", list(SHAPES))
def test_shapes_for_series_images_video(kind):
    shape, patch, enc = SHAPES[kind]
    torch.manual_seed(0)
    m = tiny(shape, patch, enc)
    x = torch.randn(3, *shape)
    out = m(x)
    assert out.out.shape == (3, 1, *shape)
    assert torch.isfinite(out.loss)
    g = m.encoder.grid
    tokens = m.encode(x, pool="tokens")
    assert tokens.shape == (3, g.tokens, 16)  # inference: every token encoded
    assert m.encode(x).shape == (3, g.groups * 16)  # mean per channel sequence
    assert m.encode(x, pool="flatten").shape == (3, g.tokens * 16)
    assert m.reconstruct(x).shape == (3, *shape)


@pytest.mark.parametrize("kind", ["series", "image", "pits"])
def test_the_encoder_never_sees_hidden_patches(kind):
    shape, patch, enc = SHAPES[kind]
    torch.manual_seed(0)
    m = tiny(shape, patch, enc).eval()  # eval: the mask comes from the fixed eval seed
    x = torch.randn(4, *shape)
    rec = m.corruption(x)
    g = m.encoder.grid
    k = g.n - m.corruption.hidden_count(g.n)
    assert rec.visible.shape == (4, g.groups * k)
    h1 = m.encoder.encode(rec)
    assert h1.shape == (4, g.groups * k, 16)  # visible tokens only
    # change every hidden entry of the input: the encoder output does not move
    x2 = torch.where(rec.where, torch.randn_like(x) * 100, x)
    rec2 = m.corruption(x2)
    assert torch.equal(rec2.visible, rec.visible)
    rec2.x = x2  # even with the raw values in x, the encoder gathers only the visible ones
    assert torch.allclose(m.encoder.encode(rec2), h1, atol=1e-6)
    # and the loss counts only hidden entries: changing visible entries' targets does not
    # change the reconstruction term's target side
    assert rec.where.float().mean().item() == pytest.approx(1 - k / g.n)


@pytest.mark.parametrize(
    "name,shape,patch,ratio",
    [
        ("patch-random", [3, 40], [4], 0.75),
        ("patch-block", [1, 32, 32], [4], 0.4),
        ("patch-block", [2, 40], [4], 0.5),
        ("patch-tube", [3, 4, 16, 16], [2, 4, 4], 0.9),
        ("patch-gap", [2, 64], [4], 0.25),
    ],
)
def test_masks_hit_their_ratio_with_the_same_count_per_sequence(name, shape, patch, ratio):
    torch.manual_seed(0)
    m = tiny(shape, patch, corruption={"name": name, "ratio": ratio}).train()
    g = m.encoder.grid
    rec = m.corruption(torch.randn(16, *shape))
    hidden = rec.hidden.view(16, g.groups, g.n)
    counts = hidden.sum(-1)
    assert (counts == counts[0, 0]).all()  # same count in every sequence
    assert counts[0, 0].item() / g.n == pytest.approx(ratio, abs=1.0 / g.n + 1e-6)
    # the visible indices are exactly the non-hidden ones, ascending
    vis = torch.zeros_like(rec.hidden).scatter_(1, rec.visible, True)
    assert torch.equal(vis, ~rec.hidden)
    assert (rec.visible.diff(dim=1) > 0).all()
    # where marks exactly the entries of hidden patches, and they are zeroed in x
    assert torch.equal(rec.where, g.token_entries(rec.hidden))
    assert (rec.x[rec.where] == 0).all()
    # different masks for different samples
    assert not torch.equal(hidden[0], hidden[1])


def test_mask_shapes_follow_their_paper():
    torch.manual_seed(0)
    # tube: the same spatial patches hidden in every frame
    m = tiny([1, 4, 8, 8], [1, 4, 4], corruption={"name": "patch-tube", "ratio": 0.5}).train()
    h = m.corruption(torch.randn(4, 1, 4, 8, 8)).hidden.view(4, 4, 4)
    assert (h == h[:, :1]).all()
    # gap: one contiguous run per sequence
    m = tiny([2, 64], [4], corruption={"name": "patch-gap", "ratio": 0.25}).train()
    h = m.corruption(torch.randn(8, 2, 64)).hidden.view(16, 16).int()
    assert (h.diff(dim=1).abs().sum(1) <= 2).all()
    # independent vs shared channel masks
    m = tiny([3, 40], [4], corruption={"name": "patch-random", "channels": "shared"}).train()
    h = m.corruption(torch.randn(4, 3, 40)).hidden.view(4, 3, 10)
    assert (h == h[:, :1]).all()
    m = tiny([3, 40], [4]).train()
    h = m.corruption(torch.randn(4, 3, 40)).hidden.view(4, 3, 10)
    assert not (h == h[:, :1]).all()

    # block masks on an image grid are clumped: more hidden neighbours than random ones
    def neighbours(name):
        m = tiny([1, 32, 32], [4], corruption={"name": name, "ratio": 0.4}).train()
        h = m.corruption(torch.randn(64, 1, 32, 32)).hidden.view(64, 8, 8).float()
        return ((h[:, 1:] * h[:, :-1]).sum() + (h[:, :, 1:] * h[:, :, :-1]).sum()).item()

    assert neighbours("patch-block") > 1.5 * neighbours("patch-random")


def test_inference_hides_nothing_and_eval_masks_are_fixed():
    torch.manual_seed(0)
    m = tiny([2, 40], [4])
    x = torch.randn(3, 2, 40)
    assert m.corruption.observe(x).visible is None
    m.eval()
    a, b = m.corruption(x), m.corruption(x)
    assert torch.equal(a.hidden, b.hidden)


def test_norm_pix_targets_are_standardised_patches():
    m = tiny([1, 8, 8], [4], corruption="patch-random")
    cfg = m.config
    cfg.reconstruction = {"name": "patch-mse", "norm_pix": True}
    m = Autoencoder(cfg)
    x = torch.randn(2, 1, 8, 8) * 3 + 5
    t = m.encoder.grid.patchify(m.reconstruction.target(x))
    assert torch.allclose(t.mean(-1), torch.zeros(2, 1, 4), atol=1e-5)
    assert torch.allclose(t.std(-1, correction=0), torch.ones(2, 1, 4), atol=1e-3)


def test_cls_token_pooling():
    torch.manual_seed(0)
    m = tiny([3, 40], [4], cls_token=True)
    x = torch.randn(2, 3, 40)
    z = m.encode(x, pool="tokens")
    assert z.shape == (2, 3 + 30, 16)
    assert torch.equal(m.encode(x, pool="cls"), z[:, :3].flatten(1))
    t = z[:, 3:].view(2, 3, 10, 16)
    assert torch.allclose(m.encode(x), t.mean(2).flatten(1))
    assert torch.allclose(m.encode(x, pool="max"), t.amax(2).flatten(1))
    both = m.encode(x, pool="meanmax").view(2, 3, 32)
    assert torch.allclose(both, torch.cat([t.mean(2), t.amax(2)], -1))
    # the encoder's own default (a recipe may set it): meanmax here
    cfg = m.config
    cfg.encoder = {**cfg.encoder, "pool": "meanmax"}
    m2 = Autoencoder(cfg)
    m2.load_state_dict(m.state_dict())
    assert torch.allclose(m2.encode(x), m.encode(x, pool="meanmax"))
    assert torch.isfinite(m(x).loss)
    with pytest.raises(AutoencodingError, match="pool 'cls' needs a CLS token"):
        tiny([3, 40], [4]).encode(x, pool="cls")
    with pytest.raises(AutoencodingError, match="unknown pool 'median'"):
        m.encode(x, pool="median")


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"encoder": {"patch": [3]}}, r"patch \[3\] must divide the sample's sizes \[40\]"),
        ({"corruption": {"ratio": 1.2}}, r"ratio must be in \(0, 1\), got 1.2"),
        ({"corruption": {"ratio": 0.0}}, r"ratio must be in \(0, 1\), got 0.0"),
        ({"encoder": {"patch": [4, 4]}}, r"patch must be one positive size or 1"),
        ({"encoder": {"heads": 5}}, r"heads \(5\) must divide embed_dim \(64\)"),
        (
            {"corruption": {"name": "patch-tube"}},
            r"works on a 3-D patch grid, the encoder's is 1-D",
        ),
        ({"encoder": {"pool": "cls"}}, r"pool 'cls' needs cls_token: true"),
    ],
)
def test_bad_configs_get_one_clear_error(overrides, match):
    with pytest.raises(AutoencodingError, match=match):
        Autoencoder(resolve("patch-mae", [2, 40], (0.0, 1.0), overrides))


def test_wrong_input_rank_and_non_patch_encoders_are_refused():
    with pytest.raises(
        AutoencodingError, match=r"expects samples shaped like a series .* got shape \[40\]"
    ):
        Autoencoder(resolve("patch-mae", [40], (0.0, 1.0)))
    with pytest.raises(AutoencodingError, match="encoder 'mlp' has no patches"):
        Autoencoder(
            ModelConfig(input_shape=[2, 40], latent_dim=8, corruption={"name": "patch-random"})
        )
    m = Autoencoder(resolve("patch-mae", [2, 40], (0.0, 1.0)))
    with pytest.raises(AutoencodingError, match=r"expected samples shaped \(2, 40\)"):
        m.encode(torch.zeros(3, 2, 36))


def test_mask_token_encoder_encodes_every_position_without_reading_hidden_values():
    torch.manual_seed(0)
    m = tiny([1, 16, 16], [4], hidden_tokens="mask").eval()
    x = torch.randn(3, 1, 16, 16)
    rec = m.corruption(x)
    h = m.encoder.encode(rec)
    assert h.shape == (3, 16, 16)  # all 16 positions, hidden ones as [mask]
    rec.x = torch.where(rec.where, torch.randn_like(x) * 50, x)
    assert torch.allclose(m.encoder.encode(rec), h, atol=1e-5)
    out = m(x)
    assert out.out.shape == (3, 1, 1, 16, 16) and torch.isfinite(out.loss)
