"""Seeded train/validation/test splits (stratified when labels are classes)."""

from __future__ import annotations

import numpy as np

from ..errors import AutoencodingError


def split_indices(
    n: int, fraction: float, seed: int, y: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held_out) index arrays; held_out has round(fraction·n) rows (0 when fraction=0)."""
    if not 0 <= fraction < 1:
        raise AutoencodingError(f"split fraction must be in [0, 1), got {fraction}")
    idx = np.arange(n)
    if fraction == 0:
        return idx, idx[:0]
    n_out = max(1, int(round(fraction * n)))
    if n - n_out < 2:
        raise AutoencodingError(f"too few rows ({n}) to hold out {fraction:.0%} and still train")
    from sklearn.model_selection import train_test_split

    stratify = None
    if y is not None and y.dtype.kind in "iub":
        _, counts = np.unique(y, return_counts=True)
        if counts.min() >= 2 and n_out >= len(counts):
            stratify = y
    kept, out = train_test_split(idx, test_size=n_out, random_state=seed, stratify=stratify)
    return np.sort(kept), np.sort(out)
