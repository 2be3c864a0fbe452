"""Images from a folder of PNG/JPEG files (Pillow): one array (n, C, H, W) in [0, 1].

    autoencoding train mae --data path/to/folder/ ...

Every file must have the same size (resize them first: silently resizing would change what the
model learns); grey-level files give C = 1, colour files C = 3 (RGBA and palette files are
converted to RGB). Files are read in sorted name order so the sample order is reproducible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AutoencodingError
from .sources import Dataset

#: File suffixes read as images.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def load_image_folder(folder: str | Path) -> Dataset:
    """A :class:`Dataset` (n, C, H, W) float32 in [0, 1] of the images in ``folder``."""
    root = Path(folder)
    if not root.is_dir():
        raise AutoencodingError(f"image folder {str(folder)!r} does not exist")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise AutoencodingError(
            f"{folder}: no image files found (expected {', '.join(IMAGE_SUFFIXES)})"
        )
    try:
        from PIL import Image
    except ImportError as e:
        raise AutoencodingError(f"reading images needs Pillow: pip install pillow ({e})") from None
    arrays = []
    for p in files:
        try:
            with Image.open(p) as im:
                im = im.convert("L") if im.mode in ("L", "1", "I;16", "I") else im.convert("RGB")
                arr = np.asarray(im, dtype=np.float32) / 255.0
        except Exception as e:
            raise AutoencodingError(f"{p}: cannot be read as an image ({e})") from None
        arrays.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape
        odd = next(f for f, a in zip(files, arrays, strict=True) if a.shape != first)
        raise AutoencodingError(
            f"{folder}: images differ in size or channels ({files[0].name} is {first}, "
            f"{odd.name} is {arrays[files.index(odd)].shape}); resize them to one size first"
        )
    x = np.stack(arrays).astype(np.float32)
    return Dataset(
        x, None, root.name, value_range=(0.0, 1.0), meta={"files": [f.name for f in files]}
    )
