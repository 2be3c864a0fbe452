"""A sharded on-disk activation store: write once, stream shuffled batches with bounded memory.

Layout of a store folder::

    manifest.json           model, hook, d, dtype, token and sequence counts, shard list
    shard-00000.npy         (n, d) activations (float16 by default)
    shard-00000.meta.npy    (n, 3) int32: token id, sequence index, position in sequence

Shards are written atomically and the manifest last, so a store whose writing was cut off
has no manifest and is refused with a clear message. Reading memory-maps the shards and
shuffles through a buffer of ``buffer_tokens`` rows filled from shards in random order, so
a store larger than RAM trains, and consecutive rows of a batch come from many sequences.
:class:`StoreBatches` is a re-iterable of batches with ``__len__``, the trainer's data seam.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import AutoencodingError
from ..train.batches import Batches

MANIFEST = "manifest.json"
FORMAT = 1
DTYPES = {"float16": np.float16, "float32": np.float32, "bfloat16": None}


def _atomic_save(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.save(fh, arr)
    os.replace(tmp, path)


class StoreWriter:
    """Appends activations (with token ids, sequence indices and positions) in shards."""

    def __init__(
        self,
        path: str | Path,
        d: int,
        dtype: str = "float16",
        shard_tokens: int = 1 << 18,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if dtype not in ("float16", "float32"):
            raise AutoencodingError(f"store dtype must be float16 or float32, got {dtype!r}")
        if shard_tokens < 1:
            raise AutoencodingError(f"shard_tokens must be >= 1, got {shard_tokens}")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        if (self.path / MANIFEST).exists():
            (self.path / MANIFEST).unlink()  # being rewritten: not a valid store until closed
        self.d, self.dtype, self.shard_tokens = d, dtype, shard_tokens
        self.meta = dict(meta or {})
        self.shards: list[dict[str, Any]] = []
        self._acts: list[np.ndarray] = []
        self._info: list[np.ndarray] = []
        self._pending = 0
        self.n_tokens = 0
        self.n_sequences = 0

    def add(
        self,
        acts: torch.Tensor | np.ndarray,
        tokens: Any = None,
        sequence: Any = None,
        position: Any = None,
    ) -> None:
        a = acts.detach().cpu().float().numpy() if isinstance(acts, torch.Tensor) else acts
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[1] != self.d:
            raise AutoencodingError(f"store: expected rows of {self.d} features, got {a.shape}")
        if not np.isfinite(a).all():
            raise AutoencodingError("store: activations contain NaN or inf")
        n = len(a)
        info = np.zeros((n, 3), dtype=np.int32)
        for j, v in enumerate((tokens, sequence, position)):
            if v is not None:
                info[:, j] = np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v)
        if sequence is not None and n:
            self.n_sequences = max(self.n_sequences, int(info[:, 1].max()) + 1)
        self._acts.append(a.astype(self.dtype))
        self._info.append(info)
        self._pending += n
        while self._pending >= self.shard_tokens:
            self._flush(self.shard_tokens)

    def _flush(self, n: int) -> None:
        acts, info = np.concatenate(self._acts), np.concatenate(self._info)
        name = f"shard-{len(self.shards):05d}"
        _atomic_save(self.path / f"{name}.npy", acts[:n])
        _atomic_save(self.path / f"{name}.meta.npy", info[:n])
        self.shards.append({"file": f"{name}.npy", "tokens": int(n)})
        self.n_tokens += int(n)
        self._acts, self._info = [acts[n:]], [info[n:]]
        self._pending = len(acts) - n

    def close(self) -> Path:
        if self._pending:
            self._flush(self._pending)
        if self.n_tokens == 0:
            raise AutoencodingError(f"store {self.path}: no activations were written")
        from .. import __version__

        doc = {
            "library": "autoencoding",
            "version": __version__,
            "format": FORMAT,
            **self.meta,
            "d": self.d,
            "dtype": self.dtype,
            "n_tokens": self.n_tokens,
            "n_sequences": self.n_sequences,
            "shards": self.shards,
        }
        tmp = self.path / f".{MANIFEST}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(doc, indent=2))
        os.replace(tmp, self.path / MANIFEST)
        return self.path


@dataclass
class ActivationStore:
    """A written store (or a token range of one), read lazily through memory maps."""

    path: Path
    manifest: dict[str, Any]
    start: int = 0
    stop: int | None = None

    @classmethod
    def open(cls, path: str | Path) -> ActivationStore:
        path = Path(path)
        mf = path / MANIFEST
        if not mf.exists():
            raise AutoencodingError(
                f"{path}: not an activation store (no {MANIFEST}; an interrupted write leaves "
                f"none — write it again)"
            )
        try:
            doc = json.loads(mf.read_text())
        except json.JSONDecodeError as e:
            raise AutoencodingError(f"{mf}: corrupt JSON ({e})") from None
        if doc.get("library") != "autoencoding" or not isinstance(doc.get("format"), int):
            raise AutoencodingError(f"{mf}: not an autoencoding activation store manifest")
        if doc["format"] > FORMAT:
            raise AutoencodingError(
                f"{mf}: store format {doc['format']} is newer than this autoencoding reads "
                f"({FORMAT}); upgrade autoencoding"
            )
        for s in doc["shards"]:
            if not (path / s["file"]).exists():
                raise AutoencodingError(
                    f"{path}: shard {s['file']} listed in {MANIFEST} is missing"
                )
        return cls(path, doc)

    @property
    def d(self) -> int:
        return int(self.manifest["d"])

    def __len__(self) -> int:
        stop = self.manifest["n_tokens"] if self.stop is None else self.stop
        return stop - self.start

    def split(self, fraction: float) -> tuple[ActivationStore, ActivationStore]:
        """(first ``fraction`` of the tokens, the rest), in stored order."""
        if not 0 < fraction < 1:
            raise AutoencodingError(f"split fraction must be in (0, 1), got {fraction}")
        cut = self.start + int(round(fraction * len(self)))
        return (
            ActivationStore(self.path, self.manifest, self.start, cut),
            ActivationStore(self.path, self.manifest, cut, self.start + len(self)),
        )

    def pieces(self) -> list[tuple[str, int, int]]:
        """(shard file, first row, end row) covering this store's token range."""
        out, offset = [], 0
        stop = self.start + len(self)
        for s in self.manifest["shards"]:
            a, b = max(self.start, offset), min(stop, offset + s["tokens"])
            if a < b:
                out.append((s["file"], a - offset, b - offset))
            offset += s["tokens"]
        return out

    def _load(self, file: str, a: int, b: int, what: str = "acts") -> np.ndarray:
        name = file if what == "acts" else file.replace(".npy", ".meta.npy")
        return np.load(self.path / name, mmap_mode="r")[a:b]

    def read(self, what: str = "acts") -> np.ndarray:
        """Everything in stored order (loads it into memory: for small stores and tests)."""
        return np.concatenate([np.asarray(self._load(f, a, b, what)) for f, a, b in self.pieces()])

    def iter_chunks(self, rows: int = 1 << 16) -> Iterator[torch.Tensor]:
        """Float32 chunks in stored order (for evaluation passes)."""
        for f, a, b in self.pieces():
            for c in range(a, b, rows):
                yield torch.from_numpy(np.array(self._load(f, c, min(b, c + rows)), np.float32))

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` rows drawn evenly across the range (for data-dependent initialisation)."""
        idx = np.linspace(0, len(self) - 1, num=min(n, len(self))).astype(np.int64)
        data = []
        offset = 0
        for f, a, b in self.pieces():
            sel = idx[(idx >= offset) & (idx < offset + b - a)] - offset
            if len(sel):
                data.append(np.array(self._load(f, a, b)[sel], np.float32))
            offset += b - a
        return torch.from_numpy(np.concatenate(data))


class StoreBatches(Batches):
    """Shuffled batches of a store for the trainer: re-iterable, with ``__len__``.

    Epoch ``e``'s order is a pure function of (seed, e): shards are visited in a random
    order and rows shuffled through a buffer of ``buffer_tokens`` rows (memory stays bounded
    by the buffer plus one shard). Under DDP each process takes its contiguous share of every
    global batch (``epoch(e, start, rank, world)``).
    """

    def __init__(
        self,
        store: ActivationStore,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        buffer_tokens: int = 1 << 19,
    ) -> None:
        if batch_size < 1:
            raise AutoencodingError(f"batch_size must be >= 1, got {batch_size}")
        self.store, self.batch_size, self.seed = store, batch_size, seed
        self.shuffle, self.buffer_tokens = shuffle, max(batch_size, buffer_tokens)
        self._epoch = 0

    def __len__(self) -> int:
        return -(-len(self.store) // self.batch_size)

    def _rows(self, epoch: int) -> Iterator[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        pieces = self.store.pieces()
        # split shards into slices so the buffer always mixes several of them
        step = max(1, self.buffer_tokens // 4)
        slices = [(f, c, min(b, c + step)) for f, a, b in pieces for c in range(a, b, step)]
        order = rng.permutation(len(slices)) if self.shuffle else range(len(slices))
        buf: list[np.ndarray] = []
        size = 0
        for i in order:
            f, a, b = slices[i]
            buf.append(np.asarray(self.store._load(f, a, b), dtype=np.float32))
            size += b - a
            if size >= self.buffer_tokens:
                block = np.concatenate(buf)
                if self.shuffle:
                    block = block[rng.permutation(len(block))]
                keep = len(block) - (len(block) % self.batch_size)
                yield block[:keep]
                buf, size = [block[keep:]], len(block) - keep
        if size:
            block = np.concatenate(buf)
            if self.shuffle:
                block = block[rng.permutation(len(block))]
            yield block

    def epoch(
        self, epoch: int, start: int = 0, rank: int = 0, world: int = 1
    ) -> Iterator[torch.Tensor]:
        i = 0
        for block in self._rows(epoch):
            for c in range(0, len(block), self.batch_size):
                if i >= start:
                    batch = torch.from_numpy(block[c : c + self.batch_size])
                    yield batch.tensor_split(world)[rank] if world > 1 else batch
                i += 1

    def __iter__(self) -> Iterator[torch.Tensor]:
        from ..train.distributed import world

        rank, size = world()
        e = self._epoch
        self._epoch += 1
        return self.epoch(e, 0, rank, size)


def store_from_array(
    x: Any, path: str | Path, dtype: str = "float32", meta: dict[str, Any] | None = None
) -> ActivationStore:
    """Write an array of embeddings ((n, d) array, ``.npy`` file or Parquet file of numeric
    columns) as a store, so embeddings train like transformer activations."""
    if isinstance(x, (str, Path)):
        p = Path(x)
        if not p.exists():
            raise AutoencodingError(f"{p} does not exist")
        if p.suffix == ".npy":
            x = np.load(p, mmap_mode="r")
        elif p.suffix == ".parquet":
            import pyarrow.parquet as pq

            x = np.column_stack([c.to_numpy() for c in pq.read_table(p).columns])
        else:
            raise AutoencodingError(f"{p}: expected a .npy or .parquet file of embeddings")
        meta = {"source": str(p), **(meta or {})}
    x = np.asarray(x)
    if x.ndim != 2 or len(x) == 0:
        raise AutoencodingError(f"embeddings must be a non-empty (n, d) array, got {x.shape}")
    w = StoreWriter(path, x.shape[1], dtype=dtype, meta=meta)
    for c in range(0, len(x), 1 << 16):
        w.add(np.asarray(x[c : c + (1 << 16)], np.float32))
    return ActivationStore.open(w.close())
