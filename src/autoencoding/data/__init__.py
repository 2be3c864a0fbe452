"""Data: sources, scaling and splits."""

from . import (
    factors,  # noqa: F401  (registers synthetic:factors)
    series,  # noqa: F401  (registers aeon:* and mnist1d)
)
from .scaling import Scaler
from .sources import DATASETS, Dataset, check_array, describe_datasets, load_data
from .splits import split_indices

__all__ = [
    "DATASETS",
    "Dataset",
    "Scaler",
    "check_array",
    "describe_datasets",
    "load_data",
    "split_indices",
]
