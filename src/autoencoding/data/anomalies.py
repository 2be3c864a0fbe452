"""Synthetic anomalies of four kinds for a table of normal rows, after ADBench.

Han et al., "ADBench: Anomaly Detection Benchmark" (NeurIPS 2022), §4.3, test how a detector
copes with the *kind* of anomaly by planting four synthetic types into real data::

    normal rows ─ GaussianMixture (components by BIC) ─┬─ covariances × α  ─▶ local
                                                       ├─ means × α        ─▶ clustered
                                                       └─ (its box)       ─▶ global
    normal rows ─ each column on its own ─ KDE sample ──────────────────────▶ dependency

- **local**: the GMM of the normal data with every covariance scaled by α (5 in the paper):
  anomalies sit around the normal modes but too far out for their mode's spread.
- **global**: each feature uniform over the normal data's range scaled by α_g (1.1 in the paper;
  on centred columns this enlarges the box by 10% on both sides).
- **dependency**: every feature drawn independently from a 1-d Gaussian KDE of its normal
  marginal, so each value is typical but the joint (correlations, modes) is broken. ADBench fits
  a vine copula for the normal rows and KDEs for the anomalies; the independent-marginal KDE is
  the same anomaly model (Silverman bandwidth per column here, not a fixed 0.5).
- **clustered**: the GMM with its means scaled by α (5) and the same covariances: a compact
  group away from the data.

One deviation from ADBench, on purpose: the normal rows are the real rows, not draws from the
fitted GMM / copula, so the detector must model real data, and only the anomalies are synthetic.
Everything here works in the units of ``x``; pass centred (standardized) columns, as the scaling
of means and ranges by α is about the origin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

KINDS = ("local", "global", "dependency", "clustered")


def _gmm(x: np.ndarray, seed: int, max_components: int):
    """The full-covariance GaussianMixture of ``x`` with the BIC-best number of components."""
    from sklearn.mixture import GaussianMixture

    best, best_bic = None, np.inf
    for k in range(1, max_components + 1):
        if k * 2 > len(x):
            break
        gm = GaussianMixture(k, covariance_type="full", reg_covar=1e-3, random_state=seed).fit(x)
        bic = gm.bic(x)
        if bic < best_bic:
            best, best_bic = gm, bic
    return best


def synthetic_anomalies(
    x: np.ndarray,
    kind: str,
    n: int,
    random_state: Any = None,
    *,
    alpha: float = 5.0,
    alpha_global: float = 1.1,
    max_components: int = 9,
) -> np.ndarray:
    """``n`` synthetic anomalies of ``kind`` (one of :data:`KINDS`) for the normal rows ``x``.

    ``alpha`` scales the GMM covariances (local) or means (clustered); ``alpha_global`` the
    bounding box (global). The GMM uses 1..``max_components`` components, chosen by BIC as in
    ADBench, with ``reg_covar=1e-3`` so constant columns (digits' border pixels) stay finite.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown anomaly kind {kind!r}; known: {', '.join(KINDS)}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"x must be a 2-D table with at least 2 rows, got shape {x.shape}")
    rng = check_random_state(random_state)
    if kind == "global":
        lo, hi = alpha_global * x.min(0), alpha_global * x.max(0)
        return rng.uniform(np.minimum(lo, hi), np.maximum(lo, hi), size=(n, x.shape[1]))
    if kind == "dependency":
        std = x.std(0)
        # Silverman's rule of thumb per column: a smooth bootstrap of each marginal on its own
        bw = 1.06 * std * len(x) ** (-1 / 5)
        rows = rng.randint(0, len(x), size=(n, x.shape[1]))
        return x[rows, np.arange(x.shape[1])] + rng.standard_normal((n, x.shape[1])) * bw
    gm = _gmm(x, int(rng.randint(0, 2**31 - 1)), max_components)
    if kind == "local":
        gm.covariances_ = alpha * gm.covariances_
    else:
        gm.means_ = alpha * gm.means_
    gm.random_state = int(rng.randint(0, 2**31 - 1))
    out, _ = gm.sample(n)
    return out[rng.permutation(n)]  # gm.sample orders rows by component
