"""Time-series data: wide tables and arrays cut into windows, and the built-in series sources.

Shapes used throughout::

    one long series   (T, C)      wide table: one row per time step, one column per channel
    windows           (n, C, L)   what the patch recipes (patch-mae, pits) train on
    imputer windows   (n, L, C)   scikit-learn's "samples first, features last" layout

Built-in sources (the ``timeseries`` extra: ``pip install 'autoencoding[timeseries]'``):
``aeon:GunPoint``, ``aeon:BasicMotions``, ``aeon:ArrowHead``, ``aeon:ItalyPowerDemand``,
``aeon:OSULeaf`` (classification sets shipped inside aeon, (n, C, T) with labels),
``aeon:Daphnet_S06R02E0`` (one 9-channel accelerometer recording shipped inside aeon, cut
into windows of 64 steps) and ``mnist1d`` (MNIST-1D's generator with its default arguments,
(5000, 1, 40); ``mnist1d.data.get_dataset`` would download and is never called). Any other
``aeon:NAME`` is tried through aeon's loader, which downloads; offline that fails with a
message naming the shipped sets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutoencodingError
from .sources import DATASETS, Dataset

#: UCR/UEA classification sets that aeon ships inside its wheel (load offline).
AEON_SHIPPED = ("GunPoint", "BasicMotions", "ArrowHead", "ItalyPowerDemand", "OSULeaf")


def windows(x: np.ndarray, length: int, stride: int = 1) -> np.ndarray:
    """Cut a (T, C) series into (n, C, length) windows starting every ``stride`` steps.

    The tail that does not fill a whole window is dropped (a partial window would need
    padding the model never saw); n = (T - length) // stride + 1.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise AutoencodingError(
            f"windows: expected one series shaped (time steps, channels), got shape {x.shape}"
        )
    if not (isinstance(length, (int, np.integer)) and length >= 1):
        raise AutoencodingError(f"windows: length must be a positive int, got {length!r}")
    if not (isinstance(stride, (int, np.integer)) and stride >= 1):
        raise AutoencodingError(f"windows: stride must be a positive int, got {stride!r}")
    if len(x) < length:
        raise AutoencodingError(
            f"windows: the series has {len(x)} time steps, fewer than one window of {length}"
        )
    starts = np.arange(0, len(x) - length + 1, stride)
    idx = starts[:, None] + np.arange(length)[None, :]
    return np.ascontiguousarray(x[idx].transpose(0, 2, 1))


