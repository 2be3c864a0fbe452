"""Sample quality: how good are a generative model's samples, measured without the model.

Every figure compares a set of generated samples with held-out data in a fixed feature
space, so models of any family (and other libraries' models) are scored the same way:

- ``fd``: Fréchet distance between Gaussians fitted to sample and test features (Heusel et
  al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
  NeurIPS 2017 — FID with Inception features; here a small classifier's features), and
  ``fd_pixels`` on the raw entries;
- ``precision`` / ``recall``: Kynkäänniemi et al., "Improved Precision and Recall Metric for
  Assessing Generative Models" (NeurIPS 2019). FD mixes fidelity and diversity into one
  number; these separate them: precision is the share of samples that fall on the data's
  manifold, recall the share of data that falls on the samples' manifold, each manifold a
  union of k-NN balls;
- ``class_coverage``: how many classes receive at least 5% of the samples (mode dropping);
- ``copy_ratio``: median feature distance from a sample to its nearest training image ÷ the
  same for test images. A model can win FD by decoding its training images back (an
  autoencoder with an over-fitted latent sampler does: Ghosh et al., "From Variational to
  Deterministic Autoencoders", ICLR 2020, fit a GMM to the training codes); well below 1
  means the samples sit closer to the training set than fresh data does.

The feature space (:class:`FeatureSpace`) is, for labelled data, the 64-unit tanh hidden
layer of a fixed scikit-learn ``MLPClassifier`` fitted on the training split (the settings of
protocol GEN-SAMPLES, shared/BENCHMARKS.md; about 5 s on digits, cached in-process), and for
unlabelled data the model-free pixel space (PCA to 64 dimensions when wider). The figures
name the space they used.

    from autoencoding.evaluate.samples import sample_quality
    q = sample_quality(model.sample(1000), x_train, x_test, y_train)   # {"fd": ..., ...}
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutoencodingError

#: samples drawn for the figures (protocol GEN-SAMPLES)
N_SAMPLES = 1000
#: a class counts as covered when it receives at least this share of the samples
COVERAGE_SHARE = 0.05
#: the fixed classifier whose hidden layer is the feature space (protocol GEN-SAMPLES)
CLASSIFIER = dict(
    hidden_layer_sizes=(64,),
    activation="tanh",
    alpha=1,
    solver="lbfgs",
    max_iter=5000,
    tol=1e-6,
    random_state=0,
)
#: width of the model-free space for unlabelled data (PCA beyond it)
PCA_DIM = 64
#: at most this many rows fit the feature space and serve as test references (k-NN radii
#: cost n² memory); digits (1437 / 360) is far below it
MAX_ROWS = 5000


def _flat64(x: Any, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim < 2 or len(a) < 2:
        raise AutoencodingError(f"{what}: expected at least 2 rows of samples, got shape {a.shape}")
    a = a.reshape(len(a), -1)
    if not np.isfinite(a).all():
        raise AutoencodingError(f"{what}: contains NaN or infinite values")
    return a


# -- the figures ---------------------------------------------------------------------------
def frechet_distance(a: Any, b: Any) -> float:
    """Fréchet distance between Gaussians fitted to the rows of ``a`` and ``b`` (Heusel et
    al. 2017): ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa Σb)^½).

    The trace of (Σa Σb)^½ is taken as Σ √λ over the eigenvalues of the symmetric PSD
    matrix Σa^½ Σb Σa^½, which has the same spectrum as Σa Σb. Unlike ``sqrtm(Σa Σb)`` this
    stays real (tiny negative eigenvalues from rounding are clipped to zero) and needs no
    offset on singular covariances, e.g. pixels that are always 0."""
    a, b = _flat64(a, "frechet_distance a"), _flat64(b, "frechet_distance b")
    if a.shape[1] != b.shape[1]:
        raise AutoencodingError(
            f"frechet_distance: {a.shape[1]} features against {b.shape[1]}; give the same space"
        )
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(sa)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    lam = np.linalg.eigvalsh(root_a @ sb @ root_a)
    tr_cross = np.sqrt(np.clip(lam, 0, None)).sum()
    return float(max(mu @ mu + np.trace(sa) + np.trace(sb) - 2 * tr_cross, 0.0))


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest other row."""
    from sklearn.metrics import pairwise_distances

    d = pairwise_distances(x)
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def _coverage(manifold: np.ndarray, radii: np.ndarray, probe: np.ndarray) -> float:
    """Share of ``probe`` rows inside at least one ball (centre ``manifold``, radius ``radii``)."""
    from sklearn.metrics import pairwise_distances

    d = pairwise_distances(probe, manifold)
    return float((d <= radii[None, :]).any(1).mean())


