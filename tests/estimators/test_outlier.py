"""AutoencoderOutlierDetector: real detection, the scikit-learn / PyOD surface, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from autoencoding.estimators import AutoencoderOutlierDetector

FAST = {"epochs": 10, "n_estimators": 1}


def test_beats_random_on_planted_outliers(wine_outliers):
    x, y = wine_outliers
    # a whole other class as the outliers: the default, short-trained mean-shift scorer
    det = AutoencoderOutlierDetector(random_state=0).fit(x)
    assert det.epochs_ == 20
    assert roc_auc_score(y, det.decision_scores_) > 0.9
    hybrid = AutoencoderOutlierDetector(scoring="hybrid", random_state=0).fit(x)
    assert roc_auc_score(y, hybrid.decision_scores_) > 0.75
    # scikit-learn's convention: score_samples is high for inliers
    np.testing.assert_allclose(det.score_samples(x), -det.decision_scores_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "kw",
    [
        {"error": "apre"},
        {"error": "apre", "alpha": 1.0, "beta": 1.0, "mean_shift": None},
        {"mean_shift": 7, "mean_shift_steps": 1},
        {"recipe": "vae"},
        {"recipe": "dae", "latent_dim": 3, "hidden": [16]},
    ],
)
def test_options_detect_outliers(wine_outliers, kw):
    x, y = wine_outliers
    det = AutoencoderOutlierDetector(random_state=0, **{**FAST, **kw}).fit(x)
    assert roc_auc_score(y, det.decision_scores_) > 0.7


def test_predict_and_pyod_names(wine_outliers):
    x, _ = wine_outliers
    det = AutoencoderOutlierDetector(contamination=0.1, random_state=0, **FAST)
    labels = det.fit_predict(x)
    assert set(np.unique(labels)) == {-1, 1}
    assert abs((labels == -1).mean() - 0.1) < 0.02
    np.testing.assert_array_equal(det.labels_, (labels == -1).astype(int))
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.9), rel=1e-5)
    np.testing.assert_array_equal(det.predict(x), labels)
    np.testing.assert_array_equal(det.decision_function(x) < 0, labels == -1)
    assert det.predict(x[:3]).shape == (3,)


def test_same_seed_same_scores_and_no_global_rng(wine_outliers):
    x, _ = wine_outliers
    torch.manual_seed(123)
    np.random.seed(123)
    before_torch, before_np = torch.get_rng_state(), np.random.get_state()[1].copy()
    a = AutoencoderOutlierDetector(random_state=3, **FAST).fit(x).decision_scores_
    b = AutoencoderOutlierDetector(random_state=3, **FAST).fit(x).decision_scores_
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.get_rng_state(), before_torch)
    np.testing.assert_array_equal(np.random.get_state()[1], before_np)
    c = AutoencoderOutlierDetector(random_state=4, **FAST).fit(x).decision_scores_
    assert not np.array_equal(a, c)


def test_constant_column_is_fine(wine_outliers):
    x, y = wine_outliers
    x = np.c_[x, np.full(len(x), 7.0)]
    det = AutoencoderOutlierDetector(random_state=0, **FAST).fit(x)
    assert np.isfinite(det.decision_scores_).all()


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), "NaN"),
        (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 5, np.inf, x), "infinity"),
        (lambda x: x[:1], "minimum of 2"),
        (lambda x: x.astype(str).astype(object) + "a", "convert|numeric|string"),
    ],
    ids=["nan", "inf", "one-row", "non-numeric"],
)
def test_bad_fit_input(wine_outliers, bad, match):
    x, _ = wine_outliers
    with pytest.raises(ValueError, match=match):
        AutoencoderOutlierDetector(**FAST).fit(bad(x))


def test_wrong_feature_count_at_predict(wine_outliers):
    x, _ = wine_outliers
    det = AutoencoderOutlierDetector(random_state=0, **FAST).fit(x)
    with pytest.raises(ValueError, match="13 features"):
        det.predict(x[:, :5])
    with pytest.raises(ValueError, match="NaN"):
        det.score_samples(np.where(np.eye(len(x), x.shape[1]) > 0, np.nan, x))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"contamination": 0.0}, "contamination"),
        ({"contamination": 0.7}, "contamination"),
        ({"contamination": "auto"}, "contamination"),
        ({"error": "l1"}, "error"),
        ({"mean_shift": 0}, "mean_shift"),
        ({"n_estimators": 0}, "n_estimators"),
        ({"recipe": "nope"}, "unknown recipe"),
        ({"model": {"latent_dim": -1}}, "latent_dim"),
        ({"train": {"lr": -1}}, "lr"),
    ],
)
def test_bad_parameters(wine_outliers, kw, match):
    x, _ = wine_outliers
    with pytest.raises(ValueError, match=match):
        AutoencoderOutlierDetector(**{**FAST, **kw}).fit(x)


@pytest.mark.parametrize("recipe", ["vqvae", "fsq", "lorae"])
def test_recipes_with_their_own_code_size(wine_outliers, recipe):
    # the detector's small-code default yields to recipes that fix their code size
    x, _ = wine_outliers
    det = AutoencoderOutlierDetector(recipe, epochs=3, n_estimators=1, random_state=0).fit(x)
    assert np.isfinite(det.decision_scores_).all()


def test_a_table_without_variance_flags_no_row():
    x = np.tile([[1.0, 2.0, 3.0]], (50, 1))
    det = AutoencoderOutlierDetector(random_state=0).fit(x)
    assert det.labels_.sum() == 0
    assert (det.predict(x) == 1).all()
