"""TimeSeriesImputer and SeriesAnomalyDetector: observed values kept bit for bit, a learned
model beats linear interpolation on gaps, anomalies score high, the CLI on a series CSV, and
clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from autoencoding.cli import main
from autoencoding.estimators import SeriesAnomalyDetector, TimeSeriesImputer
from autoencoding.estimators.series_net import interpolate, training_mask

TINY = {"width": 16, "depth": 4, "epochs": 10, "lr": 5e-3, "batch_size": 32, "window": 32}


def _series(n: int = 1200, seed: int = 0) -> np.ndarray:
    """3 channels: a noisy oscillation, its negation and a phase-shifted copy."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    a = np.sin(2 * np.pi * t / 23) + 0.5 * np.sin(2 * np.pi * t / 7)
    x = np.stack([a, -a, np.roll(a, 3)], 1) + 0.05 * rng.normal(size=(n, 3))
    return x


def _windows(x: np.ndarray, length: int = 32, stride: int = 8) -> np.ndarray:
    return np.stack([x[s : s + length] for s in range(0, len(x) - length + 1, stride)])


def test_interpolate_is_linear_between_visible_points():
    x = torch.tensor([[0.0, 9.0, 9.0, 3.0, 9.0]])
    vis = torch.tensor([[True, False, False, True, False]])
    np.testing.assert_allclose(interpolate(x, vis).numpy(), [[0, 1, 2, 3, 3]])


def test_training_mask_mixes_mcar_and_gaps():
    hidden = training_mask((400, 2, 64), torch.Generator().manual_seed(0), gap_share=1.0)
    # every window has one contiguous gap per channel of length >= 2
    run = (hidden[:, :, 1:] & hidden[:, :, :-1]).any(-1)
    assert run.float().mean() > 0.95
    mcar = training_mask((400, 2, 64), torch.Generator().manual_seed(0), gap_share=0.0)
    assert 0.2 < mcar.float().mean() < 0.45  # rates uniform in [0.05, 0.6]


def test_observed_values_are_bit_identical_and_gaps_beat_interpolation():
    x = _series()
    train, test = _windows(x[:900], stride=4), _windows(x[900:], stride=32)
    imp = TimeSeriesImputer(random_state=0, **TINY).fit(train)
    rng = np.random.default_rng(1)
    hidden = np.zeros(test.shape, bool)
    for i in range(len(test)):
        s = rng.integers(0, 32 - 10)
        hidden[i, s : s + 10, rng.integers(0, 3)] = True
    holes = np.where(hidden, np.nan, test)
    filled = imp.transform(holes)
    assert not np.isnan(filled).any()
    assert np.array_equal(filled[~hidden], holes[~hidden])  # bit for bit
    assert filled.dtype == np.float64
    lin = (
        interpolate(
            torch.from_numpy(np.nan_to_num(holes).transpose(0, 2, 1).copy()),
            torch.from_numpy(~hidden.transpose(0, 2, 1).copy()),
        )
        .numpy()
        .transpose(0, 2, 1)
    )
    err_model = np.abs(filled - test)[hidden].mean()
    err_lin = np.abs(lin - test)[hidden].mean()
    assert err_model < 0.4 * err_lin, (err_model, err_lin)  # measured 0.12 vs 0.63


def test_long_series_round_trip_and_seeded():
    x = _series(400)
    holes = x.copy()
    holes[100:110, 0] = np.nan
    a = TimeSeriesImputer(random_state=3, **{**TINY, "epochs": 2}).fit(holes)
    b = clone(a).fit(holes)
    out = a.transform(holes)
    assert out.shape == x.shape and np.array_equal(out[~np.isnan(holes)], x[~np.isnan(holes)])
    np.testing.assert_array_equal(out, b.transform(holes))  # same seed, same fill
    assert a.fit_cpu_seconds_ > 0 and len(a.loss_history_[0]) == 2


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((2, 3, 4, 5)), "expected windows shaped"),
        (np.full((10, 2), np.inf), "infinity"),
        (np.zeros((0, 2)), "empty"),
    ],
)
def test_bad_inputs_fail_clearly(bad, match):
    with pytest.raises(ValueError, match=match):
        TimeSeriesImputer(epochs=1).fit(bad)


def test_channel_count_checked_and_empty_channel_named():
    imp = TimeSeriesImputer(random_state=0, **{**TINY, "epochs": 1}).fit(_series(100))
    with pytest.raises(ValueError, match="2 channels, but TimeSeriesImputer was fitted with 3"):
        imp.transform(np.zeros((50, 2)))
    x = _series(100)
    x[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"channel\(s\) \[1\]"):
        TimeSeriesImputer(epochs=1).fit(x)


def test_injected_anomaly_scores_above_normal_steps():
    x = _series(900)
    x[600:620, 1] += 3.0  # a level shift in one channel
    tiny = {"width": 16, "depth": 4, "lr": 5e-3}
    det = SeriesAnomalyDetector(window=32, epochs=6, imputer_params=tiny, random_state=0).fit(x)
    s = det.decision_scores_
    assert s.shape == (900,)
    normal = np.r_[s[:580], s[640:]]
    # measured: segment mean 0.87 vs median 0.28, normal steps' 95th percentile ~0.5
    assert s[600:620].mean() > 2.5 * np.median(s)
    assert s[600:620].mean() > np.quantile(normal, 0.95)
    assert np.median(s[600:620]) > np.quantile(normal, 0.9)
    assert det.labels_[600:620].mean() > 0.5


def test_cli_impute_and_detect_series(tmp_path, capsys):
    x = _series(300)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame.insert(0, "t", np.arange(300)[::-1])  # time column, reversed order
    frame = frame.iloc[::-1].reset_index(drop=True)  # rows out of order, sorted by --time-column
    frame.loc[50:59, "a"] = np.nan
    src = tmp_path / "series.csv"
    frame.to_csv(src, index=False)
    out = tmp_path / "filled.csv"
    args = ["--series", "--data", str(src), "--time-column", "t", "--window", "32"]
    assert main(["impute", *args, "--out", str(out), "--epochs", "2"]) == 0
    filled = pd.read_csv(out)
    assert list(filled.columns) == ["a", "b", "c"] and not filled.isna().any().any()
    scores = tmp_path / "scores.csv"
    frame = frame.fillna(0.0)
    frame.to_csv(src, index=False)
    assert main(["detect", *args, "--out", str(scores), "--epochs", "2"]) == 0
    got = pd.read_csv(scores)
    assert len(got) == 300 and {"anomaly_score", "anomaly"} <= set(got.columns)
    # a (n, C, T) cube is not one series
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4)))
    code = main(["impute", "--series", "--data", str(tmp_path / "cube.npy"), "--out", str(out)])
    assert code == 2
    assert "expected one series shaped (time steps, channels)" in capsys.readouterr().err
