"""A transformer over per-feature tokens, for tables (ReMasker's network).

Du, Melo & Wang, "ReMasker: Imputing Tabular Data with Masked Autoencoding" (ICLR 2024), with
the per-feature linear tokenizer of Gorishniy et al., "Revisiting Deep Learning Models for
Tabular Data" (NeurIPS 2021)::

    encoder:  x_j ─ x_j·W_j + b_j ─┐                         (one token per visible feature)
              [cls] ───────────────┴─ transformer (hidden features masked out of attention)
              ─▶ token grid: encoder output at visible features, a learned [mask] elsewhere
    decoder:  grid + feature embeddings ─ transformer ─ linear head per token ─▶ x̂_j

The encoder attends over the *visible* features only (a key-padding mask, so each row uses
its own number of visible tokens); the always-visible [cls] token keeps attention defined for
rows with nothing observed. Inputs are tables ``(B, d)``; which features are visible comes
from the corruption record (``Corrupted.hidden``, see ``parts/remask.py``; None = all), so the
values at hidden features never reach the network.

The code handed to the bottleneck is the flattened ``d × embed_dim`` grid; a smaller
``latent_dim`` adds a linear projection (and the decoder a linear expansion back).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..config import require
from .base import DECODERS, ENCODERS, Corrupted, Decoder, Encoder


@dataclass
class FeatureTransformerConfig:
    embed_dim: int = 32
    """Width of each feature token."""
    depth: int = 2
    """Transformer blocks."""
    heads: int = 4
    """Attention heads per block (must divide embed_dim)."""
    mlp_ratio: float = 2.0
    """Hidden width of each block's feed-forward layer, as a multiple of embed_dim."""
    dropout: float = 0.0
    """Dropout inside the blocks."""

    def validate(self) -> None:
        require(
            self.embed_dim >= 1,
            f"feature_transformer: embed_dim must be >= 1, got {self.embed_dim}",
        )
        require(self.depth >= 1, f"feature_transformer: depth must be >= 1, got {self.depth}")
        require(
            self.heads >= 1 and self.embed_dim % self.heads == 0,
            f"feature_transformer: heads ({self.heads}) must divide embed_dim ({self.embed_dim})",
        )
        require(self.mlp_ratio > 0, "feature_transformer: mlp_ratio must be > 0")
        require(0 <= self.dropout < 1, "feature_transformer: dropout must be in [0, 1)")


def _n_features(shape: tuple[int, ...], part: str) -> int:
    require(
        len(shape) == 1 and shape[0] is not None,
        f"{part}: expects table rows shaped [features], got {list(shape)}"
        + (
            " (the masked tables [2, features] of release 0.1 are now tables [features] with "
            "NaN at the missing entries)"
            if len(shape) == 2 and shape[0] == 2
            else ""
        ),
    )
    return shape[0]


class Block(nn.Module):
    """Pre-norm transformer block. Attention is written out (one fused QKV product, masked
    softmax) because on the few dozen tokens of a table row it is several times faster on a
    CPU than the fused kernels built for long sequences."""

    def __init__(self, cfg: FeatureTransformerConfig) -> None:
        super().__init__()
        e = cfg.embed_dim
        self.heads = cfg.heads
        self.norm1 = nn.LayerNorm(e)
        self.qkv = nn.Linear(e, 3 * e)
        self.out = nn.Linear(e, e)
        self.norm2 = nn.LayerNorm(e)
        hidden = max(1, int(round(cfg.mlp_ratio * e)))
        self.mlp = nn.Sequential(nn.Linear(e, hidden), nn.GELU(), nn.Linear(hidden, e))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        b, t, e = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, e // self.heads).unbind(2)
        q, k, v = (a.transpose(1, 2) for a in (q, k, v))  # (b, heads, t, e/heads)
        scores = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
        if pad is not None:
            scores = scores.masked_fill(pad[:, None, None, :], float("-inf"))
        att = self.drop(scores.softmax(-1))
        x = x + self.drop(self.out((att @ v).transpose(1, 2).reshape(b, t, e)))
        return x + self.drop(self.mlp(self.norm2(x)))


