"""Data too large for memory is memory-mapped and streamed batch by batch, with the same
result as training in memory."""

from __future__ import annotations

import numpy as np
import pytest

import autoencoding as ae
from autoencoding.data import sources


def test_streamed_npy_trains_like_in_memory(tmp_path, monkeypatch):
    x = np.random.default_rng(0).normal(size=(600, 7)).astype(np.float32)
    path = tmp_path / "big.npy"
    np.save(path, x)
    train = {"epochs": 2, "progress": False, "batch_size": 50}
    in_memory = ae.fit("ae", str(path), train=train)
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 100)
    assert isinstance(sources.load_data(str(path)).x, np.memmap)
    streamed = ae.fit("ae", str(path), train=train)
    assert streamed.history[-1]["train/loss"] == pytest.approx(
        in_memory.history[-1]["train/loss"], rel=1e-5
    )
    np.testing.assert_allclose(streamed.encode(x[:20]), in_memory.encode(x[:20]), atol=1e-5)


def test_streamed_npy_with_nan_is_rejected(tmp_path, monkeypatch):
    x = np.zeros((300, 4), dtype=np.float32)
    x[123, 2] = np.inf
    np.save(tmp_path / "bad.npy", x)
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 100)
    with pytest.raises(ae.AutoencodingError, match="row 123"):
        ae.fit("ae", str(tmp_path / "bad.npy"))
