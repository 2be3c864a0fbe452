"""PITS: an MLP that embeds every patch on its own, with a linear patch decoder.

Lee, Park & Lee, "Learning to Embed Time Series Patches Independently" (ICLR 2024)::

    x (B, C, T) ─ patchify (channel-independent) ─▶ (B, C, n, p)
        ─ Linear(p, H) ─ ReLU ─ dropout ─ Linear(H, D) ─▶ tokens (B, C·n, D)   (no attention)
    tokens ─ Linear(D, p) per token ─ unpatchify ─▶ x̂ (B, 1, C, T)

Why patch-independent: the paper finds that reconstructing each patch from itself (their
"PI task", no masking) with a per-patch MLP gives time-series representations as good as or
better than masked patch modelling with a transformer, at a fraction of the cost, and that
the dropout in the encoder is what keeps the code from being a copy. Tokens get a fixed
sin-cos position embedding after the MLP (``position``) so that mean-pooled features still
know where a pattern occurred; the paper's complementary contrastive loss is not included.

With a patch mask the encoder embeds the visible patches only (as any patch encoder) and the
decoder writes a learned [mask] token at the hidden ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from ..config import require
from .base import DECODERS, ENCODERS, Corrupted, Decoder
from .patches import PatchEncoder, gather_visible, make_grid, scatter_visible, sincos_embedding


@dataclass
class PatchMLPConfig:
    """One config for the encoder and its mirrored decoder."""

    patch: list[int] = field(default_factory=lambda: [4])
    """Patch size, one per axis or one for all (each must divide its axis)."""
    channels: Literal["auto", "independent", "mixed"] = "auto"
    """'independent' (PITS, PatchTST): each channel's patches on their own; 'mixed': one
    token per patch of every channel; 'auto': independent for series, mixed otherwise."""
    hidden: int = 64
    """Hidden width of the per-patch MLP."""
    embed_dim: int = 64
    """Token width D (the latent's width when latent_dim is [null, D])."""
    dropout: float = 0.2
    """Dropout after the hidden layer (PITS: what keeps the patch code from being a copy)."""
    position: bool = True
    """Add a fixed sin-cos position embedding to each token after the MLP."""
    pool: Literal["mean", "max", "meanmax", "cls", "tokens", "flatten"] = "mean"
    """What ``encode`` returns unless told (``pool=``): the tokens' mean, max or both per
    channel sequence, the [cls] token(s), the tokens themselves or all of them flattened."""

    def validate(self) -> None:
        require(
            len(self.patch) >= 1 and all(p >= 1 for p in self.patch),
            f"patch_mlp: patch must hold positive sizes, got {self.patch}",
        )
        require(self.hidden >= 1, f"patch_mlp: hidden must be >= 1, got {self.hidden}")
        require(self.embed_dim >= 2, f"patch_mlp: embed_dim must be >= 2, got {self.embed_dim}")
        require(0 <= self.dropout < 1, f"patch_mlp: dropout must be in [0, 1), got {self.dropout}")
        require(self.pool != "cls", "patch_mlp: pool 'cls' needs a [cls] token; it has none")

    def grid(self, sample_shape, part):
        return make_grid(sample_shape, self.patch, self.channels, part)


@ENCODERS.register("patch_mlp")
class PatchMLPEncoder(PatchEncoder):
    """Each (visible) patch through the same two-layer MLP; no mixing between patches."""

    Config = PatchMLPConfig

    def __init__(self, cfg: PatchMLPConfig, input_shape: tuple[int, ...], out_features: int):
        super().__init__()
        self.cfg = cfg
        self.default_pool = cfg.pool
        self.grid = cfg.grid(input_shape, "patch_mlp encoder")
        self.net = nn.Sequential(
            nn.Linear(self.grid.patch_dim, cfg.hidden),
            nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, out_features),
        )
        pos = sincos_embedding(self.grid.grid, out_features) if cfg.position else None
        self.register_buffer("pos", pos, persistent=False)

    def encode(self, c: Corrupted) -> torch.Tensor:
        g = self.grid
        t = self.net(g.patchify(c.x))  # (B, G, n, D)
        if self.pos is not None:
            t = t + self.pos
        b = t.shape[0]
        t = gather_visible(t.reshape(b, g.tokens, -1), c.visible, g.groups)
        return t.reshape(b, -1, t.shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(Corrupted(x))


@DECODERS.register("patch_mlp")
class PatchLinearDecoder(Decoder):
    """One linear map from each token to its patch's values (PITS's decoder)."""

    Config = PatchMLPConfig
    consumes = "tokens"

    def __init__(
        self, cfg: PatchMLPConfig, latent_dim: int, output_shape: tuple[int, ...], factor: int = 1
    ) -> None:
        super().__init__()
        self.grid = cfg.grid(output_shape, "patch_mlp decoder")
        self.factor = factor
        self.mask_token = nn.Parameter(torch.zeros(1, 1, latent_dim).normal_(std=0.02))
        self.head = nn.Linear(latent_dim, factor * self.grid.patch_dim)

    def decode(self, z: torch.Tensor, c: Corrupted | None = None) -> torch.Tensor:
        g = self.grid
        b = z.shape[0]
        visible = c.visible if c is not None else None
        t = scatter_visible(z, visible, self.mask_token, g.tokens)
        out = self.head(t).view(b, g.groups, g.n, self.factor, g.patch_dim).permute(3, 0, 1, 2, 4)
        img = g.unpatchify(out.reshape(self.factor * b, g.groups, g.n, g.patch_dim))
        return img.view(self.factor, b, *g.sample_shape).transpose(0, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z, None)
