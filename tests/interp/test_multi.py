"""Several SAEs in one pass over one stream: each trains exactly as it would alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding.interp import ToySuperposition, store_from_array
from autoencoding.interp.multi import SAEGroup, ZippedBatches
from autoencoding.interp.store import StoreBatches
from autoencoding.model import Autoencoder
from autoencoding.recipes import resolve
from autoencoding.train import TrainConfig, Trainer

CFG = dict(epochs=2, batch_size=100, lr=1e-2, progress=False, val_fraction=0.0)


def make(k: int, d: int = 8, seed: int = 0) -> Autoencoder:
    over = {"latent_dim": 32, "bottleneck": {"name": "topk", "k": k}}
    torch.manual_seed(seed)
    return Autoencoder(resolve("sae-topk", [d], overrides=over))


def test_group_trains_each_sae_as_alone(tmp_path):
    x = ToySuperposition(d=8, n_features=24, p=0.1).data(1000).numpy()
    store = store_from_array(x, tmp_path / "s")
    sample = store.sample(300)
    alone = []
    for k in (2, 4):
        m = make(k)
        m.init_from_data(sample)
        Trainer(m, TrainConfig(**CFG)).fit(StoreBatches(store, 100))
        alone.append(m)
    group = SAEGroup([make(2), make(4)])
    group.init_from_data(sample)
    hist = Trainer(group, TrainConfig(**CFG)).fit(StoreBatches(store, 100))
    assert "train/sae1/fvu" in hist[-1] and "train/sae0/l0" in hist[-1]
    for a, g in zip(alone, group.members, strict=True):
        for (name, p), q in zip(a.state_dict().items(), g.state_dict().values(), strict=True):
            torch.testing.assert_close(p, q, msg=name)
    paths = group.save(tmp_path / "sweep")
    back = ae.load(paths[1])
    torch.testing.assert_close(
        torch.as_tensor(back.reconstruct(x[:4])),
        group.members[1].reconstruct(torch.from_numpy(x[:4])),
    )


def test_zipped_stores_feed_one_sae_per_hook_point(tmp_path):
    x = np.random.default_rng(0).normal(size=(600, 8)).astype(np.float32)
    a = store_from_array(x, tmp_path / "a")
    b = store_from_array(np.concatenate([2 * x, x[:, :4]], axis=1), tmp_path / "b")
    zipped = ZippedBatches([StoreBatches(a, 100, seed=1), StoreBatches(b, 100, seed=1)])
    batch = next(iter(zipped.epoch(0)))
    assert batch.shape == (100, 20)
    torch.testing.assert_close(batch[:, 8:16], 2 * batch[:, :8])  # the same tokens, aligned
    group = SAEGroup([make(2, d=8), make(3, d=12)], slices=[(0, 8), (8, 20)])
    group.init_from_data(torch.cat([torch.from_numpy(a.read()), torch.from_numpy(b.read())], 1))
    hist = Trainer(group, TrainConfig(**CFG)).fit(zipped)
    assert hist[-1]["train/sae1/fvu"] < hist[0]["train/sae1/fvu"] + 1e-6
    with pytest.raises(ae.AutoencodingError, match="slice 0:8 has 8 features; its SAE expects 12"):
        SAEGroup([make(2, d=12)], slices=[(0, 8)])
    short = store_from_array(x[:500], tmp_path / "c")
    with pytest.raises(ae.AutoencodingError, match="same tokens"):
        ZippedBatches([StoreBatches(a, 100), StoreBatches(short, 100)])
