"""Corruptions: what the encoder is not allowed to see.

Each corruption maps a clean batch ``x`` to ``(x̃, where)``; ``where`` is ``None`` (the loss
counts every entry) or a boolean mask of the entries the reconstruction loss must count.
Corruption is applied only in training mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import require
from .base import CORRUPTIONS, NoOptions


@CORRUPTIONS.register("none")
class NoCorruption(nn.Module):
    """The encoder sees the clean input."""

    Config = NoOptions

    def __init__(self, cfg: NoOptions) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return x, None


@dataclass
class GaussianNoiseConfig:
    std: float = 0.1
    """Standard deviation of the additive noise, in the scaled data's units."""

    def validate(self) -> None:
        require(self.std > 0, f"corruption 'gaussian': std must be > 0, got {self.std}")


@CORRUPTIONS.register("gaussian")
class GaussianNoise(nn.Module):
    """Additive isotropic Gaussian noise, x̃ = x + σ·ε.

    Vincent et al., "Stacked Denoising Autoencoders" (JMLR 2010), section 4.
    """

    Config = GaussianNoiseConfig

    def __init__(self, cfg: GaussianNoiseConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.training:
            return x, None
        return x + self.cfg.std * torch.randn_like(x), None


@dataclass
class MaskingNoiseConfig:
    rate: float = 0.25
    """Fraction of input entries set to zero."""

    def validate(self) -> None:
        require(0 < self.rate < 1, f"corruption 'masking': rate must be in (0, 1), got {self.rate}")


@CORRUPTIONS.register("masking")
class MaskingNoise(nn.Module):
    """Masking noise: a random fraction of entries is forced to 0.

    Vincent et al., "Extracting and Composing Robust Features with Denoising Autoencoders"
    (ICML 2008). The loss still counts every entry: the network must fill in what was
    removed from what remains.
    """

    Config = MaskingNoiseConfig

    def __init__(self, cfg: MaskingNoiseConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.training:
            return x, None
        keep = torch.rand_like(x) >= self.cfg.rate
        return x * keep, None
