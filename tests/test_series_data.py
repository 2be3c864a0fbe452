"""Time-series and image-folder data: windows and strides, wide tables with a time column, NaN
handling, the built-in aeon / mnist1d sources, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoencoding.data import load_data
from autoencoding.data.images import load_image_folder
from autoencoding.data.series import load_series, read_series, windows
from autoencoding.errors import AutoencodingError


def test_windows_shape_and_content():
    x = np.arange(20 * 3, dtype=float).reshape(20, 3)
    w = windows(x, 8, 4)
    assert w.shape == ((20 - 8) // 4 + 1, 3, 8)
    np.testing.assert_array_equal(w[1], x[4:12].T)  # (C, L), second window starts at step 4
    assert windows(x, 20, 1).shape == (1, 3, 20)


@pytest.mark.parametrize(
    ("length", "stride", "match"),
    [(21, 1, "fewer than one window"), (0, 1, "length"), (4, 0, "stride")],
)
def test_windows_bad_arguments(length, stride, match):
    with pytest.raises(AutoencodingError, match=match):
        windows(np.zeros((20, 2)), length, stride)


def test_csv_time_column_sorts_and_drops(tmp_path):
    t = np.array([3, 1, 2, 0])
    frame = pd.DataFrame({"time": t, "a": t * 10.0, "b": -t * 1.0})
    path = tmp_path / "s.csv"
    frame.to_csv(path, index=False)
    values, names = read_series(path, time_column="time")
    assert names == ["a", "b"]
    np.testing.assert_array_equal(values[:, 0], [0, 10, 20, 30])
    with pytest.raises(AutoencodingError, match="time column 'nope' not found"):
        read_series(path, time_column="nope")
    pd.DataFrame({"when": ["x", "y"], "a": [1.0, 2.0]}).to_csv(path, index=False)
    with pytest.raises(AutoencodingError, match="non-numeric column.*'when'"):
        read_series(path)


def test_nan_rejected_unless_allowed(tmp_path):
    path = tmp_path / "holes.csv"
    pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2.0, 3.0]}).to_csv(path, index=False)
    with pytest.raises(AutoencodingError, match="missing values .*step 1, channel 'a'"):
        read_series(path)
    values, _ = read_series(path, allow_missing=True)
    assert np.isnan(values[1, 0]) and np.isfinite(values).sum() == 5


def test_load_series_from_table_and_npy(tmp_path):
    path = tmp_path / "s.csv"
    pd.DataFrame(np.random.default_rng(0).normal(size=(50, 2)), columns=["x", "y"]).to_csv(
        path, index=False
    )
    ds = load_series(path, window=10, stride=5)
    assert ds.x.shape == (9, 2, 10) and ds.feature_names == ["x", "y"]
    with pytest.raises(AutoencodingError, match="needs a window length"):
        load_series(path)
    npy = tmp_path / "w.npy"
    np.save(npy, np.zeros((4, 3, 16), dtype=np.float32))
    assert load_series(npy).x.shape == (4, 3, 16)
    with pytest.raises(AutoencodingError, match="already windows"):
        load_series(npy, window=8)
    with pytest.raises(AutoencodingError, match="expected a .csv, .parquet or .npy"):
        read_series(_touch(tmp_path))


def _touch(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("1,2\n")
    return p


def test_builtin_aeon_and_mnist1d_sources():
    gp = load_data("aeon:GunPoint")
    assert gp.x.shape == (200, 1, 150) and set(np.unique(gp.y)) == {0, 1}
    assert load_data("aeon:BasicMotions").x.shape == (80, 6, 100)
    assert load_data("aeon:Daphnet_S06R02E0").x.shape == (437, 9, 64)
    m = load_data("mnist1d")
    assert m.x.shape == (5000, 1, 40) and len(np.unique(m.y)) == 10


def test_unshipped_aeon_set_fails_clearly(monkeypatch):
    import aeon.datasets

    def offline(name, *a, **k):
        raise ValueError("no network")

    monkeypatch.setattr(aeon.datasets, "load_classification", offline)
    with pytest.raises(AutoencodingError, match="aeon:Car is not shipped.*aeon:GunPoint"):
        load_data("aeon:Car")


def test_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (6, 5), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    ds = load_data(tmp_path)
    assert ds.x.shape == (3, 1, 6, 5) and 0 <= ds.x.min() and ds.x.max() <= 1
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "odd.jpg")
    with pytest.raises(AutoencodingError, match="differ in size"):
        load_image_folder(tmp_path)
    with pytest.raises(AutoencodingError, match="no image files"):
        load_image_folder(_empty(tmp_path))


def _empty(tmp_path):
    p = tmp_path / "empty"
    p.mkdir()
    return p


def test_series_spec_in_a_data_source(tmp_path):
    path = tmp_path / "s.csv"
    frame = pd.DataFrame({"t": np.arange(40)[::-1], "a": np.arange(40.0), "b": np.ones(40)})
    frame.to_csv(path, index=False)
    ds = load_data(f"{path}?window=8&stride=4&time_column=t")
    assert ds.x.shape == (9, 2, 8)
    np.testing.assert_array_equal(ds.x[0, 0], np.arange(39.0, 31.0, -1))  # sorted by t
    with pytest.raises(AutoencodingError, match="expected options window=N"):
        load_data(f"{path}?size=8")
    with pytest.raises(AutoencodingError, match="window must be an int"):
        load_data(f"{path}?window=big")


def test_builtin_long_series_reads_as_one_series():
    values, names = read_series("aeon:Daphnet_S06R02E0")
    assert values.shape == (7040, 9) and names[0] == "c0"
