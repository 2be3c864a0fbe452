"""Perceptual distortion for images: ``ms-ssim`` (1 − MS-SSIM per image).

Wang, Simoncelli & Bovik 2003 (see :mod:`autoencoding.evaluate.image_quality`). Learned
codecs optimised for MS-SSIM (Ballé et al. 2018, Minnen et al. 2018) trade pixel accuracy for
structure; with an entropy bottleneck the objective is D + R/(λ·255²), so CompressAI's
MS-SSIM λ (loss λ_ms·(1 − MS-SSIM) + bpp) corresponds to ``lmbda = λ_ms / 255²`` here.
"""

from __future__ import annotations

import torch

from .base import RECONSTRUCTIONS, NoOptions
from .reconstruction import Reconstruction


@RECONSTRUCTIONS.register("ms-ssim")
class MSSSIM(Reconstruction):
    """1 − MS-SSIM per image (data in [0, 1]); ``where`` is ignored (whole images)."""

    Config = NoOptions
    consumes = "spatial"

    def __init__(self, cfg: NoOptions, n_features: int | None) -> None:
        super().__init__(n_features)

    def per_sample(self, out: torch.Tensor, x: torch.Tensor, where=None) -> torch.Tensor:
        # Imported here, not at module level: evaluate/__init__ imports model, which imports
        # parts, so a module-level import makes `import autoencoding.parts` circular.
        from ..evaluate.image_quality import ms_ssim

        return 1.0 - ms_ssim(out[:, 0], x)
