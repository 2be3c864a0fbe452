"""The autoencoder pipeline::

    x ─ corruption ─▶ x̃ ─ encoder ─▶ h ─ bottleneck ─▶ z ─ decoder ─▶ params ─▶ x̂
                                        └─ aux losses, codes, stats
    loss = reconstruction(params, x, where) + bottleneck losses + regularizers

Every recipe is this one module with different parts; nothing here knows a family by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .config import from_dict, require, to_dict
from .errors import AutoencodingError
from .parts import (
    BOTTLENECKS,
    CORRUPTIONS,
    DECODERS,
    ENCODERS,
    RECONSTRUCTIONS,
    REGULARIZERS,
    BottleneckOutput,
)
from .parts.base import build, normalize_spec
from .parts.sparse_ops import scatter_codes


@dataclass
class ModelConfig:
    """Every hyperparameter of a model; stored in the model folder's config.json."""

    recipe: str = "ae"
    """The recipe these settings came from (informational once resolved)."""
    input_shape: list[int] = field(default_factory=list)
    """Shape of one sample after scaling, e.g. [64] for a table row or [1, 8, 8] for an image."""
    latent_dim: int = 8
    """Size of the latent code z."""
    encoder: dict[str, Any] = field(default_factory=lambda: {"name": "mlp"})
    """Encoder spec: {name: mlp | conv2d, ...options}."""
    decoder: dict[str, Any] | None = None
    """Decoder spec; None mirrors the encoder."""
    bottleneck: dict[str, Any] = field(default_factory=lambda: {"name": "identity"})
    """Bottleneck spec: {name: identity | gaussian | lowrank | ..., ...options}."""
    corruption: dict[str, Any] = field(default_factory=lambda: {"name": "none"})
    """Corruption spec: {name: none | gaussian | masking, ...options}."""
    reconstruction: dict[str, Any] = field(default_factory=lambda: {"name": "mse"})
    """Reconstruction spec: {name: mse | bernoulli | gaussian | auto, ...options}."""
    regularizers: list[dict[str, Any]] = field(default_factory=list)
    """Extra loss terms, e.g. [{name: contractive, weight: 0.1}]."""

    def validate(self) -> None:
        require(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        require(
            len(self.input_shape) >= 1 and all(s >= 1 for s in self.input_shape),
            f"input_shape must be a non-empty list of positive sizes, got {self.input_shape}",
        )
        require(
            self.reconstruction.get("name") != "auto",
            "reconstruction 'auto' must be resolved from the data before building a model "
            "(autoencoding.recipes.resolve does it)",
        )

    def normalized(self) -> ModelConfig:
        """A copy with every part spec checked and its defaults filled in."""
        self.validate()
        return ModelConfig(
            recipe=self.recipe,
            input_shape=list(self.input_shape),
            latent_dim=self.latent_dim,
            encoder=normalize_spec(ENCODERS, self.encoder),
            decoder=normalize_spec(DECODERS, self.decoder or self.encoder),
            bottleneck=normalize_spec(BOTTLENECKS, self.bottleneck),
            corruption=normalize_spec(CORRUPTIONS, self.corruption),
            reconstruction=normalize_spec(RECONSTRUCTIONS, self.reconstruction),
            regularizers=[normalize_spec(REGULARIZERS, r) for r in self.regularizers],
        )


@dataclass
class ModelOutput:
    """What a forward pass returns: the total loss, its named terms and diagnostics."""

    loss: torch.Tensor
    terms: dict[str, torch.Tensor]
    """Named loss terms (reconstruction, bottleneck and regularizer terms), summing to loss."""
    metrics: dict[str, torch.Tensor]
    """Detached per-batch diagnostics."""
    out: torch.Tensor
    """Decoder output (likelihood parameters), flat (B, factor·features)."""
    bottleneck: BottleneckOutput


class Autoencoder(nn.Module):
    """Corruption → encoder → bottleneck → decoder → reconstruction loss + regularizers."""

    def __init__(self, config: ModelConfig | dict[str, Any]) -> None:
        super().__init__()
        if isinstance(config, dict):
            config = from_dict(ModelConfig, config, where="model")
        self.config = config.normalized()
        c = self.config
        self.input_shape = tuple(c.input_shape)
        self.n_features = math.prod(self.input_shape)
        self.corruption = build(CORRUPTIONS, c.corruption)
        self.bottleneck = build(BOTTLENECKS, c.bottleneck, latent_dim=c.latent_dim)
        self.reconstruction = build(RECONSTRUCTIONS, c.reconstruction, n_features=self.n_features)
        self.encoder = build(
            ENCODERS,
            c.encoder,
            input_shape=self.input_shape,
            out_features=self.bottleneck.encoder_features(),
        )
        self.decoder = build(
            DECODERS,
            c.decoder,
            latent_dim=c.latent_dim,
            output_shape=self.input_shape,
            factor=self.reconstruction.params_per_feature,
        )
        self.regularizers = nn.ModuleList(build(REGULARIZERS, r) for r in c.regularizers)
        # Parts that share weights with a sibling (tied encoder/decoder, the SAE's decoder bias
        # subtracted in the encoder) link to it here, after every part exists.
        for part in (self.corruption, self.encoder, self.bottleneck, self.decoder):
            if hasattr(part, "bind"):
                part.bind(self)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Let parts that initialise from data (e.g. an SAE's decoder bias at the data's
        geometric median) see a sample of the training data; a no-op for the others.
        Call before training, with the same sample on every process."""
        x = self.check_input(x, "init_from_data")
        # decoder first: an encoder may initialise from it (the SAE's W_enc = W_decᵀ)
        for part in (self.decoder, self.bottleneck, self.encoder):
            if hasattr(part, "init_from_data"):
                part.init_from_data(x)

    # -- checks ---------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor, what: str = "input") -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x)
        if not x.is_floating_point():
            x = x.float()
        if x.dim() == 1 and len(self.input_shape) == 1:
            raise AutoencodingError(
                f"{what}: expected a batch shaped (n, {self.n_features}), got a single vector of "
                f"shape {tuple(x.shape)}; use x[None] for one sample"
            )
        if x.shape[1:] != self.input_shape:
            if x.dim() == 2 and x.shape[1] == self.n_features:
                x = x.view(-1, *self.input_shape)
            else:
                raise AutoencodingError(
                    f"{what}: expected samples shaped {self.input_shape} "
                    f"({self.n_features} features), got {tuple(x.shape[1:])}"
                )
        if x.shape[0] == 0:
            raise AutoencodingError(f"{what}: the batch is empty")
        return x

    # -- the pipeline ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor, step: int | None = None) -> ModelOutput:
        x_tilde, where = self.corruption(x)
        h = self.encoder(x_tilde)
        b = self.bottleneck(h, step=step)
        out = self._decode(b)
        target = x.flatten(1)
        rec = self.reconstruction.per_sample(out, target, where).mean()
        terms = {"reconstruction": rec, **b.losses}
        stats = dict(b.stats)
        if hasattr(self.bottleneck, "after_decode"):
            # Terms that need the reconstruction itself, e.g. AuxK (dead latents model the
            # residual) or Matryoshka prefix losses; returned as (losses, stats).
            more_losses, more_stats = self.bottleneck.after_decode(b, target, out, self.decoder)
            terms.update(more_losses)
            stats.update(more_stats)
        for reg in self.regularizers:
            terms.update(reg(self.encoder, x_tilde))
        loss = sum(terms.values())
        metrics = {k: v.detach() for k, v in terms.items()}
        metrics.update(stats)
        return ModelOutput(loss=loss, terms=terms, metrics=metrics, out=out, bottleneck=b)

    def _decode(self, b: BottleneckOutput) -> torch.Tensor:
        if b.values is not None and b.codes is not None and hasattr(self.decoder, "decode_sparse"):
            return self.decoder.decode_sparse(b.codes, b.values)
        z = b.z
        if z is None:  # a sparse bottleneck skipped its dense latents; this decoder needs them
            z = scatter_codes(b.values, b.codes, b.values, self.config.latent_dim)
        return self.decoder(z)

    # -- use ------------------------------------------------------------------------------
    def _eval_call(self, fn, *args):
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                return fn(*args)
        finally:
            self.train(was)

    def encode(self, x: torch.Tensor, codes: bool = False) -> torch.Tensor:
        """Deterministic latents (posterior means for VAEs); ``codes=True`` returns the
        bottleneck's discrete codes where it has them."""
        x = self.check_input(x, "encode")

        def run(x):
            b = self.bottleneck(self.encoder(x))
            if codes:
                if b.codes is None:
                    raise AutoencodingError(
                        f"bottleneck {self.config.bottleneck['name']!r} has no discrete codes"
                    )
                return b.codes
            return b.z

        return self._eval_call(run, x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Point reconstruction (likelihood mean) from latents, shaped like the data."""
        z = torch.as_tensor(z)
        if not z.is_floating_point():
            # integer codes (quantized bottlenecks): the bottleneck maps them back to latents
            if not hasattr(self.bottleneck, "decode_codes"):
                raise AutoencodingError(
                    f"decode: got integer codes but bottleneck "
                    f"{self.config.bottleneck['name']!r} has no discrete codes"
                )
            z = self._eval_call(self.bottleneck.decode_codes, z)
        z = z.to(next(self.parameters()).dtype)
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise AutoencodingError(
                f"decode: expected latents shaped (n, {self.config.latent_dim}), got "
                f"{tuple(z.shape)}"
            )
        return self._eval_call(
            lambda z: self.reconstruction.mean(self.decoder(z)).view(-1, *self.input_shape), z
        )

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_input(x, "reconstruct")

        def run(x):
            out = self._decode(self.bottleneck(self.encoder(x)))
            return self.reconstruction.mean(out).view(-1, *self.input_shape)

        return self._eval_call(run, x)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw n samples (likelihood means at prior samples) from a generative model."""
        if not self.bottleneck.generative:
            raise AutoencodingError(
                f"sampling needs a generative bottleneck (e.g. recipe 'vae'); this model's is "
                f"{self.config.bottleneck['name']!r}"
            )
        if n < 1:
            raise AutoencodingError(f"sample: n must be >= 1, got {n}")
        p = next(self.parameters())
        z = self.bottleneck.sample_prior(n, generator=generator, device=p.device, dtype=p.dtype)
        return self.decode(z)

    def config_dict(self) -> dict[str, Any]:
        return to_dict(self.config)
