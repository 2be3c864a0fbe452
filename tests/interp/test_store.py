"""The sharded activation store: round trip, streaming shuffled batches, bounded memory,
clear errors, and training from it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding.interp.store import (
    MANIFEST,
    ActivationStore,
    StoreBatches,
    StoreWriter,
    store_from_array,
)


def write(tmp_path, n=1000, d=6, shard=128, dtype="float32"):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)).astype(np.float32)
    w = StoreWriter(tmp_path / "s", d, dtype=dtype, shard_tokens=shard, meta={"hook": "h"})
    for c in range(0, n, 77):  # uneven chunks across shard boundaries
        rows = np.arange(c, min(n, c + 77))
        w.add(x[rows], tokens=rows, sequence=rows // 10, position=rows % 10)
    return x, ActivationStore.open(w.close())


def test_round_trip_shards_and_manifest(tmp_path):
    x, store = write(tmp_path)
    doc = json.loads((tmp_path / "s" / MANIFEST).read_text())
    assert doc["n_tokens"] == 1000 and doc["d"] == 6 and doc["hook"] == "h"
    assert doc["n_sequences"] == 100
    assert len(doc["shards"]) == 8 and sum(s["tokens"] for s in doc["shards"]) == 1000
    np.testing.assert_array_equal(store.read(), x)
    meta = store.read("meta")
    np.testing.assert_array_equal(meta[:, 0], np.arange(1000))
    np.testing.assert_array_equal(meta[:, 1], np.arange(1000) // 10)


def test_float16_store(tmp_path):
    x, store = write(tmp_path, dtype="float16")
    np.testing.assert_allclose(store.read(), x, atol=2e-3)
    assert next(iter(StoreBatches(store, 64))).dtype == torch.float32


def test_batches_cover_every_row_once_shuffled_and_reproducible(tmp_path):
    x, store = write(tmp_path)
    b = StoreBatches(store, 64, seed=3, buffer_tokens=256)
    assert len(b) == 16
    ep0 = list(b.epoch(0))
    assert len(ep0) == 16 and sum(len(t) for t in ep0) == 1000
    rows = torch.cat(ep0).numpy()
    order = np.argsort(rows[:, 0])
    np.testing.assert_array_equal(rows[order], x[np.argsort(x[:, 0])])  # a permutation
    assert not np.array_equal(rows, x)  # shuffled
    # batches mix many sequences (tokens 10 per sequence, 64 per batch)
    first = ep0[0].numpy()
    idx = [int(np.where((x == r).all(1))[0][0]) for r in first]
    assert len({i // 10 for i in idx}) > 20
    torch.testing.assert_close(torch.cat(list(b.epoch(0))), torch.cat(ep0))  # pure function
    assert not torch.equal(torch.cat(list(b.epoch(1))), torch.cat(ep0))  # new order per epoch
    # resuming mid-epoch continues with the same batches
    torch.testing.assert_close(torch.cat(list(b.epoch(0, start=5))), torch.cat(ep0[5:]))
    # DDP: two ranks split every global batch
    r0, r1 = list(b.epoch(0, rank=0, world=2)), list(b.epoch(0, rank=1, world=2))
    torch.testing.assert_close(torch.cat([r0[0], r1[0]]), ep0[0])


def test_split_is_by_tokens_in_stored_order(tmp_path):
    x, store = write(tmp_path)
    tr, ev = store.split(0.9)
    assert len(tr) == 900 and len(ev) == 100
    np.testing.assert_array_equal(ev.read(), x[900:])
    np.testing.assert_array_equal(torch.cat(list(ev.iter_chunks(30))).numpy(), x[900:])
    assert sum(len(t) for t in StoreBatches(tr, 64)) == 900


def test_interrupted_or_damaged_store_is_refused(tmp_path):
    w = StoreWriter(tmp_path / "s", 4, shard_tokens=10)
    w.add(np.ones((25, 4), np.float32))  # two shards written, never closed
    with pytest.raises(ae.AutoencodingError, match="no manifest.json"):
        ActivationStore.open(tmp_path / "s")
    w.close()
    (tmp_path / "s" / "shard-00001.npy").unlink()
    with pytest.raises(ae.AutoencodingError, match="shard-00001.npy listed in"):
        ActivationStore.open(tmp_path / "s")
    with pytest.raises(ae.AutoencodingError, match="expected rows of 4 features"):
        StoreWriter(tmp_path / "t", 4).add(np.ones((3, 5), np.float32))
    with pytest.raises(ae.AutoencodingError, match="NaN"):
        StoreWriter(tmp_path / "t", 4).add(np.full((3, 4), np.nan, np.float32))


def test_embeddings_from_npy_become_a_store(tmp_path):
    x = np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32)
    np.save(tmp_path / "emb.npy", x)
    store = store_from_array(tmp_path / "emb.npy", tmp_path / "store")
    np.testing.assert_array_equal(store.read(), x)
    assert store.manifest["source"].endswith("emb.npy")


def test_sae_trains_from_a_store(tmp_path):
    from autoencoding.model import Autoencoder
    from autoencoding.recipes import resolve
    from autoencoding.train import TrainConfig, Trainer

    _, store = write(tmp_path, n=2000, d=8, shard=300)
    over = {"latent_dim": 32, "bottleneck": {"name": "topk", "k": 4}}
    torch.manual_seed(0)
    m = Autoencoder(resolve("sae-topk", [8], overrides=over))
    m.init_from_data(store.sample(500))
    cfg = TrainConfig(epochs=3, batch_size=100, lr=1e-2, progress=False, val_fraction=0.0)
    hist = Trainer(m, cfg).fit(StoreBatches(store, 100, buffer_tokens=500))
    assert hist[-1]["train/fvu"] < hist[0]["train/fvu"]
    assert hist[-1]["step"] == 60
