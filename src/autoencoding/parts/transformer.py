"""Patch transformers: a ViT encoder that runs on the visible tokens only and a light
decoder that puts mask tokens back (MAE), for series, images and video.

He et al., "Masked Autoencoders Are Scalable Vision Learners" (CVPR 2022); for series with
channel-independent patches, Nie et al., "A Time Series is Worth 64 Words: Long-term
Forecasting with Transformers" (PatchTST, ICLR 2023); tubelets for video, Tong et al.,
"VideoMAE" (NeurIPS 2022) and Feichtenhofer et al., "Masked Autoencoders As Spatiotemporal
Learners" (NeurIPS 2022)::

    x ─ patchify ─ linear ─ + sin-cos pos ─ gather visible ─ [cls] ─ pre-norm blocks ─ norm ─▶ z
        (B,G,n,p)            (fixed)         (B·G, k, D)                           (B, G·k, D)

    z ─ linear ─ scatter into (B, G·n) with a learned [mask] at hidden tokens ─ + pos ─ blocks
      ─ norm ─ linear head (patch values × params per entry) ─ unpatchify ─▶ (B, params, C, *S)

Why visible-only: the encoder, the expensive part, then costs in proportion to the visible
tokens (25% at MAE's 75% masking), and it never trains on mask tokens it will not see at
inference, where every token is visible (``Corruption.observe`` hides nothing). The masks
(``parts/masks.py``) read this encoder's :class:`~autoencoding.parts.patches.PatchGrid` when
the model binds its parts, so patch sizes are set in one place.

Attention is torch's fused ``scaled_dot_product_attention``; there is no Python loop over
tokens or channels (channels of a channel-independent series are folded into the batch).
The latent is a token sequence, ``latent_dim: [null, D]`` (its length follows the mask);
``Autoencoder.encode`` pools it (``pool``: mean, cls, tokens, flatten).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from .base import DECODERS, ENCODERS, Corrupted, Decoder
from .patches import (
    PatchEncoder,
    PatchGrid,
    gather_visible,
    make_grid,
    scatter_visible,
    sincos_embedding,
)


@dataclass
class PatchTransformerConfig:
    """One config for the encoder and its mirrored decoder (a model's decoder spec defaults
    to the encoder's, so both read the same patch grid)."""

    patch: list[int] = field(default_factory=lambda: [4])
    """Patch size: one size for every axis, or one per axis (series [p], image [ph, pw],
    video [pt, ph, pw] tubelets); each must divide its axis."""
    channels: Literal["auto", "independent", "mixed"] = "auto"
    """'independent': each channel its own token sequence with shared weights (PatchTST);
    'mixed': one token holds every channel of its patch (ViT); 'auto': independent for
    series, mixed for images and video."""
    embed_dim: int = 64
    """Encoder token width D (the latent's width when latent_dim is [null, D])."""
    depth: int = 3
    """Encoder blocks."""
    heads: int = 4
    """Encoder attention heads (must divide embed_dim)."""
    mlp_ratio: float = 2.0
    """Feed-forward width of every block as a multiple of its token width (MAE uses 4; 2
    is faster on a CPU at these widths)."""
    cls_token: bool = False
    """Prepend a learned [cls] token to each sequence (``encode(pool='cls')`` reads it)."""
    pool: Literal["mean", "max", "meanmax", "cls", "tokens", "flatten"] = "mean"
    """What ``encode`` returns unless told (``pool=``): the tokens' mean, max or both per
    channel sequence, the [cls] token(s), the tokens themselves or all of them flattened."""
    dropout: float = 0.0
    """Dropout on attention and feed-forward outputs."""
    hidden_tokens: Literal["drop", "mask"] = "drop"
    """What the encoder does with hidden patches: 'drop' them (MAE: it encodes the visible
    tokens only) or replace them by a learned [mask] token and encode every position (the
    BEiT/SimMIM way, MAE's Table 1 ablation "encoder w/ [M]": slower, no better)."""
    decoder_dim: int = 32
    """Decoder token width (MAE: a light decoder, narrower than the encoder)."""
    decoder_depth: int = 1
    """Decoder blocks."""
    decoder_heads: int = 4
    """Decoder attention heads (must divide decoder_dim)."""

    def validate(self) -> None:
        name = "patch_transformer"
        require(
            len(self.patch) >= 1 and all(p >= 1 for p in self.patch),
            f"{name}: patch must hold positive sizes, got {self.patch}",
        )
        for w, h, what in (
            (self.embed_dim, self.heads, ""),
            (self.decoder_dim, self.decoder_heads, "decoder_"),
        ):
            require(
                w >= 2 and h >= 1 and w % h == 0,
                f"{name}: {what}heads ({h}) must divide {what}"
                f"{'dim' if what else 'embed_dim'} ({w}), a width >= 2",
            )
        require(self.depth >= 1, f"{name}: depth must be >= 1, got {self.depth}")
        require(self.decoder_depth >= 0, f"{name}: decoder_depth must be >= 0")
        require(self.mlp_ratio > 0, f"{name}: mlp_ratio must be > 0, got {self.mlp_ratio}")
        require(0 <= self.dropout < 1, f"{name}: dropout must be in [0, 1), got {self.dropout}")
        require(
            self.pool != "cls" or self.cls_token,
            f"{name}: pool 'cls' needs cls_token: true",
        )

    def grid(self, sample_shape: tuple[int | None, ...], part: str) -> PatchGrid:
        return make_grid(sample_shape, self.patch, self.channels, part)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + MLP(LN(x)) (Vaswani et al. 2017,
    pre-norm as in ViT), attention by ``F.scaled_dot_product_attention``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = max(1, int(round(mlp_ratio * dim)))
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(s, n, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (a.transpose(1, 2) for a in (q, k, v))  # (s, heads, n, d/heads)
        p = self.dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(s, n, d)))
        return x + self.drop(self.mlp(self.norm2(x)))


