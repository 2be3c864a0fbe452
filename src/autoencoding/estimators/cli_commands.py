"""``autoencoding detect`` and ``autoencoding impute``: the tabular estimators on CSV files.

    autoencoding detect --data table.csv --out scores.csv              # + outlier_score, outlier
    autoencoding detect --data table.csv --out scores.csv --contamination 0.05 --columns a,b,c
    autoencoding impute --data holes.csv --out filled.csv              # empty cells filled
    autoencoding impute --series --data series.csv --out filled.csv    # one time series
    autoencoding detect --series --data series.csv --out scores.csv    # + anomaly_score

Each ``add_*_parser(subparsers)`` adds one subcommand whose handler (``args.func(args,
parser)``) reads the table with pandas, fits the estimator and writes a CSV: the input table
with the results. Bad input raises :class:`~autoencoding.errors.AutoencodingError` (one line
on stderr, exit code 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutoencodingError
from .series_cli import add_series_options


def _read_table(path: str, columns: str | None, allow_missing: bool):
    """(frame, numeric column names) of a CSV, Parquet or 2-D .npy file, with clear
    errors."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise AutoencodingError(f"--data: file {path!r} does not exist")
    try:
        if p.suffix.lower() == ".npy":
            arr = np.load(p, allow_pickle=False)  # never unpickle a data file
            if arr.ndim != 2:
                raise AutoencodingError(
                    f"{path}: expected a 2-D array (rows × columns), got shape {arr.shape}"
                )
            frame = pd.DataFrame(arr, columns=[f"c{i}" for i in range(arr.shape[1])])
        elif p.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(p)
    except AutoencodingError:
        raise
    except ImportError as e:
        raise AutoencodingError(f"{path}: reading Parquet needs pyarrow ({e})") from None
    except Exception as e:
        raise AutoencodingError(f"{path}: cannot be read ({type(e).__name__}: {e})") from None
    if len(frame) == 0:
        raise AutoencodingError(f"{path}: the file has no rows")
    cols = [c.strip() for c in columns.split(",")] if columns else [str(c) for c in frame.columns]
    frame.columns = [str(c) for c in frame.columns]
    unknown = [c for c in cols if c not in frame.columns]
    if unknown:
        raise AutoencodingError(
            f"{path}: column(s) {unknown} not found; columns: {list(frame.columns)}"
        )
    non_numeric = [c for c in cols if frame[c].dtype.kind not in "biuf"]
    if non_numeric:
        raise AutoencodingError(
            f"{path}: non-numeric column(s) {non_numeric}; choose numeric columns with "
            f"--columns or encode them as numbers first"
        )
    values = frame[cols].to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        raise AutoencodingError(f"{path}: the selected columns contain infinite values")
    if not allow_missing and np.isnan(values).any():
        r, c = np.argwhere(np.isnan(values))[0]
        raise AutoencodingError(
            f"{path}: {int(np.isnan(values).sum())} empty or NaN cells (first at row {r}, "
            f"column {cols[c]!r}); fill them first, e.g. with `autoencoding impute`"
        )
    return frame, cols, values


def _check_out(out: str) -> Path:
    """The --out CSV, checked before the table is read or anything is fitted."""
    from ..guards import check_output

    if Path(out).suffix.lower() != ".csv":
        raise AutoencodingError(f"--out: expected a .csv path, got {out!r}")
    return check_output(out, "file")


def _write(frame, out: str) -> None:
    p = _check_out(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(p, index=False)
    print(f"wrote {p} ({len(frame)} rows)")


def _common(p: argparse.ArgumentParser, recipe: str) -> None:
    p.add_argument("--data", required=True, help="input table (.csv or .parquet)")
    p.add_argument("--out", required=True, help="output .csv")
    p.add_argument("--columns", default=None, help="comma-separated numeric columns to use")
    p.add_argument("--recipe", default=recipe, help=f"recipe name (default {recipe})")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: tuned)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _fit(make, values) -> Any:
    try:
        return make().fit(values)
    except ValueError as e:  # scikit-learn style input errors
        raise AutoencodingError(str(e)) from None


def cmd_detect(args: argparse.Namespace, parser: Any = None) -> int:
    from .outlier import AutoencoderOutlierDetector

    if args.series:  # one multivariate time series: series_cli.py
        from .series_cli import cmd_detect_series

        return cmd_detect_series(args)
    _check_out(args.out)
    frame, _, values = _read_table(args.data, args.columns, allow_missing=False)
    kw: dict[str, Any] = {
        "recipe": args.recipe,
        "contamination": args.contamination,
        "error": args.error,
        "random_state": args.seed,
    }
    if args.epochs is not None:
        kw["epochs"] = args.epochs
    det = _fit(lambda: AutoencoderOutlierDetector(**kw), values)
    out = frame.copy()
    out["outlier_score"] = det.decision_scores_
    out["outlier"] = det.labels_
    _write(out, args.out)
    print(
        f"{int(det.labels_.sum())} of {len(values)} rows flagged as outliers "
        f"(score > {det.threshold_:.4g}, contamination {args.contamination})"
    )
    return 0


def cmd_impute(args: argparse.Namespace, parser: Any = None) -> int:
    from .imputer import MaskedAutoencoderImputer

    if args.series:  # one multivariate time series: series_cli.py
        from .series_cli import cmd_impute_series

        return cmd_impute_series(args)
    _check_out(args.out)
    frame, cols, values = _read_table(args.data, args.columns, allow_missing=True)
    missing = int(np.isnan(values).sum())
    out = frame.copy()
    if missing == 0:
        print("no missing values: the table is written unchanged")
    else:
        kw: dict[str, Any] = {"recipe": args.recipe, "random_state": args.seed}
        if args.epochs is not None:
            kw["epochs"] = args.epochs
        imp = _fit(lambda: MaskedAutoencoderImputer(**kw), values)
        out[cols] = imp.transform(values)
        print(f"filled {missing} missing cells in {len(cols)} columns")
    _write(out, args.out)
    return 0


def add_detect_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``detect``: flag the outlying rows of a table."""
    p = subparsers.add_parser(
        "detect",
        help="score the rows of a table for outliers",
        description="Fit an autoencoder outlier detector on the rows of --data and write the "
        "table with two more columns: outlier_score (high = outlier) and outlier (1/0).",
    )
    _common(p, "ae")
    p.add_argument(
        "--contamination",
        type=float,
        default=0.1,
        help="expected fraction of outliers, in (0, 0.5] (default 0.1)",
    )
    p.add_argument(
        "--error", choices=["mse", "apre"], default="mse", help="reconstruction error scored"
    )
    add_series_options(p)
    p.set_defaults(func=cmd_detect)
    return p


def add_impute_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``impute``: fill the empty cells of a table."""
    p = subparsers.add_parser(
        "impute",
        help="fill missing values of a table",
        description="Train a masked autoencoder on the observed cells of --data and write the "
        "table with every empty / NaN cell filled (observed cells are unchanged).",
    )
    _common(p, "ae")
    add_series_options(p)
    p.set_defaults(func=cmd_impute)
    return p
