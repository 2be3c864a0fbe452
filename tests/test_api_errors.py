"""The Python API answers bad input with one AutoencodingError naming what was wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import autoencoding as ae
from autoencoding import AutoencodingError

V0_1_VAE = Path(__file__).parent / "data" / "v0_1" / "vae"


@pytest.fixture(scope="module")
def model():
    return ae.load(V0_1_VAE)


def test_fit_settings_must_be_mappings():
    x = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(AutoencodingError, match="fit: model must be a mapping .* got 5"):
        ae.fit("ae", x, model=5)
    with pytest.raises(AutoencodingError, match="fit: train must be a mapping .* got 5"):
        ae.fit("ae", x, train=5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, tmp: m.decode([["a", "b"]]), "decode: expected numeric latents"),
        (lambda m, tmp: m.decode(np.full((2, 4), np.nan)), "decode: latents hold NaN"),
        (lambda m, tmp: m.sample(2.5), "sample: n must be a whole number"),
        (lambda m, tmp: m.sample(0), "n must be >= 1"),
        (lambda m, tmp: m.save(tmp / "afile"), "is a file; give a folder"),
        (lambda m, tmp: ae.load(V0_1_VAE, device="tpu"), "unknown device 'tpu'"),
    ],
)
def test_bad_calls_get_one_clear_error(model, tmp_path, call, message):
    (tmp_path / "afile").write_text("")
    with pytest.raises(AutoencodingError, match=message):
        call(model, tmp_path)
