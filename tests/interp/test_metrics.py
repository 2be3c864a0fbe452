"""Feature-recovery metrics and the toy superposition generator."""

from __future__ import annotations

import pytest
import torch

import autoencoding as ae
from autoencoding.interp import ToySuperposition, feature_overlap, matched_cosine, mmcs


def test_toy_data_is_a_sparse_sum_of_unit_features():
    toy = ToySuperposition(d=16, n_features=64, p=0.05, seed=3)
    assert torch.allclose(toy.features.norm(dim=1), torch.ones(64))
    x, a = toy.sample(2000, seed=1)
    torch.testing.assert_close(x, a @ toy.features)
    assert abs(float((a > 0).float().mean()) - 0.05) < 0.005 and float(a.max()) <= 1
    torch.testing.assert_close(toy.data(10, seed=1), toy.data(10, seed=1))  # seeded
    with pytest.raises(ae.AutoencodingError, match="p must be in"):
        ToySuperposition(p=0)


def test_mmcs_matched_cosine_and_overlap():
    g = torch.Generator().manual_seed(0)
    true = torch.randn(20, 8, generator=g)
    perm = true[torch.randperm(20, generator=g)] * 3.0  # same directions, other order/scale
    assert mmcs(true, perm) == pytest.approx(1.0)
    assert matched_cosine(true, perm) == pytest.approx(1.0)
    assert feature_overlap(true, perm) == 1.0
    # one learned direction explaining two features: MMCS forgives it, the matching does not
    dup = torch.cat([true[:1], true[:1], true[2:]])
    assert mmcs(true, dup) > matched_cosine(true, dup)
    assert feature_overlap(true, torch.randn(20, 8, generator=g), threshold=0.99) == 0.0
    with pytest.raises(ae.AutoencodingError, match="expected directions shaped"):
        mmcs(true, torch.randn(5, 3))
