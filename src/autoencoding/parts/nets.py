"""Encoder and decoder networks: MLPs and small 2D conv nets, sized from the data by default.

An MLP encoder maps a batch shaped like the (scaled) data to ``(B, out_features)``; its
decoder maps ``(B, latent_dim)`` to ``(B, factor * n_features)``, where ``factor`` is the
number of likelihood parameters per entry (e.g. 2 for a mean and a variance). Conv nets
either end in a flat code (``latent: flat``) or stay fully convolutional (``latent:
spatial``): the latent is a (B, C, h/2^L, w/2^L) map and images of any size divisible by
2^L go through the same weights.

(The trainer's hand-written gradients for MLPs live behind the fast-path seam,
:mod:`autoencoding.train.fast`; the nets here have one implementation.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..config import require
from ..errors import AutoencodingError
from .base import DECODERS, ENCODERS, Corrupted, Decoder, Encoder

ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


def auto_width(n_features: int) -> int:
    """Hidden width from the data: 4× the input rounded to a power of two, within [64, 1024]."""
    return int(min(1024, max(64, 2 ** math.ceil(math.log2(max(1, 4 * n_features))))))


@dataclass
class MLPConfig:
    hidden: list[int] | None = None
    """Hidden layer widths, input side first; the decoder mirrors them. None = two layers of
    auto_width(features)."""
    activation: Literal["relu", "gelu", "tanh", "sigmoid", "elu", "silu"] = "relu"
    """Nonlinearity between layers."""
    mask_input: bool = False
    """Encoder only (a mirrored decoder ignores it): also feed the visibility flags of the
    corruption record (1 = visible, 0 = in ``Corrupted.hidden``) as d more inputs. A hidden
    entry reaches the net as 0, which alone an MLP cannot tell from an observed 0; with the
    flags it can (the tabular imputer sets this: it is what makes an MLP impute)."""

    def validate(self) -> None:
        if self.hidden is not None:
            require(
                all(w >= 1 for w in self.hidden),
                f"mlp: hidden widths must be >= 1, got {self.hidden}",
            )

    def widths(self, n_features: int) -> list[int]:
        return list(self.hidden) if self.hidden is not None else [auto_width(n_features)] * 2


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


#: activations whose derivative follows from the activation's output (closed-form Jacobians
#: here, hand-written backward passes in autoencoding.train.fast)
MANUAL_ACTIVATIONS = ("relu", "tanh", "sigmoid")


def linears(net: nn.Sequential) -> list[nn.Linear]:
    return [m for m in net if isinstance(m, nn.Linear)]


@ENCODERS.register("mlp")
class MLPEncoder(Encoder):
    """Multilayer perceptron on the flattened input."""

    Config = MLPConfig
    produces = "flat"

    def __init__(self, cfg: MLPConfig, input_shape: tuple[int, ...], out_features: int) -> None:
        super().__init__()
        self.cfg = cfg
        n = math.prod(input_shape)
        self.n_features = n
        inputs = 2 * n if cfg.mask_input else n
        self.net = _mlp([inputs, *cfg.widths(n), out_features], cfg.activation)

    def net_input(self, c: Corrupted) -> torch.Tensor:
        """What the net reads from a record: ``x`` flat, then (``mask_input``) the
        visibility flags ``~hidden`` (all ones when nothing is hidden)."""
        x = c.x.flatten(1)
        if not self.cfg.mask_input:
            return x
        if c.hidden is None:
            return torch.cat([x, torch.ones_like(x)], 1)
        return torch.cat([x, (~c.hidden.flatten(1)).to(x.dtype)], 1)

    def encode(self, c: Corrupted) -> torch.Tensor:
        return self.net(self.net_input(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every entry of ``x`` visible."""
        return self.encode(Corrupted(x))

    def jacobian_frobenius_sq(self, x: torch.Tensor) -> torch.Tensor:
        """‖∂h/∂x‖²_F per row, exactly, by chaining layer Jacobians from the output side.

        J = W_L·D_{L-1}·W_{L-1}···D_1·W_1 with D_l the diagonal activation derivatives.
        Multiplying from the output side keeps every product (B, out, width): for a small
        latent this costs about as much as one forward pass per latent dimension, far less
        than the d backward passes of autograd. Falls back to autograd for activations
        without a closed-form derivative. With ``mask_input`` the flags are constant inputs
        (every entry visible): only the derivative with respect to ``x`` counts.
        """
        layers = linears(self.net)
        if self.cfg.activation not in MANUAL_ACTIVATIONS:
            return super().jacobian_frobenius_sq(x)
        derivs = []
        a = self.net_input(Corrupted(x))
        for lin in layers[:-1]:
            pre = lin(a)
            if self.cfg.activation == "relu":
                a = torch.relu(pre)
                derivs.append((pre > 0).to(pre.dtype))
            elif self.cfg.activation == "tanh":
                a = torch.tanh(pre)
                derivs.append(1 - a.pow(2))
            else:
                a = torch.sigmoid(pre)
                derivs.append(a * (1 - a))
        m = layers[-1].weight.unsqueeze(0)  # (1, out, width)
        for lin, d in zip(reversed(layers[:-1]), reversed(derivs), strict=True):
            m = (m * d.unsqueeze(1)) @ lin.weight  # (B, out, width_prev)
        m = m[..., : self.n_features]  # the visibility flags are not inputs to differentiate
        if m.shape[0] == 1:
            m = m.expand(x.shape[0], -1, -1)
        return m.pow(2).sum((1, 2))


