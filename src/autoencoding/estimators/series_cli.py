"""``autoencoding impute --series`` and ``autoencoding detect --series``: one multivariate
series in a wide table (CSV/Parquet: one row per time step, one column per channel) or a
.npy shaped (T, C).

    autoencoding impute --series --data holes.csv --out filled.csv [--time-column t]
    autoencoding detect --series --data sensors.csv --out scores.csv [--window 64]

``impute`` trains a :class:`~autoencoding.estimators.TimeSeriesImputer` on the observed values
and writes the table with every empty cell filled (observed cells unchanged); ``detect`` trains
a :class:`~autoencoding.estimators.SeriesAnomalyDetector` and writes the table with
``anomaly_score`` (one per time step, high = anomalous) and ``anomaly`` (1 above the
contamination quantile). ``--out`` may be .csv or .npy (the values only).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutoencodingError


def add_series_options(p: argparse.ArgumentParser) -> None:
    """--series, --time-column and --window (shared by impute and detect)."""
    p.add_argument(
        "--series",
        action="store_true",
        help="treat --data as one multivariate time series (rows = time steps, columns = "
        "channels) instead of a table of independent rows",
    )
    p.add_argument("--time-column", default=None, help="with --series: column to sort by, dropped")
    p.add_argument("--window", type=int, default=64, help="with --series: window length (64)")


def _out(path: str) -> Path:
    from ..guards import check_output

    if Path(path).suffix.lower() not in (".csv", ".npy"):
        raise AutoencodingError(f"--out: expected a .csv or .npy path, got {path!r}")
    return check_output(path, "file")


def _read(args: argparse.Namespace, allow_missing: bool):
    from ..data.series import read_series

    cols = [c.strip() for c in args.columns.split(",")] if args.columns else None
    values, names = read_series(
        args.data, time_column=args.time_column, columns=cols, allow_missing=allow_missing
    )
    if args.window < 4:
        raise AutoencodingError(f"--window: expected at least 4 time steps, got {args.window}")
    return values, names


def _write(values: np.ndarray, names: list[str], out: str, extra: dict | None = None) -> None:
    import pandas as pd

    p = _out(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() == ".npy":
        cols = [values] + [np.asarray(v, dtype=float)[:, None] for v in (extra or {}).values()]
        np.save(p, np.concatenate(cols, 1))
    else:
        frame = pd.DataFrame(values, columns=names)
        for k, v in (extra or {}).items():
            frame[k] = v
        frame.to_csv(p, index=False)
    print(f"wrote {p} ({len(values)} time steps)")


def cmd_impute_series(args: argparse.Namespace) -> int:
    from .series_imputer import TimeSeriesImputer

    _out(args.out)
    values, names = _read(args, allow_missing=True)
    missing = int(np.isnan(values).sum())
    if missing == 0:
        print("no missing values: the series is written unchanged")
        _write(values, names, args.out)
        return 0
    kw: dict[str, Any] = {"window": min(args.window, len(values)), "random_state": args.seed}
    if args.epochs is not None:
        kw["epochs"] = args.epochs
    try:
        imp = TimeSeriesImputer(**kw).fit(values)
        filled = imp.transform(values)
    except ValueError as e:
        raise AutoencodingError(str(e)) from None
    _write(filled, names, args.out)
    print(f"filled {missing} missing values in {len(names)} channels")
    return 0


def cmd_detect_series(args: argparse.Namespace) -> int:
    from .series_anomaly import SeriesAnomalyDetector

    _out(args.out)
    values, names = _read(args, allow_missing=False)
    kw: dict[str, Any] = {
        "window": args.window,
        "contamination": args.contamination,
        "random_state": args.seed,
    }
    if args.epochs is not None:
        kw["epochs"] = args.epochs
    try:
        det = SeriesAnomalyDetector(**kw).fit(values)
    except ValueError as e:
        raise AutoencodingError(str(e)) from None
    _write(values, names, args.out, {"anomaly_score": det.decision_scores_, "anomaly": det.labels_})
    print(
        f"{int(det.labels_.sum())} of {len(values)} time steps flagged "
        f"(score > {det.threshold_:.4g}, contamination {args.contamination})"
    )
    return 0
