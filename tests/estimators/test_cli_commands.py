"""``detect`` and ``impute`` subcommands, driven through their own argparse parsers."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from autoencoding.errors import AutoencodingError
from autoencoding.estimators.cli_commands import add_detect_parser, add_impute_parser


def _run(argv):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    add_detect_parser(sub)
    add_impute_parser(sub)
    args = p.parse_args(argv)
    return args.func(args, p)


def test_detect_writes_scores(tmp_path, wine_outliers):
    x, y = wine_outliers
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    frame["name"] = [f"row{i}" for i in range(len(x))]
    src, out = tmp_path / "t.csv", tmp_path / "scores.csv"
    frame.to_csv(src, index=False)
    cols = ",".join(f"f{i}" for i in range(x.shape[1]))
    assert (
        _run(["detect", "--data", str(src), "--out", str(out), "--columns", cols, "--epochs", "10"])
        == 0
    )
    res = pd.read_csv(out)
    assert list(res.columns[-2:]) == ["outlier_score", "outlier"]
    assert res["name"].tolist() == frame["name"].tolist()
    assert res["outlier"].sum() == 14  # 10% of 140
    assert res.loc[y == 1, "outlier_score"].mean() > res.loc[y == 0, "outlier_score"].mean()
    with pytest.raises(AutoencodingError, match="non-numeric column"):
        _run(["detect", "--data", str(src), "--out", str(out)])
    with pytest.raises(AutoencodingError, match="contamination"):
        _run(
            [
                "detect",
                "--data",
                str(src),
                "--out",
                str(out),
                "--columns",
                cols,
                "--contamination",
                "0.9",
            ]
        )


def test_impute_fills_only_empty_cells(tmp_path, wine_missing):
    x, mask = wine_missing
    xm = np.where(mask, np.nan, x)
    src, out = tmp_path / "holes.csv", tmp_path / "filled.csv"
    pd.DataFrame(xm, columns=[f"c{i}" for i in range(x.shape[1])]).to_csv(src, index=False)
    assert _run(["impute", "--data", str(src), "--out", str(out), "--epochs", "20"]) == 0
    filled = pd.read_csv(out).to_numpy()
    assert np.isfinite(filled).all()
    np.testing.assert_allclose(filled[~mask], xm[~mask], rtol=1e-12)
    with pytest.raises(AutoencodingError, match="does not exist"):
        _run(["impute", "--data", str(tmp_path / "none.csv"), "--out", str(out)])
    empty_col = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [np.nan] * 3})
    empty_col.to_csv(src, index=False)
    with pytest.raises(AutoencodingError, match="no observed value"):
        _run(["impute", "--data", str(src), "--out", str(out)])


def test_detect_reads_a_npy_table(tmp_path, capsys):
    from autoencoding.cli import main

    x = np.random.default_rng(0).normal(size=(40, 3))
    np.save(tmp_path / "x.npy", x)
    code = main(["detect", "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "o.csv"),
                 "--epochs", "2"])  # fmt: skip
    assert code == 0 and len((tmp_path / "o.csv").read_text().splitlines()) == 41
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    code = main(["detect", "--data", str(tmp_path / "cube.npy"), "--out", str(tmp_path / "p.csv")])
    assert code == 2 and "expected a 2-D array" in capsys.readouterr().err
