"""Synthetic images with known, independent factors of variation (for disentanglement).

``synthetic:factors``: 16×16 images of one Gaussian blob, one image per combination of four
factors — x position, y position, width and brightness — so the factors are exactly
independent and uniform, as in dSprites (Matthey et al. 2017) on a smaller scale. The
set is a full grid, hence the same on every machine without a seed or a download; the
factor indices ride along in ``Dataset.meta["factors"]`` (n, 4) with their names in
``meta["factor_names"]``, for :mod:`autoencoding.evaluate.disentanglement`.
"""

from __future__ import annotations

import numpy as np

from .sources import DATASETS, Dataset

#: values per factor of the built-in set (8·8·4·4 = 1024 images)
FACTOR_SIZES = {"x": 8, "y": 8, "width": 4, "brightness": 4}
SIDE = 16


def factor_blobs(sizes: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every combination of the factors: images (n, 256) in [0, 1] and factor indices (n, 4).

    ``sizes`` gives the number of values of ``x``, ``y``, ``width`` and ``brightness``
    (default :data:`FACTOR_SIZES`); positions span pixels 3.5-11.5, widths 1-2.5 pixels,
    brightness 0.4-1.
    """
    sizes = {**FACTOR_SIZES, **(sizes or {})}
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in sizes.values()], indexing="ij"), -1)
    factors = grid.reshape(-1, len(sizes))
    xs = np.linspace(3.5, 11.5, sizes["x"])[factors[:, 0]]
    ys = np.linspace(3.5, 11.5, sizes["y"])[factors[:, 1]]
    width = np.linspace(1.0, 2.5, sizes["width"])[factors[:, 2]]
    bright = np.linspace(0.4, 1.0, sizes["brightness"])[factors[:, 3]]
    i, j = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij")
    d2 = (i[None] - ys[:, None, None]) ** 2 + (j[None] - xs[:, None, None]) ** 2
    img = bright[:, None, None] * np.exp(-d2 / (2 * width[:, None, None] ** 2))
    return img.reshape(len(img), -1).astype(np.float32), factors


@DATASETS.register("synthetic:factors")
def _factors() -> Dataset:
    """1024 16×16 images (flat, in [0, 1]) of a blob from 4 independent factors: x, y, width,
    brightness; factor indices in meta["factors"]."""
    x, factors = factor_blobs()
    return Dataset(
        x,
        None,
        "synthetic:factors",
        value_range=(0.0, 1.0),
        meta={"factors": factors, "factor_names": list(FACTOR_SIZES)},
    )
