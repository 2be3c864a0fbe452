"""The Gaussian conditional with a hyperprior: scale-only (Ballé et al. 2018) and mean-scale
(Minnen et al. 2018). See :mod:`.entropy` for the shared dataflow and the rate term.

Why a hyperprior: a factorized prior codes every position of a channel with one density,
yet the local scale of an image latent varies (edges vs flat regions). A small side latent
z = h_a(y), itself coded with a factorized prior, tells the decoder each position's scale σ
(and mean μ), so the main latent is coded with a density fitted to where it is.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..config import require
from ..errors import AutoencodingError
from . import entropy_coding as coding
from .base import BOTTLENECKS, BottleneckOutput
from .entropy import (
    LIKELIHOOD_FLOOR,
    SCALE_LEVELS,
    SCALE_MAX,
    SCALE_MIN,
    TAIL,
    EntropyConfig,
    FactorizedBottleneck,
    _EntropyBase,
    _one_thread,
    _round_ste,
)

_LOG_STEP = math.log(SCALE_MAX / SCALE_MIN) / (SCALE_LEVELS - 1)


@dataclass
class HyperpriorConfig(EntropyConfig):
    hyper_channels: int = 64
    """Channels of the side latent z and of the hyper-analysis/-synthesis nets."""
    means: bool = False
    """Predict a mean as well as a scale per position (Minnen et al. 2018's mean-scale)."""

    def validate(self) -> None:
        super().validate()
        require(self.hyper_channels >= 1, f"hyper_channels must be >= 1, got {self.hyper_channels}")


def gaussian_interval(v: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """P(N(0, σ²) ∈ [v − ½, v + ½]), computed on the left tail (|v|) for precision."""
    v = v.abs()
    upper = torch.special.ndtr((0.5 - v) / sigma)
    lower = torch.special.ndtr((-0.5 - v) / sigma)
    return (upper - lower).clamp_min(LIKELIHOOD_FLOOR)


def scale_levels() -> np.ndarray:
    return np.exp(math.log(SCALE_MIN) + _LOG_STEP * np.arange(SCALE_LEVELS))


def scale_index(sigma: torch.Tensor) -> np.ndarray:
    """The nearest scale level (in log space) of each σ; computed from float64 σ."""
    idx = torch.round(torch.log(sigma.double() / SCALE_MIN) / _LOG_STEP)
    return idx.clamp(0, SCALE_LEVELS - 1).to(torch.int64).numpy()


def gaussian_tables() -> dict[str, torch.Tensor]:
    """One row per scale level: integer offsets k ∈ [−⌈TAIL·σ⌉, ⌈TAIL·σ⌉] plus an escape."""
    from scipy.special import ndtr

    rows = []
    for s in scale_levels():
        r = math.ceil(TAIL * s)
        k = np.arange(-r, r + 1, dtype=np.float64)
        p = ndtr((k + 0.5) / s) - ndtr((k - 0.5) / s)
        rows.append((-r, np.append(p, 2 * ndtr(-(r + 0.5) / s))))
    return coding.pack_tables(rows)


@BOTTLENECKS.register("hyperprior")
class HyperpriorBottleneck(_EntropyBase):
    """Scale (or mean-scale) hyperprior over a spatial latent y (B, M, h, w), h and w
    multiples of 4::

        y ─ h_a ─▶ z ─ Q ─▶ ẑ ─ h_s ─▶ σ (, μ)       h_a: conv3 ─ conv5/2 ─ conv5/2
        y ─ Q(y − μ) + μ ─▶ ŷ                          h_s: mirror, transposed convs
    """

    Config = HyperpriorConfig

    def __init__(self, cfg: HyperpriorConfig, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.cfg = cfg
        m, n = latent_dim, cfg.hyper_channels
        act = nn.LeakyReLU if cfg.means else nn.ReLU
        self.h_a = nn.Sequential(
            nn.Conv2d(m, n, 3, 1, 1), act(),
            nn.Conv2d(n, n, 5, 2, 2), act(),
            nn.Conv2d(n, n, 5, 2, 2),
        )  # fmt: skip
        mid = n * 3 // 2 if cfg.means else n
        self.h_s = nn.Sequential(
            nn.ConvTranspose2d(n, n, 5, 2, 2, output_padding=1), act(),
            nn.ConvTranspose2d(n, mid, 5, 2, 2, output_padding=1), act(),
            nn.Conv2d(mid, 2 * m if cfg.means else m, 3, 1, 1),
        )  # fmt: skip
        self.hyper = FactorizedBottleneck(cfg, n)
        t = gaussian_tables()
        self.register_buffer("g_counts", torch.zeros_like(t["counts"]))
        self.register_buffer("g_offsets", torch.zeros_like(t["offsets"]))
        self.register_buffer("g_lengths", torch.zeros_like(t["lengths"]))
        self.register_buffer("tables_built", torch.zeros((), dtype=torch.bool))
        self._warned_small = False

    # The side latent's CDF tails train through ``self.hyper``'s own aux hooks: the trainer
    # calls the hooks of every nested part, so delegating here would count them twice.

    def _check(self, h: torch.Tensor) -> None:
        super()._check(h)
        if h.dim() != 4 or h.shape[2] % 4 or h.shape[3] % 4:
            raise AutoencodingError(
                f"bottleneck 'hyperprior' needs a latent (B, C, h, w) with h and w multiples of "
                f"4 (images whose sides are multiples of {4 * self.cfg.stride}), got "
                f"{tuple(h.shape)}"
            )

    def _params(self, z_hat: torch.Tensor, h_s: nn.Module | None = None):
        out = (h_s or self.h_s)(z_hat)
        if self.cfg.means:
            mu, s = out.chunk(2, dim=1)
        else:
            mu, s = torch.zeros_like(out), out
        sigma = nn.functional.softplus(s).clamp_min(SCALE_MIN)
        return mu, sigma

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        self._check(h)
        if self.training and min(h.shape[2], h.shape[3]) < 8 and not self._warned_small:
            # Measured (mbt-mean-scale, 64-px patches, 1900 steps): coffee coded whole took
            # 3.66 bpp, as independent 64-px tiles 0.32 bpp. With a 1x1 side latent h_s only
            # ever sees zero padding around it, and its scales do not carry over to images.
            self._warned_small = True
            warnings.warn(
                f"hyperprior: training on latents of {h.shape[2]}x{h.shape[3]} gives a side "
                f"latent of {h.shape[2] // 4}x{h.shape[3] // 4}; its scales do not carry over "
                f"to larger images (far more bits per pixel there). Train on patches of at "
                f"least {8 * self.cfg.stride} pixels a side.",
                stacklevel=2,
            )
        z = self.h_a(h if self.cfg.means else h.abs())
        if self.training:
            z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
            z_hat = z_noisy if self.cfg.decoder_input == "noise" else _round_ste(z)
            lik_z = self.hyper.density.likelihood(z_noisy)
            mu, sigma = self._params(z_hat)
            y_noisy = h + torch.empty_like(h).uniform_(-0.5, 0.5)
            lik_y = gaussian_interval(y_noisy - mu, sigma)
            y_hat = y_noisy if self.cfg.decoder_input == "noise" else _round_ste(h - mu) + mu
        else:
            z_hat = torch.round(z)
            lik_z = self.hyper.density.likelihood(z_hat)
            mu, sigma = self._params(z_hat)
            y_hat = torch.round(h - mu) + mu
            lik_y = gaussian_interval(y_hat - mu, sigma)
        bits_z = -torch.log2(lik_z).sum()
        bits = -torch.log2(lik_y).sum() + bits_z
        bpp = self._bpp(bits, h)
        return BottleneckOutput(
            z=y_hat,
            losses={"rate": bpp / (self.cfg.lmbda * 255**2)},
            stats={"bpp": bpp.detach(), "bpp_side": self._bpp(bits_z, h).detach()},
            params={"mean": mu.detach(), "scale": sigma.detach()},
        )

    @torch.no_grad()
    def build_tables(self) -> None:
        self.hyper.build_tables()
        t = gaussian_tables()
        self.g_counts.copy_(t["counts"])
        self.g_offsets.copy_(t["offsets"])
        self.g_lengths.copy_(t["lengths"])
        self.tables_built.fill_(True)

    def _gtables(self) -> dict[str, torch.Tensor]:
        return {"counts": self.g_counts.cpu(), "offsets": self.g_offsets.cpu(),
                "lengths": self.g_lengths.cpu()}  # fmt: skip

    @torch.no_grad()
    def _coding_params(self, z_hat: torch.Tensor):
        """(μ, σ) in float64 on one thread: the same bits in the encoder and the decoder,
        whatever thread count either process runs with."""
        h_s = copy.deepcopy(self.h_s).double().cpu()
        with _one_thread():
            return self._params(z_hat.double().cpu(), h_s)

    @torch.no_grad()
    def compress_latent(self, h: torch.Tensor) -> list[bytes]:
        self._check(h)
        self._need_tables()
        z = self.h_a(h if self.cfg.means else h.abs())
        z_streams = self.hyper.compress_latent(z)
        mu, sigma = self._coding_params(torch.round(z))
        q = torch.round(h.double().cpu() - mu).to(torch.int64).numpy()
        return z_streams + coding.encode(q, scale_index(sigma), self._gtables())

    @torch.no_grad()
    def decompress_latent(self, streams: list[bytes], shape: tuple[int, ...]) -> torch.Tensor:
        self._need_tables()
        if len(streams) != 4:
            raise AutoencodingError(
                f"corrupt bitstream: a hyperprior latent has 4 streams, got {len(streams)}"
            )
        b, _, hh, ww = shape
        z_shape = (b, self.cfg.hyper_channels, hh // 4, ww // 4)
        z_hat = self.hyper.decompress_latent(streams[:2], z_shape)
        mu, sigma = self._coding_params(z_hat)
        q = coding.decode(streams[2:], scale_index(sigma), self._gtables())
        return (torch.from_numpy(q).double() + mu).float()
