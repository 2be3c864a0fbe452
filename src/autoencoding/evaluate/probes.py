"""Probes on frozen features: how much of the label a representation exposes.

The standard read-out of self-supervised representations (MAE, He et al. 2022, §4 "linear
probing"; k-NN monitoring as in Wu et al. 2018 / DINO, Caron et al. 2021): freeze the
encoder, fit a simple classifier on its features, report test accuracy. A label-scarce
setting (``per_class`` labelled rows per class, a seeded choice) measures what the features
give when labels are few, which is where pretraining is supposed to pay off.

::

    x ─ frozen encoder ─▶ z (pooled / flattened to (n, d)) ─ standardise ─┬▶ logistic  → acc
                                                                          └▶ k-NN (cos) → acc

The logistic probe is ``metrics.linear_probe`` (the GEN protocols' probe), reused here.
"""

from __future__ import annotations

import numpy as np

from ..errors import AutoencodingError
from .metrics import linear_probe


def _as_features(z: np.ndarray, name: str) -> np.ndarray:
    z = np.asarray(z)
    if z.ndim < 2:
        raise AutoencodingError(f"{name}: expected features shaped (n, ...), got shape {z.shape}")
    # token (n, N, D) or spatial latents: flatten per sample so one row is one sample
    return z.reshape(len(z), -1).astype(np.float64, copy=False)


def labels_per_class(y: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of exactly ``per_class`` rows of each class, drawn with ``seed``.

    Raises a clear error when a class has fewer rows than asked."""
    y = np.asarray(y)
    if per_class < 1:
        raise AutoencodingError(f"per_class must be >= 1, got {per_class}")
    rng = np.random.default_rng(seed)
    rows = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < per_class:
            raise AutoencodingError(
                f"class {np.asarray(c).item()} has {len(idx)} labelled rows; "
                f"{per_class} per class were asked"
            )
        rows.append(rng.choice(idx, per_class, replace=False))
    return np.sort(np.concatenate(rows))


def knn_probe(
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_test: np.ndarray,
    y_test: np.ndarray,
    k: int = 5,
) -> float:
    """Test accuracy of a k-nearest-neighbour vote (cosine on standardised features).

    Standardising first (train statistics) keeps one large-scale dimension from deciding
    every distance; cosine rather than Euclidean follows the k-NN monitors of SSL papers."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    ztr, zte = _as_features(z_train, "z_train"), _as_features(z_test, "z_test")
    k = min(k, len(ztr))
    with threadpool_limits(limits=1, user_api="blas"):
        clf = make_pipeline(StandardScaler(), KNeighborsClassifier(k, metric="cosine"))
        clf.fit(ztr, y_train)
        return float(clf.score(zte, y_test))


def probe_report(
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_test: np.ndarray,
    y_test: np.ndarray,
    per_class: int = 10,
    k: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """Linear and k-NN probes with every training label and with ``per_class`` per class.

    Keys: ``linear``, ``knn``, ``linear_{per_class}pc``, ``knn_{per_class}pc`` (the
    label-scarce ones only when every class has that many training rows)."""
    ztr, zte = _as_features(z_train, "z_train"), _as_features(z_test, "z_test")
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if len(ztr) != len(y_train) or len(zte) != len(y_test):
        raise AutoencodingError(
            f"features and labels differ in length: train {len(ztr)} vs {len(y_train)}, "
            f"test {len(zte)} vs {len(y_test)}"
        )
    out = {
        "linear": linear_probe(ztr, y_train, zte, y_test, seed),
        "knn": knn_probe(ztr, y_train, zte, y_test, k),
    }
    counts = np.unique(y_train, return_counts=True)[1]
    if per_class and counts.min() >= per_class and len(ztr) > per_class * len(counts):
        few = labels_per_class(y_train, per_class, seed)
        out[f"linear_{per_class}pc"] = linear_probe(ztr[few], y_train[few], zte, y_test, seed)
        out[f"knn_{per_class}pc"] = knn_probe(ztr[few], y_train[few], zte, y_test, k)
    return out
