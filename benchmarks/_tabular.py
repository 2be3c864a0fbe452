"""Protocols AD and IMP (shared/BENCHMARKS.md): data, the shared metric functions, timing.

Needs only numpy and scikit-learn, so the anchor runners in ``anchors/`` can import it inside
their own virtual environments too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

AD_SETS = ("cancer", "wine", "digits")
IMP_SETS = ("cancer", "wine", "diabetes")
IMP_RATES = (0.2, 0.5)
SEEDS = (0, 1, 2, 3, 4)


def ad_data(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(X standardized, labels with outlier = 1) for protocol AD, dataset ``name``, seed ``seed``.

    cancer: benign rows of load_breast_cancer (357) + 36 malignant; wine: classes 0, 1 (130) +
    10 of class 2; digits: classes 1-9 + 80 of class 0. Outliers are drawn with
    ``np.random.default_rng(seed).choice(..., replace=False)``; StandardScaler on that X.
    """
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    if name == "cancer":
        b = load_breast_cancer()
        inliers, pool, n_out = np.flatnonzero(b.target == 1), np.flatnonzero(b.target == 0), 36
    elif name == "wine":
        b = load_wine()
        inliers, pool, n_out = np.flatnonzero(b.target < 2), np.flatnonzero(b.target == 2), 10
    elif name == "digits":
        b = load_digits()
        inliers, pool, n_out = np.flatnonzero(b.target > 0), np.flatnonzero(b.target == 0), 80
    else:
        raise ValueError(f"unknown AD dataset {name!r}; known: {AD_SETS}")
    outliers = rng.choice(pool, n_out, replace=False)
    x = np.concatenate([b.data[inliers], b.data[outliers]]).astype(np.float64)
    y = np.r_[np.zeros(len(inliers), int), np.ones(n_out, int)]
    return StandardScaler().fit_transform(x), y


def ad_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """The one AD metric function: ROC-AUC and average precision, outlier = positive,
    scores high = outlier."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("non-finite outlier scores")
    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "ap": float(average_precision_score(labels, scores)),
    }


def imp_data(name: str, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(X complete and standardized, mask with missing = True) for protocol IMP.

    Each entry is missing with probability ``rate`` from ``np.random.default_rng(seed)``; a row
    left with no observed entry is re-drawn.
    """
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
    from sklearn.preprocessing import StandardScaler

    loaders = {"cancer": load_breast_cancer, "wine": load_wine, "diabetes": load_diabetes}
    if name not in loaders:
        raise ValueError(f"unknown IMP dataset {name!r}; known: {IMP_SETS}")
    x = StandardScaler().fit_transform(loaders[name]().data.astype(np.float64))
    rng = np.random.default_rng(seed)
    mask = rng.random(x.shape) < rate
    for i in range(len(x)):
        while mask[i].all():
            mask[i] = rng.random(x.shape[1]) < rate
    return x, mask


def imp_rmse(x: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> float:
    """The one IMP metric function: RMSE on the masked entries (standardized space)."""
    filled = np.asarray(filled, dtype=np.float64)
    if filled.shape != x.shape or not np.isfinite(filled).all():
        raise ValueError("imputed table has the wrong shape or non-finite values")
    return float(np.sqrt(np.mean((filled[mask] - x[mask]) ** 2)))


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0
