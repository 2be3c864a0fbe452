"""Shared data for the estimator tests: small built-in tables with planted structure."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="session")
def wine_outliers() -> tuple[np.ndarray, np.ndarray]:
    """Protocol AD's wine set, seed 0: classes 0 and 1 (130 rows) + 10 rows of class 2."""
    b = load_wine()
    rng = np.random.default_rng(0)
    out = rng.choice(np.flatnonzero(b.target == 2), 10, replace=False)
    inl = np.flatnonzero(b.target < 2)
    x = StandardScaler().fit_transform(np.concatenate([b.data[inl], b.data[out]]))
    return x, np.r_[np.zeros(len(inl), int), np.ones(10, int)]


@pytest.fixture(scope="session")
def wine_missing() -> tuple[np.ndarray, np.ndarray]:
    """Standardized wine with 20% of the entries missing completely at random (seed 0)."""
    x = StandardScaler().fit_transform(load_wine().data)
    rng = np.random.default_rng(0)
    mask = rng.random(x.shape) < 0.2
    mask[mask.all(1), 0] = False
    return x, mask
