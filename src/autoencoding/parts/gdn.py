"""Fully convolutional analysis / synthesis transforms with GDN (the learned image codecs'
nets).

Ballé, Laparra & Simoncelli, "Density Modeling of Images Using a Generalized Normalization
Transformation" (ICLR 2016) and "End-to-end Optimized Image Compression" (ICLR 2017)::

    analysis:   x ─ conv5/2 ─ GDN ─ conv5/2 ─ GDN ─ conv5/2 ─ GDN ─ conv5/2 ─▶ y   (stride 16)
    synthesis:  ŷ ─ deconv5/2 ─ IGDN ─ … ─ deconv5/2 ─▶ x̂

GDN divides each channel by a learned norm of all channels at the same position,
yᵢ = xᵢ / √(βᵢ + Σⱼ γᵢⱼ xⱼ²): a cheap, local whitening that makes the latent closer to
independent, so a factorized or hyperprior entropy model fits it with fewer bits than
after a ReLU. IGDN multiplies instead (its approximate inverse). β and γ are kept
non-negative by a softplus reparametrisation (the paper projects them onto a floor).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from ..errors import AutoencodingError
from .base import DECODERS, ENCODERS, Decoder, Encoder


class GDN(nn.Module):
    """Generalized divisive normalization (``inverse=True``: IGDN)."""

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        # softplus⁻¹ of β = 1 and γ = 0.1·I: starts close to a scaled identity
        self.beta_raw = nn.Parameter(torch.full((channels,), 0.5413))
        gamma = torch.full((channels, channels), -9.21) + torch.eye(channels) * (9.21 - 2.252)
        self.gamma_raw = nn.Parameter(gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = F.softplus(self.beta_raw) + 1e-6
        gamma = F.softplus(self.gamma_raw)
        norm = F.conv2d(x * x, gamma[:, :, None, None], beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


@dataclass
class GDNConvConfig:
    channels: int = 64
    """Channels N of the hidden layers (the latent's channels are the model's latent_dim)."""
    layers: int = 4
    """Stride-2 convolutions (total stride 2**layers: 16 for 4)."""
    kernel: int = 5
    """Kernel size of every convolution."""
    gdn: bool = True
    """GDN / IGDN between layers; False uses ReLU (faster, usually a few % more bits)."""

    def validate(self) -> None:
        require(self.channels >= 1, f"channels must be >= 1, got {self.channels}")
        require(1 <= self.layers <= 6, f"layers must be in 1..6, got {self.layers}")
        require(self.kernel % 2 == 1, f"kernel must be odd, got {self.kernel}")


def _act(cfg: GDNConvConfig, ch: int, inverse: bool) -> nn.Module:
    return GDN(ch, inverse) if cfg.gdn else nn.ReLU()


def _check_image(shape: tuple[int | None, ...], who: str) -> None:
    if len(shape) != 3:
        raise AutoencodingError(f"{who}: works on images (C, H, W), got input shape {list(shape)}")


@ENCODERS.register("gdn-conv")
class AnalysisTransform(Encoder):
    """The analysis transform g_a: stride-2 convolutions with GDN between them."""

    Config = GDNConvConfig
    consumes = "spatial"
    produces = "spatial"

    def __init__(self, cfg: GDNConvConfig, input_shape: tuple[int, ...], out_features: int):
        super().__init__()
        _check_image(input_shape, "encoder 'gdn-conv'")
        self.stride = 2**cfg.layers
        for s in input_shape[1:]:
            if s is not None and s % self.stride:
                raise AutoencodingError(
                    f"encoder 'gdn-conv': image sides must be multiples of {self.stride} "
                    f"({cfg.layers} stride-2 layers), got {list(input_shape[1:])}"
                )
        chans = [input_shape[0]] + [cfg.channels] * (cfg.layers - 1) + [out_features]
        layers: list[nn.Module] = []
        for i in range(cfg.layers):
            layers.append(nn.Conv2d(chans[i], chans[i + 1], cfg.kernel, 2, cfg.kernel // 2))
            if i < cfg.layers - 1:
                layers.append(_act(cfg, chans[i + 1], inverse=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.stride or x.shape[-2] % self.stride:
            raise AutoencodingError(
                f"encoder 'gdn-conv': image sides must be multiples of {self.stride}, got "
                f"{tuple(x.shape[-2:])}; crop or pad the image"
            )
        return self.net(x)


@DECODERS.register("gdn-conv")
class SynthesisTransform(Decoder):
    """The synthesis transform g_s: stride-2 transposed convolutions with IGDN."""

    Config = GDNConvConfig
    consumes = "spatial"
    produces = "spatial"

    def __init__(
        self, cfg: GDNConvConfig, latent_dim: int, output_shape: tuple[int, ...], factor: int = 1
    ) -> None:
        super().__init__()
        _check_image(output_shape, "decoder 'gdn-conv'")
        chans = [latent_dim] + [cfg.channels] * (cfg.layers - 1) + [output_shape[0] * factor]
        layers: list[nn.Module] = []
        for i in range(cfg.layers):
            layers.append(
                nn.ConvTranspose2d(
                    chans[i], chans[i + 1], cfg.kernel, 2, cfg.kernel // 2, output_padding=1
                )
            )
            if i < cfg.layers - 1:
                layers.append(_act(cfg, chans[i + 1], inverse=True))
        self.net = nn.Sequential(*layers)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Start the output at each channel's mean (not 0): a short run then spends its
        steps on the image's detail rather than on its offset."""
        last = self.net[-1]
        if x.dim() == 4 and last.bias.numel() % x.shape[1] == 0:
            mean = x.mean(dim=(0, 2, 3))
            last.bias.copy_(mean.repeat(last.bias.numel() // x.shape[1]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
