"""``autoencoding compress`` and ``autoencoding decompress``: files of bytes from a codec model.

::

    autoencoding train bmshj-hyperprior --data patches.npy --out codec
    autoencoding compress codec --data photo.png --out photo.aec
    autoencoding decompress photo.aec --model codec --out photo_decoded.png

``--data`` is an image file (PNG / JPEG / ..., read with Pillow) or a ``.npy`` of samples
(images (n, C, H, W) or vectors (n, D)). An image file is read as pixels in [0, 1] when the
model was trained on [0, 1] data, as 0–255 values when it was trained on a 0–255 range.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .errors import AutoencodingError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _unit_pixels(trained) -> bool:
    """Whether the model sees pixels in [0, 1] (its scaler keeps the data as it is)."""
    return trained.scaler.kind == "none"


def read_samples(path: str, trained) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise AutoencodingError(f"--data: no such file {path!r}")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except ValueError as e:
            raise AutoencodingError(f"--data: {path!r} is not a plain .npy array ({e})") from None
        if arr.ndim == len(trained.module.input_shape):
            arr = arr[None]  # one sample
        return arr.astype(np.float32)
    if suffix in IMAGE_SUFFIXES:
        from PIL import Image

        try:
            with Image.open(p) as im:
                channels = trained.module.input_shape[0]
                im = im.convert("L" if channels == 1 else "RGB")
                arr = np.asarray(im, dtype=np.float32)
        except OSError as e:
            raise AutoencodingError(f"--data: cannot read image {path!r}: {e}") from None
        arr = arr[None, None] if arr.ndim == 2 else arr.transpose(2, 0, 1)[None]
        return arr / 255.0 if _unit_pixels(trained) else arr
    raise AutoencodingError(
        f"--data: expected an image file ({', '.join(IMAGE_SUFFIXES)}) or a .npy array, got "
        f"{path!r}"
    )


def write_samples(path: str, arr: np.ndarray, trained) -> None:
    from .train.checkpoint import atomic_write

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        atomic_write(p, lambda tmp: np.save(tmp, arr))
        return
    if suffix not in IMAGE_SUFFIXES:
        raise AutoencodingError(
            f"--out: expected .npy or an image file ({', '.join(IMAGE_SUFFIXES)}), got {path!r}"
        )
    if arr.ndim != 4 or arr.shape[0] != 1 or arr.shape[1] not in (1, 3):
        raise AutoencodingError(
            f"--out {path!r}: an image file holds one image with 1 or 3 channels; these "
            f"samples are shaped {list(arr.shape)}: write .npy instead"
        )
    from PIL import Image

    pixels = arr[0] * 255.0 if _unit_pixels(trained) else arr[0]
    pixels = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
    im = Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
    atomic_write(p, lambda tmp: im.save(tmp, format=Image.registered_extensions()[suffix]))


def cmd_compress(args, parser) -> int:
    from . import api
    from .train.checkpoint import atomic_write

    trained = api.load(args.model)
    x = read_samples(args.data, trained)
    t = time.perf_counter()
    data = trained.compress(x)
    seconds = time.perf_counter() - t
    atomic_write(Path(args.out), lambda tmp: Path(tmp).write_bytes(data))
    n = x[0].size // x.shape[1] if x.ndim == 4 else None
    rate = f", {8 * len(data) / (len(x) * n):.4f} bpp" if n else ""
    print(f"{args.out}: {len(data)} bytes{rate} ({seconds:.3f} s)", file=sys.stderr)
    return 0


def cmd_decompress(args, parser) -> int:
    from . import api

    trained = api.load(args.model)
    p = Path(args.file)
    if not p.is_file():
        raise AutoencodingError(f"decompress: no such file {args.file!r}")
    t = time.perf_counter()
    arr = trained.decompress(p.read_bytes())
    seconds = time.perf_counter() - t
    write_samples(args.out, arr, trained)
    print(f"{args.out}: {list(arr.shape)} ({seconds:.3f} s)", file=sys.stderr)
    return 0


def add_compress_parsers(subparsers: Any) -> None:
    c = subparsers.add_parser(
        "compress",
        help="write samples as a bitstream with a codec model",
        description="Code --data (an image file or a .npy of samples) with a trained codec "
        "(bmshj-factorized, bmshj-hyperprior, mbt-mean-scale, vector-codec) into an .aec file.",
    )
    c.add_argument("model", help="trained codec folder")
    c.add_argument("--data", required=True, help="image file or .npy of samples")
    c.add_argument("--out", required=True, help="bitstream file to write (.aec)")
    c.set_defaults(func=cmd_compress)
    d = subparsers.add_parser(
        "decompress",
        help="decode a bitstream written by compress",
        description="Decode an .aec file with the codec folder that wrote it.",
    )
    d.add_argument("file", help="bitstream (.aec) written by compress")
    d.add_argument("--model", required=True, help="the codec folder that wrote it")
    d.add_argument("--out", required=True, help="output: .npy, or an image file for one image")
    d.set_defaults(func=cmd_decompress)


__all__ = ["add_compress_parsers"]
