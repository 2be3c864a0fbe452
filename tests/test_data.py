"""Data sources, scaling and splits: shapes, file formats, and one clear error per defect."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autoencoding import AutoencodingError
from autoencoding.data import (
    DATASETS,
    Dataset,
    Scaler,
    check_array,
    describe_datasets,
    load_data,
    split_indices,
)


# -- built-in and synthetic sets ------------------------------------------------------------
@pytest.mark.parametrize(
    "name, shape, n_classes",
    [
        ("digits", (1797, 1, 8, 8), 10),
        ("breast_cancer", (569, 30), 2),
        ("wine", (178, 13), 3),
        ("diabetes", (442, 10), None),
        ("iris", (150, 4), 3),
        ("synthetic:manifold", (2000, 20), None),
        ("synthetic:blobs", (1500, 16), 5),
    ],
)
def test_builtin_datasets_load_with_expected_shapes(name, shape, n_classes):
    ds = load_data(name)
    assert ds.x.shape == shape and ds.x.dtype == np.float32
    assert np.isfinite(ds.x).all()
    assert ds.name == name
    if n_classes is None:
        assert ds.y is None
    else:
        assert len(ds.y) == shape[0] and len(np.unique(ds.y)) == n_classes
    assert DATASETS.get(name).__doc__  # `autoencoding datasets` shows it


def test_digits_is_an_image_set_with_a_known_value_range():
    ds = load_data("digits")
    assert ds.is_image and ds.sample_shape == (1, 8, 8)
    assert ds.value_range == (0.0, 16.0) and ds.x.min() == 0 and ds.x.max() == 16
    assert not load_data("iris").is_image
    assert load_data("iris").feature_names[0] == "sepal length (cm)"


def test_synthetic_sets_are_deterministic():
    np.testing.assert_array_equal(
        load_data("synthetic:manifold").x, load_data("synthetic:manifold").x
    )


def test_describe_datasets_lists_every_name():
    desc = describe_datasets()
    assert set(desc) == set(DATASETS.names())
    assert "1797" in desc["digits"]


def test_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(AutoencodingError) as e:
        load_data("mnist")
    msg = str(e.value)
    assert "unknown data source 'mnist'" in msg
    for name in ("digits", "iris", "wine", "breast_cancer", "diabetes", "synthetic:blobs"):
        assert name in msg
    assert ".npy, .csv or .parquet" in msg


# -- arrays and files -----------------------------------------------------------------------
def test_arrays_and_datasets_pass_through(rng):
    x = rng.normal(size=(5, 3))
    ds = load_data(x)
    assert ds.x.dtype == np.float32 and ds.x.shape == (5, 3) and ds.name == "array"
    assert load_data(ds) is ds
    assert load_data(x.tolist()).x.shape == (5, 3)


def test_npy_source(tmp_path, rng):
    x = rng.normal(size=(6, 2, 3)).astype(np.float64)
    np.save(tmp_path / "x.npy", x)
    ds = load_data(tmp_path / "x.npy")
    np.testing.assert_allclose(ds.x, x.astype(np.float32))
    assert ds.name == "x.npy" and ds.y is None


def frame(rng, n=8):
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 5, size=n),
            "c": rng.normal(size=n).astype(np.float32),
            "flag": rng.integers(0, 2, size=n).astype(bool),
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_sources(tmp_path, rng, suffix):
    df = frame(rng)
    path = tmp_path / f"t{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    ds = load_data(str(path))
    assert ds.x.shape == (8, 4) and ds.x.dtype == np.float32
    assert ds.feature_names == ["a", "b", "c", "flag"]
    np.testing.assert_allclose(ds.x[:, 0], df["a"].to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(ds.x[:, 3], df["flag"].to_numpy().astype(np.float32))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_column_selection_and_label(tmp_path, rng, suffix):
    df = frame(rng)
    df["kind"] = ["x", "y"] * 4  # non-numeric, but not selected
    path = tmp_path / f"t{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    ds = load_data(path, columns=["c", "a"])
    assert ds.feature_names == ["c", "a"]
    np.testing.assert_allclose(ds.x[:, 1], df["a"].to_numpy(), rtol=1e-6)
    labelled = load_data(path, columns=["a"], label="b")
    np.testing.assert_array_equal(labelled.y, df["b"].to_numpy())
    # the label column is removed from the features
    assert load_data(path, columns=None, label="kind").feature_names == ["a", "b", "c", "flag"]


def test_unknown_columns_list_the_available_ones(tmp_path, rng):
    frame(rng).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(AutoencodingError, match=r"column\(s\) \['z'\] not found; columns: \['a'"):
        load_data(tmp_path / "t.csv", columns=["a", "z"])
    with pytest.raises(AutoencodingError, match=r"label column 'y' not found"):
        load_data(tmp_path / "t.csv", label="y")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_non_numeric_columns_are_named(tmp_path, suffix):
    df = pd.DataFrame({"a": [1.0, 2.0], "city": ["Oslo", "Lima"], "b": [3, 4]})
    path = tmp_path / f"t{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    with pytest.raises(AutoencodingError, match=r"non-numeric column\(s\) \['city'\]; .*--columns"):
        load_data(path)


@pytest.mark.parametrize("bad, kind", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")])
def test_non_finite_values_are_located(tmp_path, bad, kind):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, bad, 6.0]})
    df.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(
        AutoencodingError,
        match=rf"1 non-finite values \({kind} first at row 1, "
        r"column 1\); remove or impute",
    ):
        load_data(tmp_path / "t.csv")
    x = df.to_numpy()
    np.save(tmp_path / "t.npy", x)
    with pytest.raises(AutoencodingError, match="non-finite"):
        load_data(tmp_path / "t.npy")
    with pytest.raises(AutoencodingError, match="non-finite"):
        load_data(x)


def test_an_empty_csv_cell_is_a_nan(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,\n")
    with pytest.raises(AutoencodingError, match=r"NaN first at row 1, column 1"):
        load_data(tmp_path / "t.csv")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.csv", "", "cannot be read"),
        ("header.csv", "a,b\n", "the file has no rows"),
    ],
)
def test_empty_files(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(AutoencodingError, match=message):
        load_data(tmp_path / name)


def test_empty_npy_and_empty_parquet(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((0, 3)))
    with pytest.raises(AutoencodingError, match=r"the data is empty \(shape \(0, 3\)\)"):
        load_data(tmp_path / "e.npy")
    pd.DataFrame({"a": pd.Series([], dtype=float)}).to_parquet(tmp_path / "e.parquet")
    with pytest.raises(AutoencodingError, match="the file has no rows"):
        load_data(tmp_path / "e.parquet")


def test_unreadable_files(tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"not numpy at all")
    with pytest.raises(AutoencodingError, match="not a readable .npy file"):
        load_data(tmp_path / "bad.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(AutoencodingError, match="not a readable .npy file"):  # never unpickles
        load_data(tmp_path / "obj.npy")
    (tmp_path / "bad.parquet").write_bytes(b"garbage")
    with pytest.raises(AutoencodingError, match="bad.parquet: cannot be read"):
        load_data(tmp_path / "bad.parquet")


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(AutoencodingError, match=r"data file '.*nope.csv' does not exist"):
        load_data(tmp_path / "nope.csv")
    with pytest.raises(AutoencodingError, match="unknown data source"):
        load_data(tmp_path / "x.txt")


@pytest.mark.parametrize(
    "x, message",
    [
        (np.array(["a", "b"]).reshape(1, 2), "expected numeric data, got dtype <U1"),
        (np.ones(5), r"expected a 2-D array \(samples × features\), got shape \(5,\)"),
        (np.ones((0, 4)), "the data is empty"),
        (np.ones((3, 0)), "the data is empty"),
        (np.float32(1.0), "got a single number"),
        ([[1, 2], [3]], "cannot be read as an array"),
    ],
)
def test_check_array_rejects(x, message):
    with pytest.raises(AutoencodingError, match=message):
        check_array(x, "data")


def test_check_array_accepts_ints_and_bools():
    assert check_array(np.array([[1, 0]], dtype=bool), "x").dtype == np.float32
    assert check_array([[1, 2]], "x").dtype == np.float32


# -- scaling --------------------------------------------------------------------------------
def test_auto_scaling_choices(rng):
    x01 = rng.uniform(size=(10, 3)).astype(np.float32)
    assert Scaler.fit("auto", x01).kind == "none"
    assert Scaler.fit("auto", x01 * 16, value_range=(0.0, 16.0)).kind == "range"
    assert Scaler.fit("auto", x01 * 5 - 1).kind == "standard"


@pytest.mark.parametrize("kind", ["standard", "minmax", "range", "none"])
def test_scaler_round_trip(kind, rng):
    x = (rng.normal(size=(20, 4)) * [1, 10, 100, 0.1] + [5, -3, 0, 1]).astype(np.float32)
    s = Scaler.fit(kind, x)
    xs = s.transform(x)
    assert xs.dtype == np.float32 and xs.shape == x.shape
    np.testing.assert_allclose(s.inverse_transform(xs), x, rtol=1e-5, atol=1e-4)
    if kind == "standard":
        np.testing.assert_allclose(xs.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(xs.std(0), 1, atol=1e-4)
    if kind in ("minmax", "range"):
        assert xs.min() == pytest.approx(0, abs=1e-6) and xs.max() == pytest.approx(1, abs=1e-6)


def test_range_scaling_uses_the_known_range(rng):
    x = rng.uniform(2, 10, size=(5, 1, 8, 8)).astype(np.float32)
    s = Scaler.fit("auto", x, value_range=(0.0, 16.0))
    np.testing.assert_allclose(s.transform(x), x / 16, rtol=1e-6)
    assert s.transform(x).shape == (5, 1, 8, 8)


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_constant_columns_pass_through_centred(kind):
    x = np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0]], dtype=np.float32)
    s = Scaler.fit(kind, x)
    xs = s.transform(x)
    assert np.isfinite(xs).all()
    np.testing.assert_array_equal(xs[:, 1], 0.0)
    np.testing.assert_allclose(s.inverse_transform(xs), x)


def test_constant_data_range_scaling_does_not_divide_by_zero():
    x = np.full((4, 2), 3.0, dtype=np.float32)
    s = Scaler.fit("range", x)
    assert np.isfinite(s.transform(x)).all()


def test_scaler_json_round_trip(rng):
    x = rng.normal(size=(10, 3)).astype(np.float32)
    for kind in ("standard", "minmax", "range", "none"):
        s = Scaler.fit(kind, x)
        doc = json.loads(json.dumps(s.to_dict()))
        s2 = Scaler.from_dict(doc)
        assert s2 == s
        np.testing.assert_array_equal(s2.transform(x), s.transform(x))


def test_scaler_errors():
    x = np.ones((4, 3), dtype=np.float32)
    with pytest.raises(AutoencodingError, match="unknown scaling 'log'; expected one of"):
        Scaler.fit("log", x)
    s = Scaler.fit("standard", x)
    with pytest.raises(AutoencodingError, match="scaler was fitted on 3 features, data has 5"):
        s.transform(np.ones((2, 5), dtype=np.float32))
    with pytest.raises(AutoencodingError, match="malformed scaler entry"):
        Scaler.from_dict({"kind": "standard"})


# -- splits ---------------------------------------------------------------------------------
def test_split_is_seeded_disjoint_and_complete():
    a_keep, a_out = split_indices(100, 0.2, seed=0)
    b_keep, b_out = split_indices(100, 0.2, seed=0)
    c_keep, c_out = split_indices(100, 0.2, seed=1)
    np.testing.assert_array_equal(a_out, b_out)
    assert not np.array_equal(a_out, c_out)
    assert len(a_out) == 20 and len(a_keep) == 80
    assert set(a_keep) | set(a_out) == set(range(100)) and not set(a_keep) & set(a_out)
    assert (np.diff(a_keep) > 0).all() and (np.diff(a_out) > 0).all()


def test_split_is_stratified_for_class_labels():
    y = np.array([0] * 80 + [1] * 20)
    keep, out = split_indices(100, 0.25, seed=3, y=y)
    assert (y[out] == 1).sum() == 5 and (y[out] == 0).sum() == 20
    np.testing.assert_array_equal(np.bincount(y[keep]), [60, 15])


def test_split_of_a_regression_target_is_not_stratified():
    y = np.linspace(0, 1, 50)  # float labels: nothing to stratify on
    keep, out = split_indices(50, 0.2, seed=0, y=y)
    assert len(out) == 10 and len(keep) == 40


def test_split_edge_cases():
    keep, out = split_indices(5, 0.0, seed=0)
    np.testing.assert_array_equal(keep, np.arange(5))
    assert len(out) == 0
    with pytest.raises(AutoencodingError, match=r"split fraction must be in \[0, 1\), got 1"):
        split_indices(10, 1.0, seed=0)
    with pytest.raises(AutoencodingError, match="too few rows"):
        split_indices(2, 0.5, seed=0)


def test_dataset_defaults():
    ds = Dataset(np.zeros((3, 2), dtype=np.float32))
    assert ds.sample_shape == (2,) and not ds.is_image and ds.name == "array"