def read_series(
    path: str | Path,
    *,
    time_column: str | None = None,
    columns: list[str] | None = None,
    allow_missing: bool = False,
) -> tuple[np.ndarray, list[str]]:
    """One multivariate series (T, C) float64 and its channel names from a wide table.

    CSV/Parquet: one row per time step, one column per channel; ``time_column`` (if given)
    sorts the rows by it and is dropped. ``.npy``: a 2-D (T, C) array (a 1-D array is one
    channel). Empty cells become NaN, allowed only with ``allow_missing``.
    """
    if str(path) in LONG_SERIES:  # a built-in long series (e.g. aeon:Daphnet_S06R02E0)
        values = LONG_SERIES[str(path)]()
        return values, [f"c{i}" for i in range(values.shape[1])]
    p = Path(path)
    if not p.exists():
        raise AutoencodingError(f"series file {str(path)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        if time_column is not None:
            raise AutoencodingError(f"{path}: --time-column applies to CSV/Parquet tables only")
        try:
            arr = np.load(p, allow_pickle=False)
        except Exception as e:
            raise AutoencodingError(f"{path}: not a readable .npy file ({e})") from None
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise AutoencodingError(
                f"{path}: expected one series shaped (time steps, channels), got shape {arr.shape}"
            )
        if arr.dtype.kind not in "biuf":
            raise AutoencodingError(f"{path}: expected numeric data, got dtype {arr.dtype}")
        names = [f"c{i}" for i in range(arr.shape[1])]
        values = arr.astype(np.float64)
    elif suffix in (".csv", ".parquet", ".pq"):
        import pandas as pd

        try:
            frame = pd.read_csv(p) if suffix == ".csv" else pd.read_parquet(p)
        except Exception as e:
            raise AutoencodingError(f"{path}: cannot be read ({type(e).__name__}: {e})") from None
        frame.columns = [str(c) for c in frame.columns]
        if time_column is not None:
            if time_column not in frame.columns:
                raise AutoencodingError(
                    f"{path}: time column {time_column!r} not found; columns: {list(frame.columns)}"
                )
            frame = frame.sort_values(time_column, kind="stable").drop(columns=[time_column])
        if columns:
            unknown = [c for c in columns if c not in frame.columns]
            if unknown:
                raise AutoencodingError(
                    f"{path}: column(s) {unknown} not found; columns: {list(frame.columns)}"
                )
            frame = frame[list(columns)]
        bad = [c for c in frame.columns if frame[c].dtype.kind not in "biuf"]
        if bad:
            raise AutoencodingError(
                f"{path}: non-numeric column(s) {bad}; a time column is named with "
                f"--time-column, other columns must be numeric channels"
            )
        names = list(frame.columns)
        values = frame.to_numpy(dtype=np.float64)
    else:
        raise AutoencodingError(
            f"{path}: expected a .csv, .parquet or .npy series, got suffix {suffix!r}"
        )
    if values.size == 0:
        raise AutoencodingError(f"{path}: the series is empty (shape {values.shape})")
    if np.isinf(values).any():
        raise AutoencodingError(f"{path}: the series contains infinite values")
    if not allow_missing and np.isnan(values).any():
        t, c = np.argwhere(np.isnan(values))[0]
        raise AutoencodingError(
            f"{path}: {int(np.isnan(values).sum())} missing values (first at step {t}, channel "
            f"{names[c]!r}); fill them first, e.g. with `autoencoding impute --series`"
        )
    return values, names


def parse_series_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"series.csv?window=64&stride=8&time_column=t"`` -> (path, options): how a data source
    string (``--data`` of train / encode / evaluate) asks for a wide table cut into windows."""
    path, _, query = spec.partition("?")
    opts: dict[str, Any] = {}
    for item in filter(None, query.split("&")):
        key, eq, value = item.partition("=")
        if not eq or key not in ("window", "stride", "time_column", "columns"):
            raise AutoencodingError(
                f"{spec}: expected options window=N, stride=N, time_column=NAME or "
                f"columns=a,b after '?', got {item!r}"
            )
        if key in ("window", "stride"):
            try:
                opts[key] = int(value)
            except ValueError:
                raise AutoencodingError(f"{spec}: {key} must be an int, got {value!r}") from None
        else:
            opts[key] = value.split(",") if key == "columns" else value
    return path, opts


def load_series(
    source: str | Path,
    *,
    window: int | None = None,
    stride: int = 1,
    time_column: str | None = None,
    columns: list[str] | None = None,
) -> Dataset:
    """Windows (n, C, L) as a :class:`Dataset` from a file or a built-in name.

    A ``.npy`` shaped (n, C, T) is taken as windows already (``window`` must then be None);
    a wide CSV/Parquet table or a 2-D ``.npy`` is one series cut with :func:`windows`.
    """
    s = str(source)
    if s in DATASETS:
        return DATASETS.get(s)()
    p = Path(s)
    if p.suffix.lower() == ".npy" and p.exists():
        try:
            arr = np.load(p, allow_pickle=False, mmap_mode="r")
        except Exception as e:
            raise AutoencodingError(f"{s}: not a readable .npy file ({e})") from None
        if arr.ndim == 3:
            if window is not None:
                raise AutoencodingError(
                    f"{s}: already windows shaped (n, C, T) = {arr.shape}; drop --window"
                )
            x = np.asarray(arr, dtype=np.float32)
            if not np.isfinite(x).all():
                raise AutoencodingError(f"{s}: found NaN or inf values; impute them first")
            return Dataset(x, None, p.name)
    values, names = read_series(s, time_column=time_column, columns=columns)
    if window is None:
        raise AutoencodingError(f"{s}: a single series needs a window length (--window)")
    x = windows(values, window, stride).astype(np.float32)
    return Dataset(x, None, p.name, names, meta={"window": window, "stride": stride})


def _aeon(name: str) -> Dataset:
    try:
        from aeon.datasets import load_classification
    except ImportError as e:
        raise AutoencodingError(
            f"aeon:{name} needs aeon: pip install 'autoencoding[timeseries]' ({e})"
        ) from None
    try:
        x, y = load_classification(name)
    except Exception as e:  # offline: aeon tries to download sets it does not ship
        raise AutoencodingError(
            f"aeon:{name} is not shipped inside aeon and could not be downloaded "
            f"({type(e).__name__}); the offline sets are "
            f"{', '.join('aeon:' + n for n in (*AEON_SHIPPED, 'Daphnet_S06R02E0'))}"
        ) from None
    if not isinstance(x, np.ndarray):
        raise AutoencodingError(f"aeon:{name} has series of unequal length; not supported")
    classes, labels = np.unique(np.asarray(y), return_inverse=True)
    return Dataset(
        x.astype(np.float32), labels, f"aeon:{name}", meta={"classes": [str(c) for c in classes]}
    )


def daphnet() -> np.ndarray:
    """aeon's shipped Daphnet excerpt S06R02E0: one series (7040, 9), float64 (accelerometers)."""
    import warnings

    try:
        from aeon.datasets import load_daphnet_s06r02e0
    except ImportError as e:
        raise AutoencodingError(
            f"aeon:Daphnet_S06R02E0 needs aeon: pip install 'autoencoding[timeseries]' ({e})"
        ) from None
    with warnings.catch_warnings():  # aeon 1.6 deprecates the loader (the data are fine)
        warnings.simplefilter("ignore")
        x, _ = load_daphnet_s06r02e0()
    return np.asarray(x, dtype=np.float64)


def _shipped(name: str):
    def load() -> Dataset:
        return _aeon(name)

    load.__doc__ = f"aeon's shipped {name} classification set (n, C, T), labelled (offline)."
    return load


for _name in AEON_SHIPPED:
    DATASETS.register(f"aeon:{_name}")(_shipped(_name))


#: Built-in long series (T, C) that ``read_series`` (``impute`` / ``detect --series``) accepts.
LONG_SERIES: dict[str, Callable[[], np.ndarray]] = {"aeon:Daphnet_S06R02E0": daphnet}


@DATASETS.register("aeon:Daphnet_S06R02E0")
def _daphnet() -> Dataset:
    """aeon's shipped Daphnet S06R02E0 accelerometers (7040 steps, 9 channels) in windows of
    64 steps, stride 16: (437, 9, 64)."""
    return Dataset(windows(daphnet(), 64, 16).astype(np.float32), None, "aeon:Daphnet_S06R02E0")


@DATASETS.register("mnist1d")
def _mnist1d() -> Dataset:
    """MNIST-1D from its generator, default arguments (seed 42): (5000, 1, 40), 10 classes."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:
        raise AutoencodingError(
            f"mnist1d needs the mnist1d package: pip install 'autoencoding[timeseries]' ({e})"
        ) from None
    d = make_dataset(get_dataset_args())
    x = np.concatenate([d["x"], d["x_test"]]).astype(np.float32)[:, None]
    y = np.concatenate([d["y"], d["y_test"]]).astype(np.int64)
    return Dataset(x, y, "mnist1d")
