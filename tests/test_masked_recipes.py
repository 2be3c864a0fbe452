"""Masked-autoencoder recipes end to end: fit, save/load, encode pools, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding.cli import main
from autoencoding.parts.masks import masked_record
from autoencoding.recipes import get_recipe

SMALL = {"depth": 1, "decoder_depth": 1, "embed_dim": 32, "decoder_dim": 16}


def waves(n=240, channels=2, length=40, seed=0):
    """Sines of random frequency and phase per channel: a masked patch is predictable from
    the visible ones."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 6, length)[None, None, :]
    f = rng.uniform(1, 3, (n, channels, 1))
    p = rng.uniform(0, 6, (n, channels, 1))
    return np.sin(t * f + p).astype(np.float32)


@pytest.mark.parametrize("recipe", ["mae", "mae-video", "patch-mae", "pits"])
def test_recipes_are_registered_with_their_paper(recipe):
    r = get_recipe(recipe)
    assert r.paper and r.model["latent_dim"][0] is None


def test_patch_mae_learns_to_fill_hidden_patches_and_round_trips(tmp_path):
    x = waves(400)
    small = {"encoder": SMALL, "latent_dim": [None, 32]}
    train = {"epochs": 40, "batch_size": 32, "lr": 3e-3, "progress": False}
    m = ae.fit("patch-mae", x, model=small, train=train)
    mod = m.module.eval()
    xs = m.transform_scaled(x[:64])
    torch.manual_seed(1)
    rec = mod.corruption.train()(xs)
    mod.corruption.eval()
    with torch.no_grad():
        h = mod.encoder.encode(rec)
        pred = mod.decoder.decode(mod.bottleneck(h).z, rec)[:, 0]
    err = (pred - xs)[rec.where].pow(2).mean().item()
    baseline = xs[rec.where].pow(2).mean().item()  # predicting the (scaled) mean, 0
    assert err < 0.5 * baseline
    # save / load: the same weights, the same features and reconstructions, exactly
    m.save(tmp_path / "m")
    back = ae.load(tmp_path / "m")
    for a, b in zip(m.module.state_dict().values(), back.module.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for pool in ("mean", "tokens", "flatten"):
        assert np.array_equal(m.encode(x[:8], pool=pool), back.encode(x[:8], pool=pool))
    assert np.array_equal(m.reconstruct(x[:8]), back.reconstruct(x[:8]))
    assert m.encode(x[:8]).shape == (8, 2 * 2 * 32)  # meanmax per channel, side by side
    assert m.encode(x[:8], pool="mean").shape == (8, 2 * 32)
    assert m.encode(x[:8], pool="tokens").shape == (8, 20, 32)


def test_masked_record_inpaints_given_patches_and_refuses_uneven_counts():
    x = torch.from_numpy(waves(4))
    m = ae.fit("patch-mae", waves(64), model={"encoder": SMALL, "latent_dim": [None, 32]},
               train={"epochs": 1, "progress": False}).module  # fmt: skip
    g = m.encoder.grid
    hidden = torch.zeros(4, g.tokens, dtype=torch.bool)
    hidden[:, [2, 3, 12, 13]] = True  # patches 2-3 of each channel
    rec = masked_record(g, x, hidden)
    assert rec.visible.shape == (4, 16)
    hidden[0, 5] = True
    with pytest.raises(ae.AutoencodingError, match="same number"):
        masked_record(g, x, hidden)


def test_mae_and_pits_fit_images_and_series_arrays():
    rng = np.random.default_rng(0)
    img = rng.random((64, 1, 16, 16)).astype(np.float32)
    m = ae.fit("mae", img, model={"encoder": SMALL, "latent_dim": [None, 32]},
               train={"epochs": 1, "progress": False})  # fmt: skip
    assert m.encode(img[:3]).shape == (3, 32)
    assert m.reconstruct(img[:3]).shape == (3, 1, 16, 16)
    p = ae.fit("pits", waves(64), train={"epochs": 1, "progress": False})
    assert p.encode(waves(3)).shape == (3, 2 * 2 * 256)  # meanmax of 256-wide tokens


def test_cli_trains_and_encodes_a_series_file_with_pools(tmp_path, capsys):
    np.save(tmp_path / "s.npy", waves(120))
    run = str(tmp_path / "run")
    main(["train", "patch-mae", "--data", str(tmp_path / "s.npy"), "--out", run, "--epochs", "1",
          "--set", "model.encoder.depth=1"])  # fmt: skip
    main(["encode", run, "--data", str(tmp_path / "s.npy"), "--out", str(tmp_path / "z.npy")])
    assert np.load(tmp_path / "z.npy").shape == (120, 2 * 2 * 64)  # meanmax, 2 channels
    main(["encode", run, "--data", str(tmp_path / "s.npy"), "--pool", "tokens",
          "--out", str(tmp_path / "t.npy")])  # fmt: skip
    assert np.load(tmp_path / "t.npy").shape == (120, 20, 64)


@pytest.mark.parametrize(
    "recipe,shape",
    [("mae", (1, 8, 8)), ("mae-video", (2, 4, 8, 8)), ("patch-mae", (3, 16)), ("pits", (2, 16))],
)
def test_every_masked_recipe_round_trips_exactly(recipe, shape, tmp_path):
    x = np.random.default_rng(0).normal(size=(24, *shape)).astype(np.float32)
    m = ae.fit(recipe, x, train={"epochs": 1, "progress": False})
    m.save(tmp_path / "m")
    back = ae.load(tmp_path / "m")
    assert back.config == m.config
    for pool in ("tokens", None):
        assert np.array_equal(m.encode(x, pool=pool), back.encode(x, pool=pool))
    assert np.array_equal(m.reconstruct(x), back.reconstruct(x))


def test_cli_trains_an_image_array(tmp_path):
    np.save(tmp_path / "im.npy", np.random.default_rng(0).random((40, 1, 8, 8), dtype=np.float32))
    run = str(tmp_path / "run")
    main(["train", "mae", "--data", str(tmp_path / "im.npy"), "--out", run, "--epochs", "1"])
    main(["encode", run, "--data", str(tmp_path / "im.npy"), "--pool", "flatten",
          "--out", str(tmp_path / "z.npy")])  # fmt: skip
    assert np.load(tmp_path / "z.npy").shape == (40, 4 * 64)
