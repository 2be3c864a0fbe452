"""Integer probability tables and the range coder behind every bitstream we write.

A learned entropy model is a float function; a bitstream must not be. Decoding stays
bit-exact across runs, processes and thread counts because the coder never sees a float
computed at coding time: each model builds **integer frequency tables once** (at the end of
training, :meth:`Part.on_train_end`), keeps them as buffers in ``model.safetensors``, and
the coder only ever picks one row of a table per symbol (a channel for a factorized prior,
a scale level for a Gaussian conditional).

Symbols are coded with ``constriction``'s range coder (Bamler 2022, "Understanding Entropy
Coding With Asymmetric Numeral Systems (ANS): a Statistician's Perspective"), which writes
within 0.01% of the ideal size. Values outside a row's support are not clamped: the row
ends in an **escape** symbol and the value itself goes to a side stream of int32s, so a
round trip is exact whatever the latent holds.

Layout of one table set: ``counts`` (rows, L) int32 frequencies summing to 2^16 per row,
``offsets`` (rows,) the value of column 0, ``lengths`` (rows,) the columns in use, the last
used column being the escape.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import AutoencodingError

#: frequencies of one row sum to this (16-bit precision: ≤ 2^-16 of a bit lost per symbol
#: to rounding, far under the coder's own overhead)
TOTAL = 1 << 16


def _coder():
    try:
        import constriction
    except ImportError as e:  # pragma: no cover - the codec extra brings it
        raise AutoencodingError(
            "writing bitstreams needs the 'constriction' package: pip install 'autoencoding[codec]'"
        ) from e
    return constriction


def quantize_pmf(pmf: np.ndarray) -> np.ndarray:
    """Integer frequencies (int32, summing to :data:`TOTAL`) for each row of ``pmf``
    (rows, L) of probabilities whose last column is the escape mass. Every column gets at
    least 1, so any symbol, however unlikely under the model, stays codable."""
    pmf = np.clip(np.asarray(pmf, dtype=np.float64), 0.0, None)
    rows, width = pmf.shape
    if width + 1 > TOTAL:
        raise AutoencodingError(f"a probability table of {width} columns exceeds {TOTAL}")
    pmf = pmf / np.maximum(pmf.sum(1, keepdims=True), 1e-300)
    counts = np.floor(pmf * (TOTAL - width)).astype(np.int64) + 1
    short = TOTAL - counts.sum(1)
    counts[np.arange(rows), pmf.argmax(1)] += short  # the remainder goes to the mode
    return counts.astype(np.int32)


def pack_tables(rows: list[tuple[int, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Buffers for a list of (offset, pmf-with-escape) rows of varied length."""
    width = max(len(p) for _, p in rows)
    counts = np.zeros((len(rows), width), dtype=np.int32)
    for i, (_, p) in enumerate(rows):
        counts[i, : len(p)] = quantize_pmf(p[None])[0]
    return {
        "counts": torch.from_numpy(counts),
        "offsets": torch.tensor([o for o, _ in rows], dtype=torch.int32),
        "lengths": torch.tensor([len(p) for _, p in rows], dtype=torch.int32),
    }


def _models(counts: np.ndarray, lengths: np.ndarray, used: np.ndarray) -> dict[int, object]:
    c = _coder()
    return {
        int(r): c.stream.model.Categorical(
            counts[r, : lengths[r]].astype(np.float64), perfect=False
        )
        for r in used
    }


def encode(values: np.ndarray, rows: np.ndarray, tables: dict[str, torch.Tensor]) -> list[bytes]:
    """Two streams for integer ``values`` coded with table row ``rows`` (same shape): the
    range-coded symbols and the escaped values (int32, little endian)."""
    counts = tables["counts"].numpy()
    offsets = tables["offsets"].numpy().astype(np.int64)
    lengths = tables["lengths"].numpy().astype(np.int64)
    values = np.asarray(values, dtype=np.int64).ravel()
    rows = np.asarray(rows, dtype=np.int64).ravel()
    sym = values - offsets[rows]
    esc = lengths[rows] - 1
    out_of_range = (sym < 0) | (sym >= esc)
    sym = np.where(out_of_range, esc, sym).astype(np.int32)
    escaped = values[out_of_range].astype("<i4")
    used = np.unique(rows)
    models = _models(counts, lengths, used)
    enc = _coder().stream.queue.RangeEncoder()
    # Symbols are coded row by row (the decoder knows every symbol's row before it decodes,
    # so it walks the rows in the same order), each group in raster order.
    for r in used:
        enc.encode(sym[rows == r], models[int(r)])
    return [enc.get_compressed().astype("<u4").tobytes(), escaped.tobytes()]


def decode(streams: list[bytes], rows: np.ndarray, tables: dict[str, torch.Tensor]) -> np.ndarray:
    """The integer values :func:`encode` wrote, shaped like ``rows``."""
    if len(streams) != 2 or len(streams[0]) % 4 or len(streams[1]) % 4:
        raise AutoencodingError("corrupt bitstream: expected a symbol and an escape stream")
    counts = tables["counts"].numpy()
    offsets = tables["offsets"].numpy().astype(np.int64)
    lengths = tables["lengths"].numpy().astype(np.int64)
    shape = np.shape(rows)
    rows = np.asarray(rows, dtype=np.int64).ravel()
    used = np.unique(rows)
    models = _models(counts, lengths, used)
    dec = _coder().stream.queue.RangeDecoder(np.frombuffer(streams[0], dtype="<u4").copy())
    sym = np.empty(len(rows), dtype=np.int64)
    for r in used:
        where = rows == r
        sym[where] = dec.decode(models[int(r)], int(where.sum()))
    values = sym + offsets[rows]
    escaped = np.frombuffer(streams[1], dtype="<i4").astype(np.int64)
    esc = sym == lengths[rows] - 1
    if int(esc.sum()) != len(escaped):
        raise AutoencodingError(
            f"corrupt bitstream: {int(esc.sum())} escaped symbols but {len(escaped)} escaped values"
        )
    values[esc] = escaped
    return values.reshape(shape)
