"""Image quality: SSIM and multi-scale SSIM, differentiable (usable as a training distortion).

Wang, Simoncelli & Bovik, "Multiscale structural similarity for image quality assessment"
(Asilomar 2003): contrast–structure terms at 5 dyadic scales and luminance at the coarsest,
combined with the weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); each scale uses an 11×11
Gaussian window with σ = 1.5 and constants K₁ = 0.01, K₂ = 0.03 on data of range 1.

Small images (e.g. 64×64 training patches) cannot host 5 scales of an 11-pixel window: the
scales that fit are used and their weights renormalised, so the measure stays defined (and
equals the standard one whenever the image is large enough, ≥ 161 pixels a side).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import AutoencodingError

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    g = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(g**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def _ssim_terms(x, y, win, c1, c2):
    ch = x.shape[1]
    mu_x = F.conv2d(x, win, groups=ch)
    mu_y = F.conv2d(y, win, groups=ch)
    sxx = F.conv2d(x * x, win, groups=ch) - mu_x**2
    syy = F.conv2d(y * y, win, groups=ch) - mu_y**2
    sxy = F.conv2d(x * y, win, groups=ch) - mu_x * mu_y
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    lum = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (lum * cs).flatten(2).mean(2), cs.flatten(2).mean(2)  # (B, C) each


def ms_ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, win_size: int = 11
) -> torch.Tensor:
    """MS-SSIM per image (B,) between batches shaped (B, C, H, W); 1 = identical."""
    if x.shape != y.shape or x.dim() != 4:
        raise AutoencodingError(
            f"ms_ssim: expected two batches of images (B, C, H, W) of one shape, got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    side = min(x.shape[-2:])
    if side < win_size:
        raise AutoencodingError(f"ms_ssim: images need sides >= {win_size}, got {side}")
    scales = 1
    while scales < len(WEIGHTS) and side // 2**scales >= win_size:
        scales += 1
    w = torch.tensor(WEIGHTS[:scales], dtype=x.dtype, device=x.device)
    w = w / w.sum()
    win = _window(win_size, 1.5, x.shape[1], x)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for s in range(scales):
        ssim, cs = _ssim_terms(x, y, win, c1, c2)
        values.append(torch.relu(ssim if s == scales - 1 else cs))
        if s < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stack = torch.stack(values, 0)  # (scales, B, C)
    return torch.prod(stack ** w.view(-1, 1, 1), 0).mean(1)
