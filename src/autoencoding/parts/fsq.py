"""Scalar quantizers: finite scalar quantization (FSQ) and learned per-dimension codebooks (QLAE).

Both quantize each latent dimension on its own, so there is no codebook to collapse: FSQ's
grid is fixed, QLAE's few values per dimension are learned but every dimension keeps its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from ..errors import AutoencodingError
from .base import BOTTLENECKS
from .quantization import (
    CodeTracker,
    Quantized,
    QuantizedBottleneck,
    sq_distance,
    straight_through,
)

MAX_FSQ_CODES = 2**24


@dataclass
class FSQConfig:
    levels: list[int] = field(default_factory=lambda: [8, 5, 5, 5])
    """Quantization levels of each dimension of a group; latent_dim must be a multiple of
    len(levels), and each group of len(levels) dimensions is one code in [0, prod(levels))."""
    dead_after: int = 1024
    """Window, in training samples, for codebook_usage and dead_codes."""
    prior: Literal["empirical", "uniform"] = "empirical"
    """Code distribution for sampling: decayed empirical frequencies per group, or uniform."""

    def validate(self) -> None:
        require(len(self.levels) >= 1, "bottleneck 'fsq': levels must list at least one level")
        require(
            all(v >= 2 for v in self.levels),
            f"bottleneck 'fsq': every level must be >= 2 (a dimension with one level "
            f"carries no information), got {self.levels}",
        )
        require(
            math.prod(self.levels) <= MAX_FSQ_CODES,
            f"bottleneck 'fsq': levels {self.levels} give {math.prod(self.levels)} codes per "
            f"group, more than the {MAX_FSQ_CODES} supported; use more, smaller groups",
        )
        require(
            self.dead_after >= 1,
            f"bottleneck 'fsq': dead_after must be >= 1 samples, got {self.dead_after}",
        )


@BOTTLENECKS.register("fsq")
class FiniteScalarQuantizer(QuantizedBottleneck):
    """FSQ: bound each dimension, round it to one of L levels, pass gradients straight through.

    Mentzer et al., "Finite Scalar Quantization: VQ-VAE Made Simple" (ICLR 2024)::

        h (B, n·m) ─ split into n groups of m = len(levels) dims
          ─ b = tanh(h + shift)·(L−1)/2 − offset   (each dim spans L integer levels)
          ─ z = round(b) / ⌊L/2⌋                   (gradient straight through the round)
        code of a group = Σ_i digit_i · Π_{j<i} L_j,   digit_i = round(b_i) + ⌊L_i/2⌋

    Why it works without extra losses: the grid is fixed and every grid point is reachable,
    so there is nothing to update and no codebook to collapse; the implied codebook has
    prod(levels) codes per group (the paper's [8, 5, 5, 5] ≈ 2¹⁰). Even L use the paper's
    half-step offset, giving the integer levels −L/2 … L/2 − 1 (odd L: −⌊L/2⌋ … ⌊L/2⌋).
    """

    Config = FSQConfig

    def __init__(self, cfg: FSQConfig, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.cfg = cfg
        m = len(cfg.levels)
        if latent_dim % m:
            raise AutoencodingError(
                f"bottleneck 'fsq': latent_dim {latent_dim} is not a multiple of len(levels) = "
                f"{m} (levels {cfg.levels}); use latent_dim = n_groups × {m}"
            )
        self.n_groups, self.group_dim = latent_dim // m, m
        self.prior = cfg.prior
        self.tracker = CodeTracker(self.n_groups, 1, math.prod(cfg.levels), cfg.dead_after)
        levels = torch.tensor(cfg.levels, dtype=torch.int64)
        # Slightly wider than (L−1)/2 so the extreme levels are reached (and the even-L shift
        # atanh(½ / half_l) stays finite even for L = 2); never wide enough to round past them.
        half_l = (levels - 1).double() * (1 + 1e-3) / 2
        offset = torch.where(levels % 2 == 0, 0.5, 0.0).double()
        basis = torch.cumprod(torch.cat([torch.ones(1, dtype=torch.int64), levels[:-1]]), 0)
        for name, value in [("levels", levels), ("basis", basis), ("half_width", levels // 2)]:
            self.register_buffer(name, value, persistent=False)
        for name, value in [
            ("half_l", half_l),
            ("offset", offset),
            ("shift", torch.atanh(offset / half_l)),
            ("scale", (levels // 2).double()),
        ]:
            self.register_buffer(name, value.float(), persistent=False)

    def bound(self, h: torch.Tensor) -> torch.Tensor:
        """Each dimension squashed into (−⌊L/2⌋ − ½, ⌊L/2⌋ + ½) so round() gives L values."""
        return torch.tanh(h + self.shift) * self.half_l - self.offset

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        digits = (codes.unsqueeze(-1) // self.basis) % self.levels  # (B, n, m)
        steps = (digits - self.half_width).to(self.scale.dtype)
        return (steps / self.scale).reshape(codes.shape[0], -1)

    def quantize(self, h: torch.Tensor) -> Quantized:
        batch = h.shape[0]
        b = self.bound(h.view(batch, self.n_groups, self.group_dim))
        steps = torch.round(b)
        digits = steps.detach().long() + self.half_width
        codes = (digits * self.basis).sum(-1)
        # round() gives -0.0 for small negatives where lookup gives +0.0; adding 0 fixes it
        steps = steps + 0.0
        if self.training:
            steps = straight_through(b, steps)
        z = (steps / self.scale).reshape(batch, -1)
        quant_error = ((b.detach() - steps.detach()) / self.scale).pow(2).mean()
        return Quantized(codes, z, {}, quant_error)


@dataclass
class QLAEConfig:
    n_values: int = 10
    """Learned scalar values per latent dimension (the paper's n_v)."""
    quantization: float = 0.3
    """Weight of the quantization loss ‖sg[h] − q‖², which moves the values toward the data."""
    commitment: float = 0.3
    """Weight of the commitment loss ‖h − sg[q]‖², which keeps encoder outputs near values."""
    init_range: float = 0.5
    """Values of each dimension start evenly spaced in [−init_range, init_range]."""
    dead_after: int = 1024
    """Window, in training samples, for codebook_usage and dead_codes."""
    prior: Literal["empirical", "uniform"] = "empirical"
    """Code distribution for sampling: decayed empirical frequencies per dimension, or
    uniform."""

    def validate(self) -> None:
        w = "bottleneck 'qlae'"
        require(
            self.n_values >= 2,
            f"{w}: n_values must be >= 2 (codebook size per dimension), got {self.n_values}",
        )
        require(self.quantization >= 0, f"{w}: quantization must be >= 0")
        require(self.commitment >= 0, f"{w}: commitment must be >= 0")
        require(self.init_range > 0, f"{w}: init_range must be > 0, got {self.init_range}")
        require(self.dead_after >= 1, f"{w}: dead_after must be >= 1 samples")


@BOTTLENECKS.register("qlae")
class LatentQuantizer(QuantizedBottleneck):
    """QLAE's latent quantization: a small learned scalar codebook per latent dimension.

    Hsu et al., "Disentanglement via Latent Quantization" (NeurIPS 2023)::

        h (B, d) ─ per dim j: nearest of values[j, 0..n_v) ─▶ codes (B, d) ─▶ q (B, d)
        z = h + sg[q − h]         loss += w_q‖sg[h] − q‖² + w_c‖h − sg[q]‖²

    Why it disentangles: each dimension can only take a few values, so the decoder must
    combine values across dimensions to explain the data; with independent factors the
    cheapest such code gives each factor its own dimensions. The paper pairs it with strong
    weight decay on the encoder and decoder (AdamW, 0.1; the ``qlae`` recipe sets it) to keep
    the decoder from undoing the quantization with large weights (the paper exempts the
    values and biases from the decay; :meth:`param_groups` puts the values in a group without
    weight decay).

    Both loss terms are summed over a sample's latents and averaged over the batch, like the
    library's likelihoods. The paper weighs them 0.01 against a per-pixel-mean BCE, i.e.
    0.01·n_features/latent_dim here (0.08 for 8×8 digits and 8 latents, 0.32 for 16×16
    images); the default 0.3 suits small images, and with 0.01 the encoder outputs drift far
    from the values (quantization error ~19 per entry on 16×16 images).
    """

    Config = QLAEConfig

    def __init__(self, cfg: QLAEConfig, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.cfg = cfg
        self.prior = cfg.prior
        self.tracker = CodeTracker(latent_dim, latent_dim, cfg.n_values, cfg.dead_after)
        grid = torch.linspace(-cfg.init_range, cfg.init_range, cfg.n_values)
        self.values = nn.Parameter(grid.repeat(latent_dim, 1))  # (d, n_v)

    def param_groups(self) -> list[dict]:
        """The scalar codebooks are exempt from weight decay, as in the paper."""
        return [{"params": [self.values], "weight_decay": 0.0}]

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        flat = self.values.reshape(-1, 1)
        return F.embedding(codes + self.tracker.offsets, flat).squeeze(-1)

    def quantize(self, h: torch.Tensor) -> Quantized:
        with torch.no_grad():
            codes = (h.detach().unsqueeze(-1) - self.values.unsqueeze(0)).abs().argmin(-1)
        q = self.lookup(codes)
        commitment = sq_distance(h, q.detach())
        losses = {
            "quantization": self.cfg.quantization * sq_distance(h.detach(), q),
            "commitment": self.cfg.commitment * commitment,
        }
        z = straight_through(h, q) if self.training else q
        return Quantized(codes, z, losses, commitment.detach() / self.latent_dim)