def precision_recall(
    real: Any, fake: Any, k: int = 3, subsets: int = 10, seed: int = 0
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019), in the space given.

    Each set's manifold is the union of balls around its points, each reaching its k-th
    nearest neighbour in the same set. Precision: share of ``fake`` inside the real manifold
    (are samples realistic?); recall: share of ``real`` inside the fake manifold (is all of
    the data produced?). Both depend on the set sizes, so when there are more fakes than
    reals the figures are the mean over ``subsets`` random subsets of ``len(real)`` fakes
    (drawn with ``seed``)."""
    real, fake = _flat64(real, "precision_recall real"), _flat64(fake, "precision_recall fake")
    if real.shape[1] != fake.shape[1]:
        raise AutoencodingError("precision_recall: real and fake must share the feature space")
    if not 1 <= k < min(len(real), len(fake)):
        raise AutoencodingError(f"precision_recall: k must be in [1, {min(len(real), len(fake))})")
    r_real = _kth_radius(real, k)
    n = min(len(real), len(fake))
    rng = np.random.default_rng(seed)
    draws = subsets if len(fake) > n else 1
    p, r = [], []
    for _ in range(draws):
        f = fake[rng.choice(len(fake), n, replace=False)] if len(fake) > n else fake
        p.append(_coverage(real, r_real, f))
        r.append(_coverage(f, _kth_radius(f, k), real))
    return float(np.mean(p)), float(np.mean(r))


def class_coverage(labels: Any, share: float = COVERAGE_SHARE) -> int:
    """Classes that receive at least ``share`` of the (predicted) sample labels."""
    labels = np.asarray(labels).ravel()
    if not len(labels):
        return 0
    _, counts = np.unique(labels, return_counts=True)
    return int((counts >= share * len(labels)).sum())


def _nearest_distance(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=1).fit(ref).kneighbors(x)[0][:, 0]


def copy_ratio(samples: Any, train: Any, test: Any) -> float:
    """Median distance from a sample to its nearest training row ÷ the same for test rows.

    About 1: samples are as far from the training set as fresh data; well below 1: they copy
    (or nearly copy) training rows. Give all three in the same (feature) space."""
    s, tr, te = (_flat64(v, w) for v, w in ((samples, "samples"), (train, "train"), (test, "test")))
    ref = np.median(_nearest_distance(te, tr))
    if ref <= 0:
        raise AutoencodingError("copy_ratio: the test rows are copies of training rows")
    return float(np.median(_nearest_distance(s, tr)) / ref)


# -- the feature space ---------------------------------------------------------------------
_CLASSIFIERS: dict[str, Any] = {}  # fitted classifiers by a hash of their training data


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass
class FeatureSpace:
    """A fixed map from flat samples to features, fitted on the training split only.

    ``classifier``: the 64-unit tanh hidden layer of ``MLPClassifier(**CLASSIFIER)`` fitted
    on (x_train, y_train), and its predictions give the classes; ``pixels``: the entries
    themselves (PCA to :data:`PCA_DIM` dimensions when there are more), for unlabelled data.
    """

    name: str
    """What the features are: ``classifier-tanh64``, ``pixels`` or ``pixels-pca64``."""
    model: Any
    """The fitted classifier or PCA (None for raw pixels)."""

    @classmethod
    def fit(cls, x_train: Any, y_train: Any = None) -> FeatureSpace:
        """The classifier space when ``y_train`` holds class labels, else the pixel space.
        A classifier fitted on the same data earlier in this process is reused."""
        x = _flat64(x_train, "FeatureSpace x_train")
        if y_train is not None and np.asarray(y_train).dtype.kind in "iub":
            y = np.asarray(y_train).ravel()
            if len(y) != len(x):
                raise AutoencodingError(f"FeatureSpace: {len(x)} rows but {len(y)} labels")
            if len(x) > MAX_ROWS:
                keep = np.random.default_rng(0).choice(len(x), MAX_ROWS, replace=False)
                x, y = x[keep], y[keep]
            key = _digest(x, y)
            if key not in _CLASSIFIERS:
                from sklearn.neural_network import MLPClassifier

                _CLASSIFIERS[key] = MLPClassifier(**CLASSIFIER).fit(x, y)
            return cls("classifier-tanh64", _CLASSIFIERS[key])
        if x.shape[1] <= PCA_DIM:
            return cls("pixels", None)
        from sklearn.decomposition import PCA

        dim = min(PCA_DIM, len(x) - 1)
        return cls(f"pixels-pca{dim}", PCA(dim, random_state=0).fit(x))

    def __call__(self, x: Any) -> np.ndarray:
        x = _flat64(x, "FeatureSpace input")
        if self.model is None:
            return x
        if self.name.startswith("pixels-pca"):
            return self.model.transform(x)
        return np.tanh(x @ self.model.coefs_[0] + self.model.intercepts_[0])

    def classes(self, x: Any) -> np.ndarray | None:
        """Predicted classes (None in a space without a classifier)."""
        if not self.name.startswith("classifier"):
            return None
        return self.model.predict(_flat64(x, "FeatureSpace input"))


def sample_quality(
    samples: Any,
    x_train: Any,
    x_test: Any,
    y_train: Any = None,
    *,
    features: FeatureSpace | None = None,
    value_range: tuple[float, float] | None = None,
    k: int = 3,
    subsets: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    """Every sample-quality figure of ``samples`` against ``x_test`` (see the module doc).

    Samples are first clipped to ``value_range`` (default: the training data's min and max),
    since a decoder's mean may overshoot the data's range. ``features`` defaults to
    ``FeatureSpace.fit(x_train, y_train)``. Returns fd, fd_pixels, precision, recall,
    copy_ratio, class_coverage (None without labels), n_samples and feature_space.
    """
    tr = _flat64(x_train, "sample_quality x_train")
    te = _flat64(x_test, "sample_quality x_test")
    s = _flat64(samples, "sample_quality samples")
    if not s.shape[1] == tr.shape[1] == te.shape[1]:
        raise AutoencodingError(
            f"sample_quality: samples, train and test have {s.shape[1]}, {tr.shape[1]} and "
            f"{te.shape[1]} entries per row"
        )
    lo, hi = value_range if value_range is not None else (tr.min(), tr.max())
    s = np.clip(s, lo, hi)
    fs = features if features is not None else FeatureSpace.fit(tr, y_train)
    if len(te) > MAX_ROWS:
        te = te[np.random.default_rng(seed).choice(len(te), MAX_ROWS, replace=False)]
    f_s, f_tr, f_te = fs(s), fs(tr), fs(te)
    precision, recall = precision_recall(f_te, f_s, k=k, subsets=subsets, seed=seed)
    labels = fs.classes(s)
    return {
        "fd": frechet_distance(f_s, f_te),
        "fd_pixels": frechet_distance(s, te),
        "precision": precision,
        "recall": recall,
        "copy_ratio": copy_ratio(f_s, f_tr, f_te),
        "class_coverage": None if labels is None else class_coverage(labels),
        "n_samples": int(len(s)),
        "feature_space": fs.name,
    }


def nearest_training_grid(
    samples: Any,
    x_train: Any,
    path: str | Path,
    features: FeatureSpace | None = None,
    n: int = 12,
    title: str | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> Path:
    """A PNG of the first ``n`` samples (top row) above their nearest training images in
    ``features`` (bottom row): a sample that matches its neighbour exactly is a copy.
    Samples and training images are (N, C, H, W) or (N, H, W) arrays; samples are clipped
    to ``value_range``, which is shown black to white."""
    from ..report import image_grid

    s, tr = np.asarray(samples), np.asarray(x_train)
    if s.ndim not in (3, 4) or s.shape[1:] != tr.shape[1:]:
        raise AutoencodingError(
            f"nearest_training_grid: expected image batches of one shape, got {s.shape} and "
            f"{tr.shape}"
        )
    lo, hi = value_range
    s = np.clip(s[:n], lo, hi)
    fs = features if features is not None else FeatureSpace.fit(tr.reshape(len(tr), -1))
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=1).fit(fs(tr)).kneighbors(fs(s))[1][:, 0]
    labels = ["samples", "nearest training image"]
    span = hi - lo if hi > lo else 1.0
    return image_grid(
        [(s - lo) / span, (tr[idx] - lo) / span],
        labels,
        Path(path),
        title=title or f"Samples above their nearest training images ({fs.name} space)",
    )


def evaluate_samples(
    module: Any,
    x: Any,
    x_train: Any,
    y_train: Any = None,
    out_dir: str | Path | None = None,
    n: int = N_SAMPLES,
    seed: int = 0,
) -> tuple[dict[str, Any], list[Path]]:
    """Sample quality of every way ``module`` (an :class:`~autoencoding.model.Autoencoder`)
    can sample — its ``prior`` and each fitted latent sampler — against ``x``, all in the
    model's scaled space; ``({}, [])`` for a model that cannot sample.

    Returns ``({sampler: figures}, figures written)``: with ``out_dir`` and image data, the
    default sampler's samples above their nearest training images, ``sample_neighbours.png``.
    """
    import inspect

    import torch

    from ..parts.samplers import PRIOR

    default = module.default_sampler()
    if default is None or None in module.input_shape:
        return {}, []  # cannot sample, or no fixed sample size to draw
    names = ([PRIOR] if module.bottleneck.generative else []) + list(module.samplers)
    keyword = "sampler" in inspect.signature(module.sample).parameters
    # the default first; a sample() without sampler= can only draw the default
    names = [default, *(s for s in names if s != default)] if keyword else [default]
    tr = np.asarray(torch.as_tensor(x_train).cpu(), dtype=np.float64)
    te = np.asarray(torch.as_tensor(x).cpu(), dtype=np.float64)
    if min(len(tr), len(te)) < 2 or not (np.isfinite(tr).all() and np.isfinite(te).all()):
        return {}, []  # data with missing entries (an imputer's) is not a sample reference
    fs = FeatureSpace.fit(tr.reshape(len(tr), -1), y_train)
    was = module.training
    module.eval()
    results: dict[str, Any] = {}
    drawn: dict[str, np.ndarray] = {}
    try:
        for name in names:
            g = torch.Generator(device=next(module.parameters()).device).manual_seed(seed)
            kw = {"sampler": name} if keyword else {}
            with torch.no_grad():
                drawn[name] = module.sample(n, generator=g, **kw).cpu().numpy()
            results[name] = sample_quality(drawn[name], tr, te, y_train, features=fs, seed=seed)
    finally:
        module.train(was)
    figures: list[Path] = []
    if out_dir is not None and tr.ndim == 4:
        path = Path(out_dir) / "sample_neighbours.png"
        title = f"Samples ({default}) above their nearest training images ({fs.name} space)"
        rng = (float(tr.min()), float(tr.max()))
        figures.append(nearest_training_grid(drawn[default], tr, path, fs, title=title,
                                             value_range=rng))  # fmt: skip
    return results, figures
