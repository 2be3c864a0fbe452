"""Several SAEs trained in one pass over one activation stream.

Reading activations is often the slow part; sweeping k, width or recipe, or training one
SAE per hook point, should not re-read them. :class:`SAEGroup` holds independent SAEs, each
reading its own column slice of the batch (one store, or several stores of the same tokens
side by side via :class:`ZippedBatches`), and sums their losses. The SAEs share no
parameter, so with a per-parameter optimizer (Adam) the sum trains each exactly as it would
train alone on the same batches — checkpoints, exact resume and DDP come from the trainer.

Python::

    group = SAEGroup([sae_k16, sae_k32, sae_k64])             # same stream, three k
    Trainer(group, cfg, out).fit(StoreBatches(store, 4096))
    group.save("runs/sweep")                                  # runs/sweep/sae0, sae1, ...
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import AutoencodingError
from ..model import Autoencoder, PipelineGroup
from ..train.batches import Batches
from .store import StoreBatches


class SAEGroup(PipelineGroup):
    """Independent SAEs on column slices of one batch; forward returns the summed loss."""

    member_prefix = "sae"  # logged as sae0/fvu, sae1/fvu, ... and saved as sae0/, sae1/, ...

    def __init__(
        self, members: Sequence[Autoencoder], slices: Sequence[tuple[int, int]] | None = None
    ) -> None:
        super().__init__()
        if not members:
            raise AutoencodingError("SAEGroup needs at least one SAE")
        self.members = nn.ModuleList(members)
        if slices is None:
            d = members[0].n_features
            if any(m.n_features != d for m in members):
                raise AutoencodingError(
                    "SAEs of different widths need slices (one stream per hook point)"
                )
            slices = [(0, d)] * len(members)
        if len(slices) != len(members):
            raise AutoencodingError(f"{len(members)} SAEs but {len(slices)} slices")
        for m, (a, b) in zip(members, slices, strict=True):
            if b - a != m.n_features:
                raise AutoencodingError(
                    f"slice {a}:{b} has {b - a} features; its SAE expects {m.n_features}"
                )
        self.slices = [tuple(s) for s in slices]

    def split(self, x: torch.Tensor) -> list[tuple[Autoencoder, torch.Tensor]]:
        return [(m, x[:, a:b]) for m, (a, b) in zip(self.members, self.slices, strict=True)]

    def save(self, path: str | Path) -> list[Path]:
        from ..api import TrainedModel
        from ..data.scaling import Scaler

        out = []
        for i, m in enumerate(self.members):
            scaler = Scaler.fit("none", np.zeros((1, m.n_features), np.float32))
            out.append(TrainedModel(m, scaler).save(Path(path) / f"{self.member_prefix}{i}"))
        return out


class ZippedBatches(Batches):
    """Batches of several aligned stores (the same tokens at different hook points), side by
    side: one shuffled order for all, columns concatenated in store order."""

    def __init__(self, batches: Sequence[StoreBatches]) -> None:
        if not batches:
            raise AutoencodingError("ZippedBatches needs at least one store")
        n = {len(b.store) for b in batches}
        if len(n) != 1:
            raise AutoencodingError(f"stores to zip must hold the same tokens, got sizes {n}")
        first = batches[0]
        for b in batches[1:]:
            if (b.batch_size, b.seed, b.buffer_tokens, b.shuffle) != (
                first.batch_size,
                first.seed,
                first.buffer_tokens,
                first.shuffle,
            ):
                raise AutoencodingError("zipped StoreBatches need the same batch settings")
            if b.store.pieces() != first.store.pieces() and [
                (x, y) for _, x, y in b.store.pieces()
            ] != [(x, y) for _, x, y in first.store.pieces()]:
                raise AutoencodingError("zipped stores must be sharded alike")
        self.batches = list(batches)

    def __len__(self) -> int:
        return len(self.batches[0])

    def epoch(
        self, epoch: int, start: int = 0, rank: int = 0, world: int = 1
    ) -> Iterator[torch.Tensor]:
        its = [b.epoch(epoch, start, rank, world) for b in self.batches]
        for parts in zip(*its, strict=True):
            yield torch.cat(parts, dim=1)