@DECODERS.register("mlp")
class MLPDecoder(Decoder):
    """Multilayer perceptron mirroring the encoder; output flat."""

    Config = MLPConfig
    consumes = "flat"

    def __init__(
        self, cfg: MLPConfig, latent_dim: int, output_shape: tuple[int, ...], factor: int = 1
    ) -> None:
        super().__init__()
        n = math.prod(output_shape)
        self.cfg = cfg
        self.net = _mlp([latent_dim, *reversed(cfg.widths(n)), factor * n], cfg.activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


@dataclass
class ConvConfig:
    channels: list[int] | None = None
    """Channels of each stride-2 conv layer, input side first. None = 32, 64, ... until the
    feature map is at most 4×4."""
    activation: Literal["relu", "gelu", "elu", "silu"] = "relu"
    """Nonlinearity between layers."""
    latent: Literal["flat", "spatial"] = "flat"
    """'flat': a linear map to a flat code (the input size is fixed); 'spatial': fully
    convolutional, a 1×1 conv to the latent channels, any input size divisible by 2^layers."""

    def validate(self) -> None:
        if self.channels is not None:
            require(
                len(self.channels) >= 1 and all(c >= 1 for c in self.channels),
                f"conv2d: channels must be a non-empty list of positive ints, got {self.channels}",
            )


def _conv_plan(
    cfg: ConvConfig, input_shape: tuple[int | None, ...]
) -> tuple[list[int], int | None, int | None]:
    require(
        len(input_shape) == 3 and input_shape[0] is not None,
        f"conv2d nets need image data shaped (channels, height, width), got {input_shape}",
    )
    _, h, w = input_shape
    if h is None or w is None:
        require(
            cfg.latent == "spatial" and cfg.channels is not None,
            "conv2d: images of free size (null in input_shape) need latent 'spatial' and "
            "explicit channels",
        )
        return list(cfg.channels), None, None
    if cfg.channels is not None:
        chans = list(cfg.channels)
    else:
        chans, hh, ww = [], h, w
        while (not chans or (hh > 4 and ww > 4)) and hh % 2 == 0 and ww % 2 == 0:
            chans.append(min(256, 32 * 2 ** len(chans)))
            hh, ww = hh // 2, ww // 2
        require(
            len(chans) >= 1,
            f"conv2d: image size {h}×{w} is not divisible by 2, so no stride-2 layer fits; "
            f"pad the images to an even size or use an MLP",
        )
    div = 2 ** len(chans)
    require(
        h % div == 0 and w % div == 0,
        f"conv2d: image size {h}×{w} must be divisible by 2^{len(chans)} = {div}; "
        f"choose fewer channels or an MLP",
    )
    return chans, h // div, w // div


def _check_divisible(x: torch.Tensor, layers: int, what: str) -> None:
    div = 2**layers
    if x.shape[-2] % div or x.shape[-1] % div:
        raise AutoencodingError(
            f"{what}: image size {x.shape[-2]}×{x.shape[-1]} must be divisible by 2^{layers} = "
            f"{div} (one halving per conv layer); pad or crop the images"
        )


@ENCODERS.register("conv2d")
class ConvEncoder(Encoder):
    """Stride-2 4×4 convolutions, then a linear map to a flat code (``latent: flat``) or a
    1×1 convolution to the latent channels (``latent: spatial``, fully convolutional)."""

    Config = ConvConfig
    consumes = "spatial"

    def __init__(self, cfg: ConvConfig, input_shape: tuple[int, ...], out_features: int) -> None:
        super().__init__()
        self.cfg = cfg
        chans, h, w = _conv_plan(cfg, input_shape)
        layers: list[nn.Module] = []
        prev = input_shape[0]
        for c in chans:
            layers += [nn.Conv2d(prev, c, 4, stride=2, padding=1), ACTIVATIONS[cfg.activation]()]
            prev = c
        self.convs = nn.Sequential(*layers)
        self.n_layers = len(chans)
        if cfg.latent == "spatial":
            self.out = nn.Conv2d(prev, out_features, 1)
        else:
            self.out = nn.Linear(prev * h * w, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.latent == "spatial":
            _check_divisible(x, self.n_layers, "conv2d encoder")
            return self.out(self.convs(x))
        return self.out(self.convs(x).flatten(1))


@DECODERS.register("conv2d")
class ConvDecoder(Decoder):
    """Linear map (flat codes) or 1×1 convolution (spatial latents) to a small feature map,
    then stride-2 transposed convolutions."""

    Config = ConvConfig
    produces = "spatial"

    def __init__(
        self, cfg: ConvConfig, latent_dim: int, output_shape: tuple[int, ...], factor: int = 1
    ) -> None:
        super().__init__()
        self.cfg = cfg
        chans, h, w = _conv_plan(cfg, output_shape)
        chans = list(reversed(chans))
        self.start = (chans[0], h, w)
        if cfg.latent == "spatial":
            self.inp = nn.Conv2d(latent_dim, chans[0], 1)
        else:
            self.inp = nn.Linear(latent_dim, chans[0] * h * w)
        layers: list[nn.Module] = [ACTIVATIONS[cfg.activation]()]
        for i, c in enumerate(chans):
            nxt = chans[i + 1] if i + 1 < len(chans) else factor * output_shape[0]
            layers.append(nn.ConvTranspose2d(c, nxt, 4, stride=2, padding=1))
            if i + 1 < len(chans):
                layers.append(ACTIVATIONS[cfg.activation]())
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.cfg.latent == "spatial":
            return self.deconvs(self.inp(z))
        return self.deconvs(self.inp(z).view(-1, *self.start)).flatten(1)
