"""Batches from tensors in memory: no per-sample DataLoader overhead on small tables.

The order of epoch ``e`` is a pure function of (seed, e), so a resumed run continues with
exactly the batches it would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class InMemoryBatches:
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
