"""Re-masking corruption for tables with missing values (ReMasker).

Du, Melo & Wang, "ReMasker: Imputing Tabular Data with Masked Autoencoding" (ICLR 2024)::

    x (values, observed) ─▶ hide a random ``rate`` of the OBSERVED entries ─▶ x̃ (values, visible)
    loss counts the hidden-but-observed entries only (``where``)

Why: a model trained to recover observed values it was not shown learns E[x_j | the rest]
for random subsets of "the rest", which is what imputing the truly missing entries needs;
truly missing entries are never targets because their values are unknown.

Input layouts (the model's ``input_shape``):

- ``[d]`` — a complete table; every entry counts as observed;
- ``[2, d]`` — a *masked table*: channel 0 holds the values (anything at missing entries,
  conventionally 0), channel 1 is 1 where the value was observed and 0 where missing.

The output ``x̃`` is always a masked table ``(B, 2, d)``: values zeroed and channel 1 cleared
wherever the encoder may not look. Every row that has an observed entry keeps at least one
visible (the reference implementation instead fixed the number of visible tokens at half the
columns, so rows with fewer observed entries trained on zero-filled missing cells as if they
were visible inputs and targets).

Unlike the noise corruptions, this one also applies in eval mode, with a fixed seed: the
forward pass is only used for losses (``encode``/``reconstruct`` skip the corruption), and a
validation loss needs hidden entries to score — the same ones every epoch, so that early
stopping compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ..config import require
from .base import CORRUPTIONS, Corrupted, Corruption


def split_masked(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, observed) of a complete ``(B, d)`` or masked ``(B, 2, d)`` table batch."""
    if x.dim() == 3 and x.shape[1] == 2:
        return x[:, 0], x[:, 1] > 0.5
    flat = x.flatten(1)
    return flat, torch.ones_like(flat, dtype=torch.bool)


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

    def __init__(self, cfg: RemaskConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, x: torch.Tensor) -> Corrupted:
        values, observed = split_masked(x)
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
        hidden = observed & ~visible
        x_tilde = torch.stack([torch.where(visible, values, 0.0), visible.to(values.dtype)], dim=1)
        counted = hidden if self.cfg.loss_on == "masked" else observed
        if x.dim() == 3 and x.shape[1] == 2:
            where = torch.stack([counted, torch.zeros_like(counted)], dim=1)
        else:
            where = counted.view(x.shape)
        return Corrupted(x_tilde, where=where, hidden=hidden)
