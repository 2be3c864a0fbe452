"""Probes on frozen features (issue 12): linear and k-NN, label-scarce selection."""

import numpy as np
import pytest

from autoencoding.errors import AutoencodingError
from autoencoding.evaluate import knn_probe, labels_per_class, probe_report


def _blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    centres = np.eye(4, 8) * 6.0
    return centres[y] + rng.normal(size=(n, 8)), y


def test_labels_per_class_picks_exactly_k_per_class_seeded():
    y = np.repeat(np.arange(5), [30, 12, 40, 10, 25])
    idx = labels_per_class(y, 10, seed=3)
    assert np.array_equal(np.bincount(y[idx]), [10] * 5)
    assert len(np.unique(idx)) == 50
    assert np.array_equal(idx, labels_per_class(y, 10, seed=3))
    assert not np.array_equal(idx, labels_per_class(y, 10, seed=4))


def test_labels_per_class_too_few_rows_is_a_clear_error():
    with pytest.raises(AutoencodingError, match="class 1 has 3 labelled rows; 5 per class"):
        labels_per_class(np.array([0] * 9 + [1] * 3), 5)


def test_probes_on_separable_features_beat_chance_clearly():
    ztr, ytr = _blobs(400, 0)
    zte, yte = _blobs(200, 1)
    r = probe_report(ztr, ytr, zte, yte, per_class=5, k=3)
    assert set(r) == {"linear", "knn", "linear_5pc", "knn_5pc"}
    assert min(r.values()) > 0.9  # chance is 0.25
    noise = np.random.default_rng(2).normal(size=ztr.shape)
    assert knn_probe(noise, ytr, zte, yte) < 0.45


def test_token_features_are_flattened_and_bad_shapes_rejected():
    ztr, ytr = _blobs(200, 0)
    zte, yte = _blobs(100, 1)
    r = probe_report(ztr.reshape(-1, 2, 4), ytr, zte.reshape(-1, 2, 4), yte, per_class=0)
    assert set(r) == {"linear", "knn"} and r["linear"] > 0.9
    with pytest.raises(AutoencodingError, match="differ in length"):
        probe_report(ztr, ytr[:-1], zte, yte)
    with pytest.raises(AutoencodingError, match="expected features shaped"):
        knn_probe(ytr, ytr, zte, yte)
