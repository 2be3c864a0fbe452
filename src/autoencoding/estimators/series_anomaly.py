"""Anomaly scores for a multivariate series from masked reconstruction error:
:class:`SeriesAnomalyDetector`.

    det = SeriesAnomalyDetector(random_state=0).fit(series)     # (T, C), mostly normal
    scores = det.score_series(series)                           # (T,), high = anomalous

A :class:`~autoencoding.estimators.TimeSeriesImputer` learns to fill hidden steps from their
context on the (mostly normal) series. To score, every window is shown to it ``phases``
times, each time with a different set of blocks of ``block`` steps hidden in every channel, so
each step is hidden exactly once per window and predicted from its neighbours only::

    window (C, L)      phase 0: ■■■■····■■■■···· ...   (■ hidden, · visible)
                       phase 1: ····■■■■····■■■■ ...
    score(t) = mean over channels |prediction(t) - x(t)| (z-units),
               averaged over the overlapping windows that contain t

Why hide before predicting: an autoencoder that sees a step reconstructs it whether it is
normal or not (it can copy); a masked model must predict it from normal context, so an
anomalous step is far from its prediction (the masked-reconstruction scores of e.g. Xu et al.,
"Anomaly Transformer", ICLR 2022, and masked-modelling TSAD methods).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .base import POSITIVE_INT, torch_threads
from .series_imputer import TimeSeriesImputer, _slide, check_series


class SeriesAnomalyDetector(BaseEstimator):
    """Score each time step of a multivariate series by its masked reconstruction error.

    Parameters
    ----------
    window : int, default=64
        Window length the model reads.
    block : int, default=4
        Steps hidden together; ``phases`` interleaved block patterns cover every step once.
    phases : int, default=2
        Mask patterns per window (each hides 1 / phases of the steps).
    contamination : float, default=0.05
        Share of training steps above ``threshold_`` (``labels_`` = 1).
    epochs : int, default=30
        Training epochs of the imputer.
    stride : int or None, default=None
        Training-window stride; None = window // 16 (one series gives few windows otherwise).
    imputer_params : dict or None
        Further :class:`TimeSeriesImputer` settings (width, depth, lr, ...).
    random_state : int, RandomState or None
        Seeds the imputer.
    n_jobs : int or None
        Torch threads; None = 1.
    """

    _parameter_constraints: dict = {
        "window": [Interval(Integral, 4, None, closed="left")],
        "block": [POSITIVE_INT],
        "phases": [Interval(Integral, 2, None, closed="left")],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "epochs": [POSITIVE_INT],
        "stride": [POSITIVE_INT, None],
        "imputer_params": [dict, None],
        "random_state": ["random_state"],
        "n_jobs": [Interval(Integral, None, -1, closed="right"), POSITIVE_INT, None],
    }

    def __init__(
        self,
        *,
        window: int = 64,
        block: int = 4,
        phases: int = 2,
        contamination: float = 0.05,
        epochs: int = 30,
        stride: int | None = None,
        imputer_params: dict[str, Any] | None = None,
        random_state: Any = None,
        n_jobs: int | None = None,
    ) -> None:
        self.window = window
        self.block = block
        self.phases = phases
        self.contamination = contamination
        self.epochs = epochs
        self.stride = stride
        self.imputer_params = imputer_params
        self.random_state = random_state
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> SeriesAnomalyDetector:
        """Train the masked model on the series X (T, C) and score its steps; returns self."""
        x = check_series(X)
        if x.ndim != 2:
            raise ValueError(f"X: expected one series shaped (time steps, channels), got {x.shape}")
        if np.isnan(x).any():
            raise ValueError("X contains NaN; fill it first (autoencoding impute --series)")
        if len(x) < self.window:
            raise ValueError(f"X has {len(x)} time steps, fewer than one window of {self.window}")
        self.imputer_ = TimeSeriesImputer(
            window=self.window,
            stride=self.stride or max(1, self.window // 16),
            epochs=self.epochs,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            **(self.imputer_params or {}),
        ).fit(x)
        self.n_features_in_ = x.shape[1]
        self.decision_scores_ = self.score_series(x)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def score_series(self, X: Any) -> np.ndarray:
        """One score per time step of X (T, C): masked reconstruction error (high = anomaly)."""
        check_is_fitted(self, "imputer_")
        x = check_series(X)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X: expected a series shaped (time steps, {self.n_features_in_}), got {x.shape}"
            )
        imp = self.imputer_
        z = (x - imp.center_) / imp.scale_
        length = min(self.window, len(z))
        starts = _slide(len(z), length, max(1, length // 4))
        wins = np.stack([z[s : s + length].T for s in starts])  # (n, C, L)
        t = np.arange(length)
        err = np.zeros((len(wins), length))
        with torch_threads(self.n_jobs):
            for phase in range(self.phases):
                hidden = (t // self.block) % self.phases == phase
                holes = wins.copy()
                holes[:, :, hidden] = np.nan
                pred = imp._predict_windows(holes)
                err[:, hidden] = np.abs(pred - wins)[:, :, hidden].mean(1)
        acc, hits = np.zeros(len(z)), np.zeros(len(z))
        for s, e in zip(starts, err, strict=True):
            acc[s : s + length] += e
            hits[s : s + length] += 1
        return acc / hits
