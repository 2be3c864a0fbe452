"""Re-masking corruption for tables with missing values (ReMasker).

Du, Melo & Wang, "ReMasker: Imputing Tabular Data with Masked Autoencoding" (ICLR 2024)::

    x (NaN = missing) ─▶ hide a random ``rate`` of the OBSERVED entries ─▶ x̃, hidden
    loss counts the hidden-but-observed entries only (``where``)

Why: a model trained to recover observed values it was not shown learns E[x_j | the rest]
for random subsets of "the rest", which is what imputing the truly missing entries needs;
truly missing entries are never targets because their values are unknown.

Input: a table batch ``(B, d)`` with NaN at the missing entries (a complete table has none;
``accepts_missing`` tells the model to let NaN through its input check). The record::

    x       values · visible   (NaN and hidden entries zeroed: the network never sees a NaN)
    hidden  ~visible           (B, d) bool: missing or re-masked, what the encoder may not use
    where   hidden & observed  (every observed entry with ``loss_on="observed"``)
    target  values             (NaN zero-filled; ``where`` never counts those entries)

Every row that has an observed entry keeps at least one visible (the reference implementation
instead fixed the number of visible tokens at half the columns, so rows with fewer observed
entries trained on zero-filled missing cells as if they were visible inputs and targets).
An encoder reads ``hidden`` to leave those entries out (the feature transformer drops their
tokens; an MLP with ``mask_input`` takes ``~hidden`` as extra inputs): a hidden entry's value
is 0, which alone would be indistinguishable from an observed 0.

Unlike the noise corruptions, this one also applies in eval mode, with a fixed seed: the
forward pass is only used for losses (``encode``/``reconstruct`` use :meth:`Remask.observe`,
which hides only the data's own missing entries), and a validation loss needs hidden entries
to score — the same ones every epoch, so that early stopping compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ..config import require
from .base import CORRUPTIONS, Corrupted, Corruption


def split_missing(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(values with NaN zero-filled, observed = not NaN) of a table batch, flattened to (B, d)."""
    flat = x.flatten(1)
    observed = ~torch.isnan(flat)
    return torch.where(observed, flat, 0.0), observed


@dataclass
class RemaskConfig:
    rate: float = 0.5
    """Fraction of the observed entries hidden from the encoder in each training step."""
    loss_on: Literal["masked", "observed"] = "masked"
    """Which entries the reconstruction loss counts: the hidden observed ones (as in MAE and
    ReMasker) or every observed one."""
    eval_seed: int = 0
    """Seed of the fixed mask used in eval mode (validation losses)."""

    def validate(self) -> None:
        require(0 < self.rate < 1, f"corruption 'remask': rate must be in (0, 1), got {self.rate}")


@CORRUPTIONS.register("remask")
class Remask(Corruption):
    """Hide a random fraction of the observed entries; the loss scores what was hidden."""

    Config = RemaskConfig
    accepts_missing = True

    def __init__(self, cfg: RemaskConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, x: torch.Tensor) -> Corrupted:
        values, observed = split_missing(x)
        if self.training:
            r = torch.rand(values.shape, device=values.device)
        else:
            g = torch.Generator(device=values.device).manual_seed(self.cfg.eval_seed)
            r = torch.rand(values.shape, generator=g, device=values.device)
        visible = observed & (r >= self.cfg.rate)
        # keep the observed entry with the largest draw visible in rows that lost them all
        lost = observed.any(1) & ~visible.any(1)
        if lost.any():
            keep = torch.where(observed, r, -1.0).argmax(1)
            visible[lost, keep[lost]] = True
        hidden = ~visible
        where = (hidden & observed) if self.cfg.loss_on == "masked" else observed
        shape = x.shape
        return Corrupted(
            torch.where(visible, values, 0.0).view(shape),
            where=where.view(shape),
            hidden=hidden.view(shape),
            target=values.view(shape),
        )

    def observe(self, x: torch.Tensor) -> Corrupted:
        """Inference: every observed entry visible, the missing ones (NaN) hidden."""
        values, observed = split_missing(x)
        shape = x.shape
        return Corrupted(
            values.view(shape), hidden=(~observed).view(shape), target=values.view(shape)
        )
