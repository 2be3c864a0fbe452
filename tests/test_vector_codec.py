"""vector-codec (issue 13): residual VQ with beam search and shrunk, refined codebooks; fixed
M bytes per vector through the compress / decompress seam."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding import AutoencodingError
from autoencoding.parts.vector_quant import ResidualVQ, ResidualVQConfig


def clustered(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 directions (embedding-like: clustered, normalised)."""
    g = np.random.default_rng(seed)
    centres = g.normal(size=(40, d))
    x = centres[g.integers(40, size=n)] + 0.6 * g.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def codec():
    x = clustered(600)
    m = ae.fit(
        "vector-codec",
        x,
        model={"bottleneck": {"n_codebooks": 4, "codebook_size": 32, "normalize_output": True}},
        train={"epochs": 1, "progress": False},
        scaling="none",
        seed=0,
    )
    return m, clustered(50, seed=1)


def test_codes_are_m_bytes_and_decode_exactly(codec):
    m, x = codec
    codes = m.encode(x, codes=True)
    assert codes.shape == (50, 4) and codes.min() >= 0 and codes.max() < 32
    np.testing.assert_array_equal(m.decode(codes), m.reconstruct(x))


def test_compress_round_trip_is_exact_and_fixed_width(codec):
    m, x = codec
    blob = m.compress(x)
    blob2 = m.compress(x[:25])
    assert len(blob) - len(blob2) == 25 * 4  # 4 bytes per vector, header aside
    np.testing.assert_array_equal(m.decompress(blob), m.reconstruct(x))
    with pytest.raises(AutoencodingError):
        m.decompress(blob[:-3])  # truncated


def test_cli_compress_in_another_process_decodes_here(codec, tmp_path):
    m, x = codec
    folder = m.save(tmp_path / "vc")
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    run = [str(Path(sys.executable).parent / "autoencoding"), "compress", str(folder)]
    subprocess.run(
        [*run, "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "x.aec")],
        check=True,
        env=env,
        capture_output=True,
    )
    back = ae.load(folder).decompress((tmp_path / "x.aec").read_bytes())
    np.testing.assert_array_equal(back, m.reconstruct(x))


def heldout_error(cfg: ResidualVQConfig, train: torch.Tensor, test: torch.Tensor) -> float:
    q = ResidualVQ(cfg, train.shape[1])
    q.fit(train)
    return float((q.lookup(q.encode_codes(test)).detach() - test).pow(2).sum() / test.pow(2).sum())


def test_learned_codec_beats_plain_kmeans_rq_at_equal_bytes():
    train, test = torch.from_numpy(clustered(800)), torch.from_numpy(clustered(400, seed=2))
    size = {"n_codebooks": 4, "codebook_size": 64}
    plain = heldout_error(
        ResidualVQConfig(**size, beam=1, refine_sweeps=0, shrinkage=0), train, test
    )
    ours = heldout_error(
        ResidualVQConfig(**size, beam=4, refine_sweeps=3, shrinkage=3), train, test
    )
    assert ours < 0.95 * plain, (ours, plain)


def test_bad_options_and_codes_get_clear_errors(codec):
    m, _ = codec
    with pytest.raises(AutoencodingError, match="codebook_size must be in"):
        ResidualVQConfig(codebook_size=300).validate()
    with pytest.raises(AutoencodingError, match="out of range"):
        m.decode(np.full((2, 4), 40))
    with pytest.raises(AutoencodingError, match=r"\(n, 4\)"):
        m.decode(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(AutoencodingError, match="latent_dim"):
        ae.fit(
            "vector-codec",
            clustered(50),
            model={"latent_dim": 8},
            scaling="none",
            train={"epochs": 1, "progress": False},
        )


def test_decompress_is_the_same_at_any_thread_count(codec):
    m, x = codec
    blob = m.compress(x)
    before = torch.get_num_threads()
    try:
        outs = []
        for n in (1, 2):
            torch.set_num_threads(n)
            outs.append(m.decompress(blob))
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(outs[0], outs[1])