class Blocks(nn.Module):
    def __init__(self, cfg: FeatureTransformerConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.embed_dim)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        b, t, e = x.shape
        extra = -t % 16
        if extra:
            # CPU softmax is ~10x slower on rows of 13-15 entries than on 16: pad the keys to
            # a multiple of 16 with masked-out dummy tokens
            x = torch.cat([x, x.new_zeros(b, extra, e)], dim=1)
            if pad is None:
                pad = torch.zeros(b, t, dtype=torch.bool, device=x.device)
            pad = torch.cat([pad, pad.new_ones(b, extra)], dim=1)
        for block in self.blocks:
            x = block(x, pad)
        return self.norm(x[:, :t])


@ENCODERS.register("feature_transformer")
class FeatureTransformerEncoder(Encoder):
    """Per-feature tokens → transformer over the visible ones → token grid with [mask]s."""

    Config = FeatureTransformerConfig

    def __init__(
        self, cfg: FeatureTransformerConfig, input_shape: tuple[int, ...], out_features: int
    ) -> None:
        super().__init__()
        d, e = _n_features(input_shape, "feature_transformer encoder"), cfg.embed_dim
        self.d, self.e = d, e
        bound = 1 / math.sqrt(e)
        self.weight = nn.Parameter(torch.empty(d, e).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(d, e).uniform_(-bound, bound))
        self.cls = nn.Parameter(torch.zeros(1, 1, e).normal_(std=0.02))
        self.mask_token = nn.Parameter(torch.zeros(e).normal_(std=0.02))
        self.blocks = Blocks(cfg)
        self.proj = nn.Linear(d * e, out_features) if out_features != d * e else nn.Identity()

    def encode(self, c: Corrupted) -> torch.Tensor:
        """Tokens of the features not in ``c.hidden`` (None = all visible)."""
        visible = None if c.hidden is None else ~c.hidden.flatten(1)
        return self.tokens(c.x, visible)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every feature visible."""
        return self.tokens(x, None)

    def tokens(self, x: torch.Tensor, visible: torch.Tensor | None) -> torch.Tensor:
        values = x.flatten(1)
        if visible is None:
            visible = torch.ones_like(values, dtype=torch.bool)
        values = torch.where(visible, values, 0.0)
        tokens = values.unsqueeze(-1) * self.weight + self.bias  # (B, d, e)
        tokens = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1)
        pad = torch.cat([visible.new_zeros(len(x), 1), ~visible], dim=1)
        h = self.blocks(tokens, pad)[:, 1:]
        grid = torch.where(visible.unsqueeze(-1), h, self.mask_token.to(h.dtype))
        return self.proj(grid.flatten(1))


@DECODERS.register("feature_transformer")
class FeatureTransformerDecoder(Decoder):
    """Token grid + feature embeddings → transformer → one linear head per token."""

    Config = FeatureTransformerConfig

    def __init__(
        self,
        cfg: FeatureTransformerConfig,
        latent_dim: int,
        output_shape: tuple[int, ...],
        factor: int = 1,
    ) -> None:
        super().__init__()
        d, e = _n_features(output_shape, "feature_transformer decoder"), cfg.embed_dim
        self.d, self.e = d, e
        self.factor = factor
        self.inp = nn.Linear(latent_dim, d * e) if latent_dim != d * e else nn.Identity()
        self.pos = nn.Parameter(torch.zeros(1, d, e).normal_(std=0.02))
        self.blocks = Blocks(cfg)
        self.head = nn.Linear(e, factor)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        grid = self.inp(z).view(len(z), self.d, self.e) + self.pos
        out = self.head(self.blocks(grid))  # (B, d, factor)
        # the layout the model views as (B, factor, d)
        return out.transpose(1, 2).flatten(1)
