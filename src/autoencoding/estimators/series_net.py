"""The network and the masks behind :class:`~autoencoding.estimators.TimeSeriesImputer`.

A masked autoencoder over time steps: a dilated-convolution net reads a window whose hidden
and missing entries were filled by linear interpolation, together with the visibility flags,
and predicts a correction to that interpolation::

    x (B, C, L), visible (B, C, L)
        │ linear interpolation of the visible entries per channel ──▶ base (B, C, L)
        ▼
    [base, visible] (B, 2C, L) ─ 1x1 conv ─▶ width W
        ─ K residual blocks (conv k=3, dilation 1, 2, 4, ..., GELU, GroupNorm) ─▶ W
        ─ 1x1 conv ─▶ correction (B, C, L)
    prediction = base + correction

Why residuals over interpolation: interpolation is already a good guess for short holes
(the MASK-TS-IMPUTE linear baseline), so the net only learns what it misses (curvature,
cross-channel structure, long gaps), which trains in far fewer steps than predicting raw
values. Why dilations: with kernel 3 and dilations 1..2^(K-1) the receptive field covers
2^(K+1) - 1 steps, so every step of a 64-step window, and a whole 16-step gap, is in view.
Masked training as in BERT / MAE (Devlin et al. 2019; He et al., "Masked Autoencoders Are
Scalable Vision Learners", CVPR 2022), with masks drawn like the missingness to fill: MCAR
entries at a random rate and contiguous per-channel gaps (as in SAITS' "masked imputation
task", Du et al., ESWA 2023).
"""

from __future__ import annotations

import torch
from torch import nn


def interpolate(x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of the visible entries along the last axis (nearest at the ends,
    0 where a row has no visible entry). x, visible: (..., L); hidden values are ignored."""
    n = x.shape[-1]
    idx = torch.arange(n, device=x.device).expand_as(x)
    prev = torch.where(visible, idx, torch.full_like(idx, -1)).cummax(-1).values
    nxt = torch.where(visible, idx, torch.full_like(idx, n))
    nxt = nxt.flip(-1).cummin(-1).values.flip(-1)
    has_prev, has_next = prev >= 0, nxt < n
    xv = torch.where(visible, x, torch.zeros_like(x))
    vp = xv.gather(-1, prev.clamp(min=0))
    vn = xv.gather(-1, nxt.clamp(max=n - 1))
    span = (nxt - prev).clamp(min=1).to(x.dtype)
    w = (idx - prev).to(x.dtype) / span
    inner = vp + w * (vn - vp)
    out = torch.where(has_prev & has_next, inner, torch.where(has_prev, vp, vn))
    out = torch.where(has_prev | has_next, out, torch.zeros_like(out))
    return torch.where(visible, x, out)


class _Block(nn.Module):
    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(width, width, 1)
        self.norm = nn.GroupNorm(1, width)
        self.act = nn.GELU()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.mix(self.act(self.norm(self.conv(h))))


class GapConvNet(nn.Module):
    """Dilated residual conv net predicting a correction to linear interpolation (see module)."""

    def __init__(self, channels: int, width: int = 64, depth: int = 6) -> None:
        super().__init__()
        self.inp = nn.Conv1d(2 * channels, width, 1)
        self.blocks = nn.Sequential(*[_Block(width, 2**i) for i in range(depth)])
        self.out = nn.Conv1d(width, channels, 1)
        nn.init.zeros_(self.out.weight)  # start as plain interpolation: a safe first guess
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """x, visible: (B, C, L) (hidden entries of x may hold anything) -> (B, C, L)."""
        base = interpolate(x, visible)
        h = self.inp(torch.cat([base, visible.to(x.dtype)], 1))
        return base + self.out(self.blocks(h))


def training_mask(
    shape: tuple[int, int, int],
    gen: torch.Generator,
    *,
    max_rate: float = 0.6,
    gap_share: float = 0.5,
    max_gap: int = 24,
) -> torch.Tensor:
    """Hidden entries (True) for one batch (B, C, L), drawn like the missingness to fill.

    Each window gets, with probability ``1 - gap_share``, MCAR entries at a rate drawn
    uniformly in [0.05, max_rate]; otherwise one contiguous gap per channel of a length drawn
    in [2, max_gap] at a random start (plus light MCAR at up to 10%, so gap-trained windows
    still see scattered holes). Why a mix: the MCAR-only model never learns to bridge long
    gaps (claim-check ``benchmarks/claims/ts_gap_masks.py``).
    """
    b, c, n = shape
    u = torch.rand(shape, generator=gen)
    is_gap = torch.rand(b, generator=gen) < gap_share
    rate = 0.05 + (max_rate - 0.05) * torch.rand(b, 1, 1, generator=gen)
    rate = torch.where(is_gap[:, None, None], 0.1 * torch.rand(b, 1, 1, generator=gen), rate)
    hidden = u < rate
    length = torch.randint(2, max(3, min(max_gap, n - 1) + 1), (b, c, 1), generator=gen)
    start = (torch.rand(b, c, 1, generator=gen) * (n - length + 1)).long()
    t = torch.arange(n)[None, None, :]
    gap = (t >= start) & (t < start + length)
    return hidden | (gap & is_gap[:, None, None])
