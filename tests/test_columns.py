"""--columns / label apply to tables only: elsewhere they are an error, not silently ignored."""

import numpy as np
import pytest

from autoencoding.data import load_data
from autoencoding.errors import AutoencodingError


def test_columns_on_builtin_dataset_is_an_error():
    with pytest.raises(AutoencodingError, match="CSV and Parquet files only"):
        load_data("digits", columns=["a"])


def test_label_on_npy_is_an_error(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((4, 3), dtype=np.float32))
    with pytest.raises(AutoencodingError, match="CSV and Parquet files only"):
        load_data(str(tmp_path / "x.npy"), label="y")
