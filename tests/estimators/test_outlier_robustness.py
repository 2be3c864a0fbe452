"""AutoencoderOutlierDetector never misses the obvious (issue 15, item 5): a gross single-cell
outlier ranks first, each of ADBench's four synthetic anomaly kinds is found better than a
trivial baseline with ``scoring="hybrid"``, whose training length is counted in optimizer
steps."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from autoencoding.data.anomalies import KINDS, synthetic_anomalies
from autoencoding.estimators import AutoencoderOutlierDetector


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gross_single_cell_outlier_ranks_first(seed):
    # the case: 100 x 4 standard normal, one cell set to 12
    x = np.random.default_rng(0).standard_normal((100, 4))
    x[17, 2] = 12.0
    det = AutoencoderOutlierDetector(random_state=seed).fit(x)
    assert int(np.argmax(det.decision_scores_)) == 17
    # and a new row with a gross cell outranks every training row
    new = np.zeros((1, 4))
    new[0, 0] = -12.0
    assert det.score_samples(new)[0] < det.score_samples(x).min()


def test_default_training_length_is_counted_in_steps():
    x = np.random.default_rng(0).standard_normal((30, 3))
    det = AutoencoderOutlierDetector(
        scoring="hybrid", n_estimators=1, min_steps=300, random_state=0
    ).fit(x)
    # 30 rows fit in one batch: 300 steps need 300 epochs of one step each
    assert det.epochs_ == 300
    assert len(det.histories_[0]) == 300
    assert (
        AutoencoderOutlierDetector(scoring="hybrid", min_steps=300, batch_size=8)._n_epochs(30) * 4
        >= 300
    )
    assert AutoencoderOutlierDetector()._n_epochs(10_000) == 20  # mean-shift: 20 epochs
    assert AutoencoderOutlierDetector(epochs=5)._n_epochs(10_000) == 5


@pytest.fixture(scope="module")
def wine_normal() -> np.ndarray:
    return StandardScaler().fit_transform(load_wine().data)


@pytest.mark.parametrize("kind", KINDS)
def test_each_anomaly_kind_beats_a_trivial_baseline(wine_normal, kind):
    """Trivial baseline: the row's distance from the column means (its norm once standardized)."""
    a = synthetic_anomalies(wine_normal, kind, 9, random_state=0)
    x = StandardScaler().fit_transform(np.concatenate([wine_normal, a]))
    y = np.r_[np.zeros(len(wine_normal), int), np.ones(len(a), int)]
    det = AutoencoderOutlierDetector(
        scoring="hybrid", contamination=0.05, min_steps=500, random_state=0
    ).fit(x)
    ours = roc_auc_score(y, det.decision_scores_)
    baseline = roc_auc_score(y, np.linalg.norm(x, axis=1))
    assert ours > 0.85
    assert ours >= baseline - 0.01, (ours, baseline)


def test_synthetic_anomalies_shapes_and_seeding(wine_normal):
    for kind in KINDS:
        a = synthetic_anomalies(wine_normal, kind, 7, random_state=3)
        assert a.shape == (7, wine_normal.shape[1]) and np.isfinite(a).all()
        np.testing.assert_array_equal(a, synthetic_anomalies(wine_normal, kind, 7, random_state=3))
    with pytest.raises(ValueError, match="known: local"):
        synthetic_anomalies(wine_normal, "weird", 3)
