"""The sparse autoencoder's linear encoder/decoder pair and its FVU reconstruction loss.

Sparse autoencoders (SAEs) on neural-network activations use one affine map each way, tied
by a shared bias and initialised from the data (Bricken et al., "Towards Monosemanticity",
2023; Gao et al., "Scaling and evaluating sparse autoencoders", 2024)::

    x_n = s·x                                   s: input scale, E‖x_n‖² = d (stored)
    pre = W_enc (x_n − b_dec) + b_enc           encoder "sae"   (W_enc: L×d)
    z   = sparse(pre)                           a sparse bottleneck (topk, jumprelu, ...)
    x̂   = (Σ_i z_i W_dec[i] + b_dec) / s        decoder "sae"   (W_dec: L×d, unit rows)

Why each piece:

* **b_dec subtracted before encoding** centres the data at a robust centre (the geometric
  median of a sample) so latents describe deviations, not the large mean activation.
* **Unit-norm decoder rows** remove the scale ambiguity between a latent's value and its
  direction (otherwise an L1 penalty is evaded by shrinking z and growing W_dec). The decoder
  is parametrised as ``W_dec = V / ‖V‖`` (rows), which also projects out the gradient along
  each row, as Gao et al. do by hand; V is renormalised in place during training, so the
  stored weights are the unit-norm decoder.
* **W_enc initialised to W_decᵀ** starts every latent as a matched filter of its own
  direction, which sharply reduces dead latents at the start (Gao et al., §A.1).
* **Input scale** makes hyperparameters (learning rate, sparsity penalties, JumpReLU
  bandwidth) mean the same thing for every model and layer; it is stored as a buffer and
  undone on output, so inputs and reconstructions stay in the data's own units.

The decoder decodes sparse codes with ``embedding_bag`` (see :mod:`.sparse_ops`): TopK never
forms the dense latents × d product, forward or backward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.distributed as dist
from torch import nn

from ..config import require
from ..errors import AutoencodingError
from .base import DECODERS, ENCODERS, RECONSTRUCTIONS, Decoder, Encoder, NoOptions
from .reconstruction import Reconstruction, _reduce
from .sparse_ops import (
    bf16_matmul_is_fast,
    geometric_median,
    sparse_decode,
    sparse_grad_affine,
)


@dataclass
class SAEConfig:
    bias_init: Literal["median", "mean", "zeros"] = "median"
    """Where init_from_data puts the decoder bias b_dec: the geometric median of the sample,
    its mean, or zero."""
    normalize: bool = True
    """Scale inputs by one stored constant so that E‖x‖² = d (set by init_from_data)."""
    init_samples: int = 32768
    """At most this many rows of the data sample are used by init_from_data."""
    matmul: Literal["auto", "float32", "bfloat16"] = "auto"
    """Precision of the encoder's forward product, the one dense L×d product per step:
    bfloat16 is several times faster on CPUs with AMX/AVX512-BF16 and on GPUs (values and
    gradients stay float32); auto = bfloat16 where the hardware runs it natively."""
    encoder_bias: bool = True
    """Learn the encoder bias b_enc (False: pre = W_enc(x − b_dec), as Gao et al.'s TopK)."""
    encoder_init_scale: float = 1.0
    """W_enc starts as this multiple of W_decᵀ (below 1 for ReLU-style SAEs, whose many
    initially active latents would otherwise overshoot the input)."""

    def validate(self) -> None:
        require(self.init_samples >= 1, "sae: init_samples must be >= 1")
        require(self.encoder_init_scale > 0, "sae: encoder_init_scale must be > 0")


@ENCODERS.register("sae")
class SAEEncoder(Encoder):
    """``pre = W_enc (s·x − b_dec) + b_enc``: the SAE encoder (needs the decoder ``sae``)."""

    Config = SAEConfig

    def __init__(self, cfg: SAEConfig, input_shape: tuple[int, ...], out_features: int) -> None:
        super().__init__()
        self.cfg = cfg
        d = math.prod(input_shape)
        self.weight = nn.Parameter(torch.empty(out_features, d))
        if cfg.encoder_bias:
            self.bias = nn.Parameter(torch.zeros(out_features))
        else:
            self.register_buffer("bias", torch.zeros(out_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self._decoder: SAEDecoder | None = None
        self._selects_only = False

    def bind(self, model: nn.Module) -> None:
        decoder = model.decoder
        if not isinstance(decoder, SAEDecoder):
            raise AutoencodingError(
                f"encoder 'sae' needs decoder 'sae' (it shares the decoder's bias and scale), "
                f"got decoder {type(decoder).__name__}"
            )
        require(
            decoder.weight.shape == self.weight.shape,
            f"encoder 'sae': latents × features {tuple(self.weight.shape)} differ from the "
            f"decoder's {tuple(decoder.weight.shape)}",
        )
        # A plain attribute, not a submodule: the decoder's parameters are registered once.
        object.__setattr__(self, "_decoder", decoder)
        # bottlenecks that only select and gather pre-activations (TopK) take them in the
        # product's precision (see sparse_grad_affine's keep_low)
        self._selects_only = model.bottleneck.selects_pre_activations
        with torch.no_grad():
            self.weight.copy_(self.cfg.encoder_init_scale * decoder.directions())

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Follow the decoder, which the model initialises first: W_enc = scale·W_decᵀ."""
        if self._decoder is not None:
            self.weight.copy_(self.cfg.encoder_init_scale * self._decoder.directions())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dec = self._decoder
        if dec is None:
            raise AutoencodingError("encoder 'sae' used outside an Autoencoder (no decoder bound)")
        x = x.flatten(1) * dec.input_scale
        dtype = self.matmul_dtype(x)
        return sparse_grad_affine(
            x,
            self.weight,
            self.bias,
            center=dec.bias,
            matmul_dtype=dtype,
            keep_low=dtype is not None and self._selects_only,
        )

    def matmul_dtype(self, x: torch.Tensor) -> torch.dtype | None:
        """The precision of the encoder's product for inputs ``x`` (None = x's own)."""
        choice = self.cfg.matmul
        if choice == "auto":
            choice = "bfloat16" if bf16_matmul_is_fast(x.device) else "float32"
        return torch.bfloat16 if choice == "bfloat16" and x.dtype == torch.float32 else None


@DECODERS.register("sae")
class SAEDecoder(Decoder):
    """``x̂ = (z W_dec + b_dec) / s`` with unit-norm rows of W_dec; decodes sparse codes
    without the dense product."""

    Config = SAEConfig
    decodes_sparse = True

    def __init__(
        self, cfg: SAEConfig, latent_dim: int, output_shape: tuple[int, ...], factor: int = 1
    ) -> None:
        super().__init__()
        require(
            factor == 1,
            "decoder 'sae' outputs a point reconstruction; use reconstruction 'fvu' or 'mse'",
        )
        self.cfg = cfg
        d = math.prod(output_shape)
        w = torch.randn(latent_dim, d)
        self.weight = nn.Parameter(w / w.norm(dim=1, keepdim=True))
        self.bias = nn.Parameter(torch.zeros(d))
        self.register_buffer("input_scale", torch.tensor(1.0))

    def directions(self) -> torch.Tensor:
        """W_dec with unit-norm rows (L, d): each latent's direction in normalised units."""
        if self.training and torch.is_grad_enabled():
            # Keep the stored weights unit-norm (what is saved is what is used) — once per
            # optimizer step, before the weight enters this step's graph; the division below
            # stays in the graph so the gradient along each row is projected out.
            self.renormalize_()
        return self.weight / self.weight.norm(dim=1, keepdim=True).clamp_min(1e-12)

    @torch.no_grad()
    def renormalize_(self) -> None:
        """Rescale the stored rows to unit norm when the last update moved them off it."""
        norms = self.weight.norm(dim=1, keepdim=True).clamp_min(1e-12)
        if float((norms - 1).abs().max()) > 1e-5:
            self.weight.div_(norms)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.directions() + self.bias) / self.input_scale

    def decode_sparse(
        self, codes: torch.Tensor, values: torch.Tensor, bias: bool = True
    ) -> torch.Tensor:
        """Decode (B, m) latent indices and their values; ``bias=False`` gives only the
        latents' contribution (AuxK models the residual with it)."""
        out = sparse_decode(codes, values, self.directions())
        if bias:
            out = out + self.bias
        return out / self.input_scale

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        x = x.flatten(1)[: self.cfg.init_samples].to(self.bias.dtype)
        if self.cfg.normalize:
            ms = x.pow(2).sum(1).mean()
            scale = math.sqrt(x.shape[1] / float(ms)) if float(ms) > 0 else 1.0
            self.input_scale.fill_(scale)
        xn = x * self.input_scale
        if self.cfg.bias_init == "median":
            self.bias.copy_(geometric_median(xn).to(self.bias.dtype))
        elif self.cfg.bias_init == "mean":
            self.bias.copy_(xn.mean(0))
        else:
            self.bias.zero_()


@RECONSTRUCTIONS.register("fvu")
class FVU(Reconstruction):
    """Fraction of variance unexplained: Σ‖x − x̂‖² / Σ‖x − x̄‖² over the batch.

    The standard SAE reconstruction metric, used as the loss so that loss values and
    sparsity penalties mean the same thing on every layer and model (0 = perfect, 1 = no
    better than the batch mean). Per-sample values are squared errors divided by the batch's
    mean total variance, so their mean is the batch FVU.
    """

    Config = NoOptions

    def __init__(self, cfg: NoOptions, n_features: int) -> None:
        super().__init__(n_features)

    def per_sample(self, out, x, where=None):
        sse = _reduce((out[:, 0] - x).pow(2), where, mean=False)
        return sse / total_variance(x, sync=self.training)


def total_variance(x: torch.Tensor, sync: bool = False) -> torch.Tensor:
    """Mean over rows of ‖x − x̄‖² (detached, floored): the FVU denominator per row.

    ``sync``: under torchrun (DDP), compute it over the global batch — every process then
    divides by the same denominator and the averaged gradients equal a single process's on
    the whole batch. Only in training, where every process makes the same call."""
    x = x.detach().flatten(1)
    if sync and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        x64 = x.double()
        stats = torch.cat([x64.sum(0), x64.pow(2).sum().view(1), x64.new_full((1,), len(x))])
        dist.all_reduce(stats)
        s1, s2, n = stats[:-2], stats[-2], stats[-1]
        tv = (s2 - s1.pow(2).sum() / n) / n
        return tv.to(x.dtype).clamp_min(1e-12)
    return (x - x.mean(0)).pow(2).sum(1).mean().clamp_min(1e-12)
