"""Patches and position embeddings for masked autoencoders on series, images and video.

A sample is cut into non-overlapping patches on a regular grid; each patch becomes one
token. The same code serves every rank of data (the batch axis and one channel axis
first)::

    series (C, T)        patch (p,)          grid (T/p,)             PatchTST / PITS
    image  (C, H, W)     patch (ph, pw)      grid (H/ph, W/pw)       ViT / MAE
    video  (C, T, H, W)  patch (pt, ph, pw)  grid (T/pt, H/ph, W/pw) tubelets (VideoMAE, MAE-ST)

Channel-independent patches (Nie et al., "A Time Series is Worth 64 Words", ICLR 2023;
Lee et al., "Learning to Embed Time Series Patches Independently", ICLR 2024) cut each
channel on its own: every channel becomes its own token sequence (a *group*) and the patch
embedding weights are shared across channels. Otherwise a patch holds every channel
(one group). Tokens are laid out group-major::

    x (B, C, *S) ─ patchify ─▶ (B, G, n, patch_dim)    G = C (channel-independent) or 1
                                                       n = prod(S_i / p_i)
                                                       patch_dim = prod(p_i) (· C if G = 1)

A flat token index ``g * n + i`` (group g, grid cell i in row-major order) is what the
masking corruptions put in ``Corrupted.visible`` and ``Corrupted.hidden`` (shaped (B, G·n)).

Position embeddings are the fixed sin-cos embeddings of Vaswani et al. (2017), one 1-D
embedding per grid axis concatenated (the 2-D form of He et al., "Masked Autoencoders Are
Scalable Vision Learners", CVPR 2022; 3-D for video). They are computed at construction and
are never zero (Hugging Face's ViTMAE, built from a config, leaves them at zero, so every
masked patch gets the same prediction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import AutoencodingError
from .base import Encoder

#: names of the data ranks a patch grid accepts (sample rank without the channel axis)
RANK_NAMES = {1: "series (C, T)", 2: "image (C, H, W)", 3: "video (C, T, H, W)"}


@dataclass(frozen=True)
class PatchGrid:
    """How a sample is cut into tokens (built by :func:`make_grid`)."""

    sample_shape: tuple[int, ...]
    """(C, *S): the sample's channels then its series/image/video sizes."""
    patch: tuple[int, ...]
    """Patch size along each axis of S."""
    channel_independent: bool
    """True: each channel is its own token sequence (groups = C)."""

    @property
    def channels(self) -> int:
        return self.sample_shape[0]

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.sample_shape[1:]

    @property
    def grid(self) -> tuple[int, ...]:
        """Patches along each axis of S."""
        return tuple(s // p for s, p in zip(self.sizes, self.patch, strict=True))

    @property
    def groups(self) -> int:
        """Token sequences per sample: C when channel-independent, else 1."""
        return self.channels if self.channel_independent else 1

    @property
    def n(self) -> int:
        """Tokens per group."""
        return math.prod(self.grid)

    @property
    def tokens(self) -> int:
        """Tokens per sample (groups × n)."""
        return self.groups * self.n

    @property
    def patch_dim(self) -> int:
        """Values in one token's patch."""
        per_channel = math.prod(self.patch)
        return per_channel if self.channel_independent else per_channel * self.channels

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, *S) → (B, G, n, patch_dim), one reshape and one permute (no loops)."""
        b, r = x.shape[0], len(self.grid)
        split = [b, self.channels]
        for g, p in zip(self.grid, self.patch, strict=True):
            split += [g, p]
        x = x.reshape(split)
        grid_axes = [2 + 2 * i for i in range(r)]
        patch_axes = [3 + 2 * i for i in range(r)]
        if self.channel_independent:  # (B, C, g..., p...)
            x = x.permute(0, 1, *grid_axes, *patch_axes)
        else:  # (B, g..., C, p...): one token holds every channel of its patch
            x = x.permute(0, *grid_axes, 1, *patch_axes)
        return x.reshape(b, self.groups, self.n, self.patch_dim)

    def unpatchify(self, t: torch.Tensor) -> torch.Tensor:
        """(B, G, n, patch_dim) → (B, C, *S); the inverse of :meth:`patchify`."""
        b, r = t.shape[0], len(self.grid)
        c = self.channels
        if self.channel_independent:
            t = t.reshape(b, c, *self.grid, *self.patch)
            src = [1] + [2 + i for i in range(r)] + [2 + r + i for i in range(r)]
        else:
            t = t.reshape(b, *self.grid, c, *self.patch)
            src = [1 + r] + [1 + i for i in range(r)] + [2 + r + i for i in range(r)]
        # back to (B, C, g1, p1, g2, p2, ...)
        order = [0, src[0]]
        for i in range(r):
            order += [src[1 + i], src[1 + r + i]]
        return t.permute(order).reshape(b, *self.sample_shape)

    def token_entries(self, hidden: torch.Tensor) -> torch.Tensor:
        """A per-token flag (B, G·n) spread over the entries of its patch: (B, C, *S)."""
        b = hidden.shape[0]
        t = hidden.view(b, self.groups, self.n, 1).expand(-1, -1, -1, self.patch_dim)
        return self.unpatchify(t)


def make_grid(
    sample_shape: tuple[int | None, ...],
    patch: list[int] | tuple[int, ...],
    channels: bool | str,
    part: str,
) -> PatchGrid:
    """The patch grid of samples shaped ``sample_shape``, or one clear error: the input must
    be a series, an image or a video of fixed size, and each patch size must divide its
    axis. ``channels``: True / 'independent' (each channel its own token sequence), False /
    'mixed' (one token holds every channel), 'auto' (independent for series only)."""
    shape = tuple(sample_shape)
    r = len(shape) - 1
    if isinstance(channels, str):
        channels = channels == "independent" or (channels == "auto" and r == 1)
    if r not in RANK_NAMES or None in shape:
        raise AutoencodingError(
            f"{part}: expects samples shaped like a {', an '.join(RANK_NAMES.values())} with "
            f"fixed sizes, got shape {list(shape)}"
        )
    p = tuple(int(v) for v in patch)
    if len(p) == 1:
        p = p * r
    if len(p) != r or any(v < 1 for v in p):
        raise AutoencodingError(
            f"{part}: patch must be one positive size or {r} (one per axis of a "
            f"{RANK_NAMES[r]}), got {list(patch)}"
        )
    sizes = shape[1:]
    bad = [(s, q) for s, q in zip(sizes, p, strict=True) if s % q]
    if bad:
        raise AutoencodingError(
            f"{part}: patch {list(p)} must divide the sample's sizes {list(sizes)} "
            f"(size {bad[0][0]} is not a multiple of {bad[0][1]}); choose a patch that divides "
            f"it or crop/pad the data"
        )
    return PatchGrid(tuple(int(s) for s in shape), p, bool(channels))  # type: ignore[arg-type]


def sincos_1d(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """(len(positions), dim) sin-cos embedding of Vaswani et al. (2017): half sines, half
    cosines at frequencies 1/10000^(k/(dim/2)). ``dim`` must be even."""
    k = torch.arange(dim // 2, dtype=torch.float64) / max(1, dim // 2)
    omega = 1.0 / 10000**k
    angles = positions.to(torch.float64)[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_embedding(grid: tuple[int, ...], dim: int) -> torch.Tensor:
    """(prod(grid), dim) fixed position embedding of a 1-D/2-D/3-D grid, row-major.

    Each grid axis gets an even share of ``dim`` (the first axis takes what does not split
    evenly; an odd last column stays 0) and its own 1-D sin-cos embedding; the shares are
    concatenated, as MAE does for 2-D (its ``get_2d_sincos_pos_embed``) and MAE-ST for 3-D.
    Every row is non-zero (cos 0 = 1) and rows differ (distinct coordinates on some axis).
    """
    r = len(grid)
    share = 2 * (dim // (2 * r))
    if share == 0:
        raise AutoencodingError(
            f"position embedding: width {dim} is too small for a {r}-D grid (need >= {2 * r})"
        )
    shares = [share] * r
    shares[0] += 2 * ((dim - share * r) // 2)
    coords = torch.meshgrid(*[torch.arange(g) for g in grid], indexing="ij")
    parts = [sincos_1d(c.reshape(-1), d) for c, d in zip(coords, shares, strict=True)]
    out = torch.cat(parts, dim=1)
    if out.shape[1] < dim:
        out = torch.cat([out, out.new_zeros(out.shape[0], dim - out.shape[1])], dim=1)
    return out.float()


def gather_visible(tokens: torch.Tensor, visible: torch.Tensor | None, groups: int) -> torch.Tensor:
    """Tokens (B, G·n, D) → the visible ones as G sequences per sample: (B·G, k, D).

    ``visible`` (B, G·k) holds flat token indices, ascending, k per group (what the masking
    corruptions write); None keeps every token."""
    b, _, d = tokens.shape
    if visible is None:
        return tokens.reshape(b * groups, -1, d)
    if visible.shape[1] % groups:
        raise AutoencodingError(
            f"patch encoder: {visible.shape[1]} visible tokens cannot split evenly over "
            f"{groups} channel sequences; use a patch mask (patch-random, ...) built for "
            f"this encoder's grid"
        )
    picked = tokens.gather(1, visible.unsqueeze(-1).expand(-1, -1, d))
    return picked.reshape(b * groups, -1, d)


def scatter_visible(
    tokens: torch.Tensor, visible: torch.Tensor | None, fill: torch.Tensor, total: int
) -> torch.Tensor:
    """The inverse of :func:`gather_visible` for a decoder: tokens (B, G·k, D) put back at
    their positions of a (B, total, D) sequence whose other positions hold ``fill`` (the
    learned mask token). Tokens already ``total`` long (an encoder that encoded every
    position) pass as they are; without ``visible`` they must be."""
    b, m, d = tokens.shape
    if m == total:
        return tokens
    if visible is None:
        if m != total:
            raise AutoencodingError(
                f"patch decoder: expected latents of {total} tokens (the whole grid), got {m}"
            )
        return tokens
    full = fill.to(tokens.dtype).expand(b, total, d)
    return full.scatter(1, visible.unsqueeze(-1).expand(-1, -1, d), tokens)


#: how :meth:`PatchEncoder.pool` can summarise a sample's tokens (see its docstring)
POOLS = ("mean", "max", "meanmax", "cls", "tokens", "flatten")


def pool_tokens(z: torch.Tensor, how: str, groups: int, cls: int, part: str) -> torch.Tensor:
    """Per-sample features from token latents (B, G·cls + G·k, D) (see PatchEncoder.pool)."""
    b, _, d = z.shape
    if how in ("tokens", "none"):
        return z
    if how == "flatten":
        return z.flatten(1)
    if how == "cls":
        if not cls:
            raise AutoencodingError(
                f"encode: pool 'cls' needs a CLS token, and encoder {part!r} was built without "
                f"one (cls_token: false); use pool 'mean' or train with cls_token: true"
            )
        return z[:, : groups * cls].flatten(1)
    t = z[:, groups * cls :].reshape(b, groups, -1, d)
    if how == "mean":
        return t.mean(2).flatten(1)
    if how == "max":
        return t.amax(2).flatten(1)
    if how == "meanmax":  # (B, G·2D): each group's mean then its max
        return torch.cat([t.mean(2), t.amax(2)], dim=-1).flatten(1)
    raise AutoencodingError(f"encode: unknown pool {how!r}; expected one of {', '.join(POOLS)}")


class PatchEncoder(Encoder):
    """Base of encoders over a :class:`PatchGrid` (patch transformer, PITS's patch MLP).

    The masking corruptions (``parts/masks.py``) read ``grid`` when the model binds its
    parts, so the patch size lives in the encoder's config only. The latent is tokens
    (B, G·cls + G·k, D): G [cls] tokens first when the encoder has them, then each group's
    tokens in grid order (all n per group at inference)."""

    produces = "tokens"
    default_pool = "mean"
    #: the token grid (set by the subclass from its config and the input shape)
    grid: PatchGrid
    #: [cls] tokens per group at the front of the latent (0 or 1)
    cls: int = 0

    def pool(self, z: torch.Tensor, how: str) -> torch.Tensor:
        """Per-sample features from the tokens: ``mean`` = each group's patch tokens averaged
        (B, G·D): one D-vector per channel of a channel-independent series, side by side;
        ``max`` = their maximum (B, G·D); ``meanmax`` = both (B, G·2D: where a pattern
        occurs somewhere matters for classifying series, and the max keeps it);
        ``cls`` = the [cls] tokens (B, G·D); ``flatten`` = every token (B, N·D);
        ``tokens``/``none`` = (B, N, D) as they are."""
        return pool_tokens(z, how, self.grid.groups, self.cls, type(self).registry_name)
