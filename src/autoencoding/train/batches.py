"""Batches from tensors in memory: no per-sample DataLoader overhead on small tables.

The order of epoch ``e`` is a pure function of (seed, e), so a resumed run continues with
exactly the batches it would have seen.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

import torch


class Batches(ABC):
    """What the trainer consumes: a known number of batches per epoch, and the batches of
    any epoch from any batch index (which makes resume exact), split across DDP ranks."""

    @abstractmethod
    def __len__(self) -> int:
        """Batches per epoch (per global batch under DDP)."""

    @abstractmethod
    def epoch(
        self, epoch: int, start: int = 0, rank: int = 0, world: int = 1
    ) -> Iterator[torch.Tensor]:
        """The batches of ``epoch`` from batch index ``start``; this rank's share of each."""


class IterableBatches(Batches):
    """Any sized, re-iterable collection of batch tensors (a list, a DataLoader): every epoch
    iterates it afresh. Resume skips the batches already seen; its order is the iterable's
    own (exact when the iterable is deterministic). Each process reads whole batches."""

    def __init__(self, batches: Iterable[torch.Tensor]) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def epoch(
        self, epoch: int, start: int = 0, rank: int = 0, world: int = 1
    ) -> Iterator[torch.Tensor]:
        for i, xb in enumerate(self.batches):
            if i >= start:
                yield xb


class InMemoryBatches(Batches):
    """Shuffled mini-batches of a tensor that fits in memory."""

    def __init__(
        self, x: torch.Tensor, batch_size: int, seed: int = 0, shuffle: bool = True
    ) -> None:
        self.x = x
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(len(self.x))
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.x), generator=g)

    def epoch(
        self, epoch: int, start: int = 0, rank: int = 0, world: int = 1
    ) -> Iterator[torch.Tensor]:
        """Batches of ``epoch`` from batch index ``start``; under DDP each rank gets its
        contiguous share of every global batch."""
        perm = self.order(epoch)
        for b in range(start, len(self)):
            idx = perm[b * self.batch_size : (b + 1) * self.batch_size]
            if world > 1:
                idx = idx.tensor_split(world)[rank]
            yield self.x[idx]


class ArrayBatches(InMemoryBatches):
    """Batches read from a NumPy array or memory-mapped ``.npy`` that does not fit in memory.

    Only the rows of the current batch are read (in sorted order, which keeps memory-mapped
    reads sequential within a batch) and passed through ``transform`` (e.g. the scaler).
    """

    def __init__(
        self, x, batch_size: int, seed: int = 0, shuffle: bool = True, transform=None, rows=None
    ) -> None:
        super().__init__(x, batch_size, seed, shuffle)
        self.transform = transform
        self.rows = rows  # optional subset of row indices (e.g. the training split)

    def __len__(self) -> int:
        n = len(self.rows) if self.rows is not None else len(self.x)
        return -(-n // self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        n = len(self.rows) if self.rows is not None else len(self.x)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        return perm if self.rows is None else torch.as_tensor(self.rows)[perm]

    def epoch(
        self, epoch: int, start: int = 0, rank: int = 0, world: int = 1
    ) -> Iterator[torch.Tensor]:
        import numpy as np

        perm = self.order(epoch).numpy()
        for b in range(start, len(self)):
            idx = perm[b * self.batch_size : (b + 1) * self.batch_size]
            if world > 1:
                idx = np.array_split(idx, world)[rank]
            rows = np.asarray(self.x[np.sort(idx)], dtype=np.float32)
            if self.transform is not None:
                rows = self.transform(rows)
            yield torch.from_numpy(rows)
