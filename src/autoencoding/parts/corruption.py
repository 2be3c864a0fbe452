"""Corruptions: what the encoder is not allowed to see.

Each corruption maps a clean batch ``x`` to a :class:`~autoencoding.parts.base.Corrupted`
record: ``x`` (x̃, what the encoder sees) plus, where it applies, what was hidden, which
positions stay visible and which entries the loss counts. The noise corruptions here apply
only in training mode and hide no positions (the loss counts every entry).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import require
from .base import CORRUPTIONS, Corrupted, Corruption, NoOptions


@CORRUPTIONS.register("none")
class NoCorruption(Corruption):
    """The encoder sees the clean input."""

    Config = NoOptions
    identity = True

    def __init__(self, cfg: NoOptions) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> Corrupted:
        return Corrupted(x)


@dataclass
class GaussianNoiseConfig:
    std: float = 0.1
    """Standard deviation of the additive noise, in the scaled data's units."""

    def validate(self) -> None:
        require(self.std > 0, f"corruption 'gaussian': std must be > 0, got {self.std}")


@CORRUPTIONS.register("gaussian")
class GaussianNoise(Corruption):
    """Additive isotropic Gaussian noise, x̃ = x + σ·ε.

    Vincent et al., "Stacked Denoising Autoencoders" (JMLR 2010), section 4.
    """

    Config = GaussianNoiseConfig

    def __init__(self, cfg: GaussianNoiseConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, x: torch.Tensor) -> Corrupted:
        if not self.training:
            return Corrupted(x)
        return Corrupted(x + self.cfg.std * torch.randn_like(x))


@dataclass
class MaskingNoiseConfig:
    rate: float = 0.25
    """Fraction of input entries set to zero."""

    def validate(self) -> None:
        require(0 < self.rate < 1, f"corruption 'masking': rate must be in (0, 1), got {self.rate}")


@CORRUPTIONS.register("masking")
class MaskingNoise(Corruption):
    """Masking noise: a random fraction of entries is forced to 0.

    Vincent et al., "Extracting and Composing Robust Features with Denoising Autoencoders"
    (ICML 2008). The loss still counts every entry: the network must fill in what was
    removed from what remains.
    """

    Config = MaskingNoiseConfig

    def __init__(self, cfg: MaskingNoiseConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, x: torch.Tensor) -> Corrupted:
        if not self.training:
            return Corrupted(x)
        keep = torch.rand_like(x) >= self.cfg.rate
        # the zeroed entries are hidden, yet (as in the paper) the loss counts every entry
        return Corrupted(x * keep, hidden=~keep)