class Stack(nn.Module):
    """Blocks then a final LayerNorm (pre-norm blocks leave the residual stream unnormalised)."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


def init_weights(module: nn.Module) -> None:
    """MAE's initialisation: Xavier-uniform linear weights, zero biases, unit LayerNorms."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


@ENCODERS.register("patch_transformer")
class PatchTransformerEncoder(PatchEncoder):
    """ViT / PatchTST encoder over the visible patches (MAE); see the module docstring."""

    Config = PatchTransformerConfig

    def __init__(
        self, cfg: PatchTransformerConfig, input_shape: tuple[int, ...], out_features: int
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.default_pool = cfg.pool
        self.grid = cfg.grid(input_shape, "patch_transformer encoder")
        self.cls = int(cfg.cls_token)
        d = cfg.embed_dim
        self.embed = nn.Linear(self.grid.patch_dim, d)
        # fixed, computed here (never a zero buffer waiting for an initialiser); not saved:
        # the same grid and width rebuild it exactly
        self.register_buffer("pos", sincos_embedding(self.grid.grid, d), persistent=False)
        self.stack = Stack(d, cfg.depth, cfg.heads, cfg.mlp_ratio, cfg.dropout)
        self.out = nn.Linear(d, out_features) if out_features != d else nn.Identity()
        init_weights(self)  # the patch projection included: MAE's Xavier on the flat patch
        if self.cls:
            self.cls_embed = nn.Parameter(torch.zeros(1, 1, d).normal_(std=0.02))
        if cfg.hidden_tokens == "mask":
            self.mask_embed = nn.Parameter(torch.zeros(1, 1, 1, d).normal_(std=0.02))

    def encode(self, c: Corrupted) -> torch.Tensor:
        """Tokens (B, G·cls + G·k, D) of the visible patches (every patch when ``c.visible``
        is None): G [cls] tokens first, then each group's k tokens in grid order."""
        g = self.grid
        t = self.embed(g.patchify(c.x)) + self.pos  # (B, G, n, D)
        b = t.shape[0]
        visible = c.visible
        if self.cfg.hidden_tokens == "mask" and c.hidden is not None:
            hidden = c.hidden.view(b, g.groups, g.n, 1)
            t = torch.where(hidden, self.mask_embed + self.pos, t)
            visible = None  # every position encoded, the hidden ones as [mask]
        t = gather_visible(t.reshape(b, g.tokens, -1), visible, g.groups)  # (B·G, k, D)
        if self.cls:
            t = torch.cat([self.cls_embed.expand(t.shape[0], -1, -1), t], dim=1)
        t = self.out(self.stack(t))
        seq = t.reshape(b, g.groups, t.shape[1], -1)
        if self.cls:  # the G [cls] tokens first, then the patch tokens group by group
            seq = torch.cat([seq[:, :, 0], seq[:, :, 1:].flatten(1, 2)], dim=1)
            return seq
        return seq.flatten(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every patch visible."""
        return self.encode(Corrupted(x))


@DECODERS.register("patch_transformer")
class PatchTransformerDecoder(Decoder):
    """MAE's light decoder: mask tokens at the hidden patches, a few narrow blocks, a linear
    head per token predicting its patch (all patches; the loss keeps the hidden ones)."""

    Config = PatchTransformerConfig
    consumes = "tokens"

    def __init__(
        self,
        cfg: PatchTransformerConfig,
        latent_dim: int,
        output_shape: tuple[int, ...],
        factor: int = 1,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.grid = cfg.grid(output_shape, "patch_transformer decoder")
        self.cls = int(cfg.cls_token)
        self.factor = factor
        d = cfg.decoder_dim
        self.inp = nn.Linear(latent_dim, d)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d).normal_(std=0.02))
        self.register_buffer("pos", sincos_embedding(self.grid.grid, d), persistent=False)
        self.stack = Stack(d, cfg.decoder_depth, cfg.decoder_heads, cfg.mlp_ratio, cfg.dropout)
        self.head = nn.Linear(d, factor * self.grid.patch_dim)
        init_weights(self)

    def decode(self, z: torch.Tensor, c: Corrupted | None = None) -> torch.Tensor:
        g = self.grid
        b = z.shape[0]
        t = self.inp(z[:, g.groups * self.cls :])  # the [cls] tokens do not decode a patch
        visible = c.visible if c is not None else None
        t = scatter_visible(t, visible, self.mask_token, g.tokens)  # (B, G·n, d)
        t = t.reshape(b * g.groups, g.n, -1) + self.pos
        out = self.head(self.stack(t))  # (B·G, n, factor·patch_dim)
        out = out.view(b, g.groups, g.n, self.factor, g.patch_dim).permute(3, 0, 1, 2, 4)
        # one image per likelihood parameter: (factor, B, C, *S) → (B, factor, C, *S)
        img = g.unpatchify(out.reshape(self.factor * b, g.groups, g.n, g.patch_dim))
        return img.view(self.factor, b, *g.sample_shape).transpose(0, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z, None)
