"""Sample-quality figures (evaluate/samples.py): each can fail when its figure is wrong."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from autoencoding.errors import AutoencodingError
from autoencoding.evaluate.samples import (
    FeatureSpace,
    class_coverage,
    copy_ratio,
    frechet_distance,
    nearest_training_grid,
    precision_recall,
    sample_quality,
)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.data / 16.0
    return train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)


@pytest.fixture(scope="module")
def space(digits):
    xtr, _, ytr, _ = digits
    with threadpool_limits(1):
        return FeatureSpace.fit(xtr, ytr)


def test_frechet_distance_zero_on_itself_and_grows_with_a_mean_shift():
    x = np.random.default_rng(0).normal(size=(500, 6)) @ np.diag([3, 1, 1, 0.5, 0.1, 0])
    assert abs(frechet_distance(x, x)) < 1e-8  # the zero column makes Σ singular
    shifts = [frechet_distance(x, x + d) for d in (0.5, 1.0, 2.0)]
    # a shift d of every one of 6 coordinates adds exactly 6 d² (covariances unchanged)
    np.testing.assert_allclose(shifts, [6 * 0.25, 6 * 1.0, 6 * 4.0], rtol=1e-8)


def test_frechet_distance_of_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(200_000, 2)) * [1.0, 2.0]
    b = rng.normal(size=(200_000, 2)) * [2.0, 2.0]
    # diagonal covariances: Σ (σa − σb)² = 1
    assert frechet_distance(a, b) == pytest.approx(1.0, abs=0.03)
    with pytest.raises(AutoencodingError, match="same space"):
        frechet_distance(a, b[:, :1])


def test_precision_recall_of_data_against_itself_and_of_noise():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 5))
    p, r = precision_recall(real, real.copy())
    assert p == r == 1.0
    far = rng.normal(size=(900, 5)) + 10.0
    assert precision_recall(real, far) == (0.0, 0.0)
    # half of the fakes on the data, half far away: precision ≈ 0.5 over the subsets
    mixed = np.concatenate([rng.normal(size=(450, 5)), far[:450]])
    p, _ = precision_recall(real, mixed, subsets=10, seed=0)
    assert 0.35 < p < 0.65


def test_class_coverage_counts_classes_over_five_percent():
    assert class_coverage(np.full(100, 3)) == 1
    assert class_coverage(np.r_[np.zeros(96), np.ones(4)]) == 1  # 4% is not covered
    assert class_coverage(np.arange(1000) % 10) == 10


def test_digits_figures_in_the_classifier_space(digits, space):
    xtr, xte, ytr, yte = digits
    assert space.name == "classifier-tanh64"
    assert space(xte).shape == (len(xte), 64)
    assert (space.classes(xte) == yte).mean() > 0.95  # the fixed classifier is a good one
    with threadpool_limits(1):
        held = sample_quality(xte, xtr, xte, ytr, features=space)
        data = sample_quality(xtr[:1000], xtr, xte, ytr, features=space)
        noise = sample_quality(np.random.default_rng(0).random((1000, 64)), xtr, xte, ytr)
        ones = sample_quality(xtr[ytr == 1], xtr, xte, ytr, features=space)
    assert held["fd"] < 1e-8 and held["precision"] == held["recall"] == 1.0
    assert held["copy_ratio"] == pytest.approx(1.0)
    assert data["copy_ratio"] == 0.0  # training images are copies of themselves
    assert data["fd"] < 0.15 and data["precision"] > 0.85 and data["recall"] > 0.85
    assert data["class_coverage"] == 10
    assert noise["fd"] > 20 * data["fd"] and noise["recall"] < 0.2
    assert ones["class_coverage"] == 1 and ones["recall"] < 0.3
    assert noise["feature_space"] == "classifier-tanh64"


def test_unlabelled_data_uses_the_pixel_space(digits):
    xtr, xte, _, _ = digits
    q = sample_quality(xtr[:500], xtr, xte)
    assert q["feature_space"] == "pixels" and q["class_coverage"] is None
    assert q["fd"] == q["fd_pixels"]
    wide = np.random.default_rng(0).random((200, 100))
    assert FeatureSpace.fit(wide).name == "pixels-pca64"
    assert FeatureSpace.fit(wide)(wide).shape == (200, 64)


def test_samples_are_clipped_to_the_data_range(digits, space):
    xtr, xte, ytr, _ = digits
    over = np.clip(xte * 3 - 1, -5, 5)  # far outside [0, 1] before clipping
    a = sample_quality(over, xtr, xte, ytr, features=space)
    b = sample_quality(np.clip(over, 0, 1), xtr, xte, ytr, features=space)
    assert a == b


def test_copy_ratio_refuses_test_rows_that_are_training_rows():
    x = np.random.default_rng(0).random((50, 4))
    with pytest.raises(AutoencodingError, match="copies"):
        copy_ratio(x, x, x)


def test_nearest_training_grid_writes_a_png(tmp_path, digits, space):
    xtr = digits[0]
    path = nearest_training_grid(xtr[:5].reshape(-1, 1, 8, 8), xtr.reshape(-1, 1, 8, 8),
                                 tmp_path / "g.png", features=space)  # fmt: skip
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
