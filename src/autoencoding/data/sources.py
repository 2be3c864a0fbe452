"""Data sources: built-in sets, synthetic generators, arrays and files.

Every source becomes a :class:`Dataset` (float32 samples, optional labels) after one
validation pass at the door: empty data, NaN/inf and non-numeric columns are rejected with
a message that names the source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutoencodingError
from ..registry import Registry


@dataclass
class Dataset:
    x: np.ndarray
    """Samples, float32, shaped (n, *sample_shape)."""
    y: np.ndarray | None = None
    """Labels, when the source has them."""
    name: str = "array"
    feature_names: list[str] | None = None
    value_range: tuple[float, float] | None = None
    """Known natural range of the values (e.g. (0, 16) for digits pixels), used by scaling."""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.ndim == 4


#: .npy files above this size are memory-mapped instead of read into memory.
IN_MEMORY_BYTES = 2 << 30

DATASETS: Registry[Callable[[], Dataset]] = Registry("dataset")


def _sk(name: str):
    import sklearn.datasets as skd

    return getattr(skd, name)()


@DATASETS.register("digits")
def _digits() -> Dataset:
    """8×8 grey-level handwritten digits, 1797 images, 10 classes (scikit-learn)."""
    b = _sk("load_digits")
    return Dataset(
        b.images.astype(np.float32)[:, None], b.target, "digits", value_range=(0.0, 16.0)
    )


@DATASETS.register("breast_cancer")
def _cancer() -> Dataset:
    """Breast cancer Wisconsin table: 569 rows × 30 features, 2 classes (scikit-learn)."""
    b = _sk("load_breast_cancer")
    return Dataset(b.data.astype(np.float32), b.target, "breast_cancer", list(b.feature_names))


@DATASETS.register("wine")
def _wine() -> Dataset:
    """Wine recognition table: 178 rows × 13 features, 3 classes (scikit-learn)."""
    b = _sk("load_wine")
    return Dataset(b.data.astype(np.float32), b.target, "wine", list(b.feature_names))


@DATASETS.register("diabetes")
def _diabetes() -> Dataset:
    """Diabetes table: 442 rows × 10 features, regression target (scikit-learn)."""
    b = _sk("load_diabetes")
    return Dataset(
        b.data.astype(np.float32),
        None,
        "diabetes",
        list(b.feature_names),
        meta={"target": b.target},
    )


@DATASETS.register("iris")
def _iris() -> Dataset:
    """Iris table: 150 rows × 4 features, 3 classes (scikit-learn)."""
    b = _sk("load_iris")
    return Dataset(b.data.astype(np.float32), b.target, "iris", list(b.feature_names))


@DATASETS.register("synthetic:manifold")
def _manifold() -> Dataset:
    """2000 rows × 20 features on a noisy 3-dimensional nonlinear manifold (seed 0)."""
    rng = np.random.default_rng(0)
    t = rng.uniform(-1, 1, size=(2000, 3))
    w = rng.normal(size=(9, 20))
    feats = np.concatenate([t, np.sin(3 * t), t**2], axis=1) @ w
    x = feats + 0.05 * rng.normal(size=feats.shape)
    return Dataset(x.astype(np.float32), None, "synthetic:manifold")


@DATASETS.register("synthetic:blobs")
def _blobs() -> Dataset:
    """1500 rows × 16 features in 5 Gaussian clusters, labelled (seed 0)."""
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=1500, n_features=16, centers=5, random_state=0)
    return Dataset(x.astype(np.float32), y, "synthetic:blobs")


def describe_datasets() -> dict[str, str]:
    return {n: (DATASETS.get(n).__doc__ or "").strip() for n in DATASETS.names()}


def check_array(x: Any, where: str) -> np.ndarray:
    """Float32 array with at least one sample and one feature and no NaN/inf."""
    try:
        arr = np.asanyarray(x)
    except Exception as e:  # ragged lists and the like
        raise AutoencodingError(f"{where}: cannot be read as an array ({e})") from None
    if arr.dtype.kind not in "biuf":
        raise AutoencodingError(
            f"{where}: expected numeric data, got dtype {arr.dtype}; encode text or "
            f"categorical columns as numbers first"
        )
    if arr.ndim <= 1:
        got = "a single number" if arr.ndim == 0 else f"shape {arr.shape}"
        raise AutoencodingError(f"{where}: expected a 2-D array (samples × features), got {got}")
    if arr.ndim == 0 or arr.shape[0] == 0 or arr.size == 0:
        raise AutoencodingError(f"{where}: the data is empty (shape {arr.shape})")
    if isinstance(arr, np.memmap):
        # too large to copy: check in chunks and leave it on disk
        step = max(1, (64 << 20) // max(1, arr[0].nbytes))
        for i in range(0, len(arr), step):
            chunk = np.asarray(arr[i : i + step])
            if not np.isfinite(chunk).all():
                row = i + int(np.argwhere(~np.isfinite(chunk))[0][0])
                raise AutoencodingError(
                    f"{where}: found non-finite values (NaN or inf) at row {row}; remove or "
                    f"impute them first"
                )
        return arr
    arr = arr.astype(np.float32, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(arr[tuple(idx)]) else "inf"
        raise AutoencodingError(
            f"{where}: found {int(bad.sum())} non-finite values ({kind} first at row "
            f"{idx[0]}, column {idx[1] if len(idx) > 1 else 0}); remove or impute them first"
        )
    return arr


def _table(frame: Any, path: str, columns: list[str] | None, label: str | None) -> Dataset:
    if len(frame) == 0:
        raise AutoencodingError(f"{path}: the file has no rows")
    y = None
    if label is not None:
        if label not in frame.columns:
            raise AutoencodingError(
                f"{path}: label column {label!r} not found; columns: {list(frame.columns)}"
            )
        y = frame[label].to_numpy()
        frame = frame.drop(columns=[label])
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise AutoencodingError(
                f"{path}: column(s) {missing} not found; columns: {list(frame.columns)}"
            )
        frame = frame[columns]
    non_numeric = [str(c) for c in frame.columns if frame[c].dtype.kind not in "biuf"]
    if non_numeric:
        raise AutoencodingError(
            f"{path}: non-numeric column(s) {non_numeric}; choose numeric columns with "
            f"--columns or encode them as numbers first"
        )
    x = check_array(frame.to_numpy(dtype=np.float64), path)
    return Dataset(x, y, Path(path).name, [str(c) for c in frame.columns])


def load_data(source: Any, columns: list[str] | None = None, label: str | None = None) -> Dataset:
    """A built-in name (``digits``), ``synthetic:NAME``, an array, or a .npy/.csv/.parquet path."""
    if isinstance(source, Dataset):
        return source
    if not isinstance(source, (str, Path)):
        return Dataset(check_array(source, "data"))
    s = str(source)
    path = Path(s)
    suffix = path.suffix.lower()
    if (columns or label) and suffix not in (".csv", ".parquet", ".pq"):
        raise AutoencodingError(
            f"{s}: choosing columns or a label column applies to CSV and Parquet files only")
    if s in DATASETS:
        return DATASETS.get(s)()
    if "?" in s and Path(s.partition("?")[0]).suffix.lower() in (".csv", ".parquet", ".pq", ".npy"):
        # a wide series table cut into windows: "series.csv?window=64&stride=8"
        from .series import load_series, parse_series_spec

        path_part, opts = parse_series_spec(s)
        return load_series(path_part, **opts)
    if s.startswith("aeon:"):  # a set aeon does not ship: its loader downloads (or fails clearly)
        from .series import _aeon

        return _aeon(s[len("aeon:") :])
    if path.is_dir():  # a folder of PNG/JPEG images
        from .images import load_image_folder

        return load_image_folder(path)
    if suffix not in (".npy", ".csv", ".parquet", ".pq"):
        known = ", ".join(DATASETS.names())
        raise AutoencodingError(
            f"unknown data source {s!r}: expected a built-in dataset ({known}) or a "
            f".npy, .csv or .parquet file"
        )
    if not path.exists():
        raise AutoencodingError(f"data file {s!r} does not exist")
    if suffix == ".npy":
        try:
            # large arrays stay memory-mapped and are streamed batch by batch in training
            mmap = "r" if path.stat().st_size > IN_MEMORY_BYTES else None
            arr = np.load(path, allow_pickle=False, mmap_mode=mmap)
        except Exception as e:
            raise AutoencodingError(f"{s}: not a readable .npy file ({e})") from None
        return Dataset(check_array(arr, s), None, path.name)
    import pandas as pd

    try:
        if suffix == ".csv":
            frame = pd.read_csv(path)
        else:
            frame = pd.read_parquet(path)
    except ImportError as e:
        raise AutoencodingError(
            f"{s}: reading Parquet needs pyarrow: pip install 'autoencoding[parquet]' ({e})"
        ) from None
    except Exception as e:
        raise AutoencodingError(f"{s}: cannot be read ({type(e).__name__}: {e})") from None
    return _table(frame, s, columns, label)
