"""Entropy-model bottlenecks: a spatial latent, its rate in bits, and real bytes.

Ballé, Minnen, Singh, Hwang & Johnston, "Variational image compression with a scale
hyperprior" (ICLR 2018) — the factorized prior ("entropy bottleneck") and the scale
hyperprior; Minnen, Ballé & Toderici, "Joint Autoregressive and Hierarchical Priors for
Learned Image Compression" (NeurIPS 2018) — the mean-scale hyperprior (without its
autoregressive context model, which would make decoding serial)::

    factorized:  y ─ round ─▶ ŷ            rate = −log₂ p_c(ŷ)   (one learned CDF per channel)
    hyperprior:  y ─ h_a ─▶ z ─ round ─▶ ẑ ─ h_s ─▶ (μ, σ)
                 y ─ round(y − μ) + μ ─▶ ŷ   rate = −log₂ N(ŷ; μ, σ) ∗ U(−½, ½)  +  rate of ẑ

In training, rounding is replaced by additive uniform noise for the rate (a differentiable
upper bound of the discrete entropy); the decoder sees either the same noisy latent
(``decoder_input: noise``, the paper) or the rounded one with a straight-through gradient
(``round``, which removes the train/test mismatch). The loss term ``rate`` is the estimated
bits per pixel divided by ``lmbda·255²``, so that with the MSE reconstruction (per entry, data
in [0, 1]) the objective is CompressAI's λ·255²·MSE + bpp up to a constant factor.

Bytes: the end-of-training hook builds integer frequency tables (per channel for the
factorized prior, per scale level for the Gaussian conditional; see
:mod:`.entropy_coding`). The hyper-synthesis that chooses each symbol's scale level runs in
float64 on one thread when coding, so encoder and decoder pick the same level whatever the
caller's thread count.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from ..config import require
from ..errors import AutoencodingError
from . import entropy_coding as coding
from .base import BOTTLENECKS, Bottleneck, BottleneckOutput

LIKELIHOOD_FLOOR = 1e-9
SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 64.0, 160
#: a Gaussian row covers ±TAIL·σ around the mean; beyond it the escape symbol takes over
TAIL = 8.0


@contextmanager
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class FactorizedDensity(nn.Module):
    """One learned univariate CDF per channel (Ballé et al. 2018, appendix 6.1): a
    composition of monotone maps f_k(x) = g_k(H_k x + b_k), g_k(u) = u + a_k ⊙ tanh(u), with
    H_k ≥ 0 (softplus) and a_k ∈ (−1, 1) (tanh), ending in a sigmoid; ``filters`` are the
    hidden widths. ``quantiles`` (the 1e-9 tails and the median of each channel) are learned
    by :meth:`aux_loss` alone and bound the support of the coding tables."""

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale=10.0):
        super().__init__()
        widths = (1, *filters, 1)
        scale = init_scale ** (1.0 / (len(widths) - 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for k in range(len(widths) - 1):
            # softplus(init) = 1 / (scale · fan_out): the initial CDF spreads over ±init_scale
            init = math.log(math.expm1(1.0 / scale / widths[k + 1]))
            self.matrices.append(
                nn.Parameter(torch.full((channels, widths[k + 1], widths[k]), init))
            )
            self.biases.append(nn.Parameter(torch.rand(channels, widths[k + 1], 1) - 0.5))
            if k < len(widths) - 2:
                self.factors.append(nn.Parameter(torch.zeros(channels, widths[k + 1], 1)))
        q = torch.tensor([-init_scale, 0.0, init_scale]).expand(channels, 1, 3)
        self.quantiles = nn.Parameter(q.clone())
        self.tail = math.log(2 / 1e-9 - 1)

    def logits_cdf(self, x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        """Logit of the CDF at ``x`` shaped (channels, 1, n)."""
        for k, (m, b) in enumerate(zip(self.matrices, self.biases, strict=True)):
            m, b = (m.detach(), b.detach()) if detach else (m, b)
            x = torch.matmul(nn.functional.softplus(m), x) + b
            if k < len(self.factors):
                a = self.factors[k].detach() if detach else self.factors[k]
                x = x + torch.tanh(a) * torch.tanh(x)
        return x

    def _interval(self, v: torch.Tensor) -> torch.Tensor:
        """P([v − ½, v + ½]) for ``v`` shaped (channels, 1, n)."""
        lower = self.logits_cdf(v - 0.5)
        upper = self.logits_cdf(v + 0.5)
        # evaluate on the side of the median where the sigmoid is not saturated
        sign = -torch.sign(lower + upper).detach()
        return (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()

    def likelihood(self, y: torch.Tensor) -> torch.Tensor:
        """P(ŷ ∈ [y − ½, y + ½]) per entry of ``y`` (B, C, *spatial)."""
        c = y.shape[1]
        p = self._interval(y.transpose(0, 1).reshape(c, 1, -1))
        p = p.reshape(c, y.shape[0], *y.shape[2:]).transpose(0, 1)
        return p.clamp_min(LIKELIHOOD_FLOOR)

    def aux_loss(self) -> torch.Tensor:
        target = torch.tensor([-self.tail, 0.0, self.tail], device=self.quantiles.device)
        return (self.logits_cdf(self.quantiles, detach=True) - target).abs().sum()

    @torch.no_grad()
    def tables(self, max_width: int = 4096) -> dict[str, torch.Tensor]:
        """Integer coding tables, one row per channel over its integer support (from the
        learned tails) plus an escape column."""
        rows = []
        for c in range(self.quantiles.shape[0]):
            lo, hi = self.quantiles[c, 0, 0].item(), self.quantiles[c, 0, 2].item()
            lo, hi = math.floor(min(lo, hi)), math.ceil(max(lo, hi))
            if hi - lo + 1 > max_width - 1:
                mid = round(self.quantiles[c, 0, 1].item())
                lo, hi = mid - (max_width - 2) // 2, mid + (max_width - 2) // 2
            grid = torch.arange(lo, hi + 1, dtype=torch.float32).view(1, 1, -1)
            p = self._interval(grid.expand(self.quantiles.shape[0], 1, -1))[c, 0]
            p = p.double().numpy()
            rows.append((lo, np.append(p, max(1.0 - p.sum(), 0.0))))
        return coding.pack_tables(rows)


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


@dataclass
class EntropyConfig:
    lmbda: float = 0.013
    """Distortion weight λ (CompressAI's convention: loss = λ·255²·MSE + bpp)."""
    stride: int = 16
    """Pixels per latent position along each axis (the encoder's total stride), to turn bits
    per latent into bits per pixel."""
    decoder_input: Literal["noise", "round"] = "noise"
    """What the decoder sees in training: the noisy latent (the paper) or the rounded one
    with a straight-through gradient."""
    filters: list[int] | None = None
    """Hidden widths of the per-channel CDF network (None: [3, 3, 3], the paper's)."""

    def validate(self) -> None:
        require(self.lmbda > 0, f"lmbda must be > 0, got {self.lmbda}")
        require(self.stride >= 1, f"stride must be >= 1, got {self.stride}")
        require(
            self.decoder_input in ("noise", "round"),
            f"decoder_input must be 'noise' or 'round', got {self.decoder_input!r}",
        )


class _EntropyBase(Bottleneck):
    writes_bytes = True

    def _bpp(self, bits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        pixels = y.shape[0] * math.prod(y.shape[2:]) * self.cfg.stride**2
        return bits / pixels

    def _check(self, h: torch.Tensor) -> None:
        if h.dim() < 3:
            raise AutoencodingError(
                f"bottleneck {type(self).registry_name!r} needs a spatial latent (B, C, h, w), "
                f"got shape {tuple(h.shape)}; set latent_dim to [channels, null, null]"
            )

    def _need_tables(self) -> None:
        if not bool(self.tables_built):
            raise AutoencodingError(
                "compress: this model has no coding tables; they are built at the end of "
                "training (or call model.bottleneck.build_tables())"
            )

    def on_train_end(self, batches) -> None:
        self.build_tables()


@BOTTLENECKS.register("factorized")
class FactorizedBottleneck(_EntropyBase):
    """The factorized prior ("entropy bottleneck", Ballé et al. 2018): each latent channel
    has its own learned density; entries are independent given the channel."""

    Config = EntropyConfig

    def __init__(self, cfg: EntropyConfig, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.cfg = cfg
        self.density = FactorizedDensity(latent_dim, tuple(cfg.filters or (3, 3, 3)))
        self._register_tables(latent_dim)

    def _register_tables(self, rows: int) -> None:
        self.register_buffer("counts", torch.zeros(rows, 2, dtype=torch.int32))
        self.register_buffer("offsets", torch.zeros(rows, dtype=torch.int32))
        self.register_buffer("lengths", torch.full((rows,), 2, dtype=torch.int32))
        self.register_buffer("tables_built", torch.zeros((), dtype=torch.bool))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # the tables' width is only known once built: take the stored one
        for name in ("counts",):
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def aux_parameters(self) -> list[nn.Parameter]:
        return [self.density.quantiles]

    def aux_loss(self) -> torch.Tensor:
        return self.density.aux_loss()

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        self._check(h)
        if self.training:
            noisy = h + torch.empty_like(h).uniform_(-0.5, 0.5)
            z = noisy if self.cfg.decoder_input == "noise" else _round_ste(h)
            lik = self.density.likelihood(noisy)
        else:
            z = torch.round(h)
            lik = self.density.likelihood(z)
        bits = -torch.log2(lik).sum()
        bpp = self._bpp(bits, h)
        return BottleneckOutput(
            z=z,
            losses={"rate": bpp / (self.cfg.lmbda * 255**2)},
            stats={"bpp": bpp.detach()},
        )

    @torch.no_grad()
    def build_tables(self) -> None:
        t = self.density.tables()
        self.counts = t["counts"].to(self.offsets.device)
        self.offsets.copy_(t["offsets"])
        self.lengths.copy_(t["lengths"])
        self.tables_built.fill_(True)

    def _tables(self) -> dict[str, torch.Tensor]:
        return {"counts": self.counts.cpu(), "offsets": self.offsets.cpu(),
                "lengths": self.lengths.cpu()}  # fmt: skip

    def compress_latent(self, h: torch.Tensor) -> list[bytes]:
        self._check(h)
        self._need_tables()
        q = torch.round(h).to(torch.int64).cpu().numpy()
        rows = np.broadcast_to(
            np.arange(h.shape[1]).reshape(1, -1, *([1] * (h.dim() - 2))), q.shape
        )
        return coding.encode(q, rows, self._tables())

    def decompress_latent(self, streams: list[bytes], shape: tuple[int, ...]) -> torch.Tensor:
        self._need_tables()
        rows = np.broadcast_to(np.arange(shape[1]).reshape(1, -1, *([1] * (len(shape) - 2))), shape)
        q = coding.decode(streams, rows, self._tables())
        return torch.from_numpy(q.astype(np.float32))
