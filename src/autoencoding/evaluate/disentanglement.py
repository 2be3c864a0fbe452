"""Disentanglement metrics against known factors of variation: MIG and DCI.

Inputs are plain arrays: latents ``z`` (n, latents), e.g. ``model.encode(x)`` (posterior
means for VAEs), and discrete factor values ``factors`` (n, factors), e.g.
``load_data("synthetic:factors").meta["factors"]``::

    from autoencoding.evaluate.disentanglement import disentanglement_metrics
    disentanglement_metrics(model.encode(x), factors)   # {"mig": ..., "dci_disentanglement": ...}
"""

from __future__ import annotations

import numpy as np

from ..errors import AutoencodingError

#: equal-width bins per latent for the mutual-information estimates (Chen et al. use 20)
BINS = 20


def _check(z: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z, factors = np.asarray(z, dtype=np.float64), np.asarray(factors)
    if z.ndim != 2 or factors.ndim != 2 or len(z) != len(factors) or len(z) < 2:
        raise AutoencodingError(
            f"disentanglement: expected latents (n, latents) and factors (n, factors) with the "
            f"same n >= 2, got shapes {z.shape} and {factors.shape}"
        )
    if not np.isfinite(z).all():
        raise AutoencodingError("disentanglement: the latents hold NaN or inf")
    return z, factors


def discretize(z: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Each column of ``z`` binned into ``bins`` equal-width bins over its range (a constant
    column becomes one bin)."""
    out = np.zeros(z.shape, dtype=np.int64)
    for j in range(z.shape[1]):
        lo, hi = z[:, j].min(), z[:, j].max()
        if hi > lo:
            out[:, j] = np.digitize(z[:, j], np.linspace(lo, hi, bins + 1)[1:-1])
    return out


def _entropy(labels: np.ndarray) -> float:
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_information(z: np.ndarray, factors: np.ndarray, bins: int = BINS) -> np.ndarray:
    """MI in nats between each binned latent and each factor, shaped (latents, factors)."""
    from sklearn.metrics import mutual_info_score

    z, factors = _check(z, factors)
    binned = discretize(z, bins)
    return np.array(
        [
            [mutual_info_score(factors[:, k], binned[:, j]) for k in range(factors.shape[1])]
            for j in range(z.shape[1])
        ]
    )


def mig(z: np.ndarray, factors: np.ndarray, bins: int = BINS) -> float:
    """Mutual information gap (Chen, Li, Grosse & Duvenaud, "Isolating Sources of
    Disentanglement in Variational Autoencoders", NeurIPS 2018).

    For each factor v_k, the gap between the two latents that share the most information
    with it, normalised by its entropy, averaged over factors::

        MIG = 1/K Σ_k (I(z_(1); v_k) − I(z_(2); v_k)) / H(v_k)

    1 when each factor is captured by one latent alone; near 0 when a factor is spread over
    several latents (a rotation of a perfect code) or captured by none. Latents are binned
    into ``bins`` equal-width bins to estimate the MI.
    """
    z, factors = _check(z, factors)
    if z.shape[1] < 2:
        raise AutoencodingError("mig: needs at least 2 latents (the gap of the top two)")
    mi = mutual_information(z, factors, bins)
    gaps = []
    for k in range(factors.shape[1]):
        h = _entropy(factors[:, k])
        top = np.sort(mi[:, k])[::-1]
        gaps.append((top[0] - top[1]) / h if h > 0 else 0.0)
    return float(np.mean(gaps))


def importance_matrix(
    z: np.ndarray, factors: np.ndarray, random_state: int = 0, test_fraction: float = 0.3
) -> tuple[np.ndarray, float]:
    """Relative importance R (latents, factors) of each latent for predicting each factor,
    from one random forest per factor (impurity importances), and the mean test accuracy of
    those forests (DCI's informativeness)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    z, factors = _check(z, factors)
    r = np.zeros((z.shape[1], factors.shape[1]))
    acc = []
    for k in range(factors.shape[1]):
        ztr, zte, ytr, yte = train_test_split(
            z, factors[:, k], test_size=test_fraction, random_state=random_state
        )
        forest = RandomForestClassifier(
            n_estimators=50, max_depth=8, max_features=None, random_state=random_state, n_jobs=1
        ).fit(ztr, ytr)
        r[:, k] = forest.feature_importances_
        acc.append(forest.score(zte, yte))
    return r, float(np.mean(acc))


def _normalized_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of ``p`` (rows sum to 1) in log base ``base``."""
    q = np.clip(p, 1e-12, None)
    return -(p * np.log(q)).sum(-1) / np.log(base)


def dci(z: np.ndarray, factors: np.ndarray, random_state: int = 0) -> dict[str, float]:
    """DCI disentanglement, completeness and informativeness (Eastwood & Williams, "A
    Framework for the Quantitative Evaluation of Disentangled Representations", ICLR 2018),
    with the paper's random-forest importances.

    From the importance matrix R (latents × factors)::

        D_i = 1 − H_K(R_i· / Σ_k R_ik)      latent i predicts one factor only
        D   = Σ_i ρ_i D_i,  ρ_i = Σ_k R_ik / Σ R      (weighted by each latent's relevance)
        C_k = 1 − H_L(R_·k / Σ_i R_ik)      factor k is predicted by one latent only
        I   = mean test accuracy of the factor predictors

    (H_K: entropy in base K factors, H_L in base L latents.) Returns
    ``dci_disentanglement``, ``dci_completeness`` and ``dci_informativeness``.
    """
    r, acc = importance_matrix(z, factors, random_state)
    n_lat, n_fac = r.shape
    total = r.sum()
    if total <= 0:
        return {"dci_disentanglement": 0.0, "dci_completeness": 0.0, "dci_informativeness": acc}
    row = r.sum(1)
    live = row > 0
    d_i = 1.0 - _normalized_entropy(r[live] / row[live, None], n_fac) if n_fac > 1 else 1.0
    disentanglement = float(np.sum(row[live] / total * d_i))
    col = r.sum(0)
    c_k = 1.0 - _normalized_entropy((r / np.where(col > 0, col, 1.0)).T, n_lat)
    return {
        "dci_disentanglement": disentanglement,
        "dci_completeness": float(np.mean(c_k)) if n_lat > 1 else 1.0,
        "dci_informativeness": acc,
    }


def disentanglement_metrics(
    z: np.ndarray, factors: np.ndarray, random_state: int = 0
) -> dict[str, float]:
    """MIG and the three DCI scores of latents ``z`` against known ``factors``."""
    return {"mig": mig(z, factors), **dci(z, factors, random_state)}
