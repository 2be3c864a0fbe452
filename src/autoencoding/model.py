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
from .parts.base import (
    Bottleneck,
    Corrupted,
    Corruption,
    Decoder,
    Encoder,
    Part,
    build,
    check_layout,
    normalize_spec,
)
from .parts.reconstruction import Reconstruction
from .parts.samplers import PRIOR, SAMPLERS
from .parts.sparse_ops import scatter_codes

#: what ``Autoencoder.encode(pool=...)`` accepts (``Encoder.pool`` says what each does)
POOLS = ("mean", "max", "meanmax", "cls", "tokens", "flatten", "none")

#: Version of the model-config layout; :func:`migrate_model_config` upgrades older ones.
CONFIG_VERSION = 3


def migrate_model_config(data: dict[str, Any]) -> dict[str, Any]:
    """A stored model config upgraded to :data:`CONFIG_VERSION` (a copy; newer is refused).

    Version 1 (autoencoding 0.1, no ``config_version`` key) stored the same keys; it only
    lacked the version, so the upgrade stamps it. Later layouts add their steps here, one
    per version, so a folder saved by any release loads or says exactly why not.
    """
    if not isinstance(data, dict):
        return data
    version = data.get("config_version", 1)
    if not isinstance(version, int) or version > CONFIG_VERSION:
        raise AutoencodingError(
            f"model config_version {version!r} is newer than this library reads "
            f"({CONFIG_VERSION}); upgrade autoencoding"
        )
    out = dict(data)
    # 1 -> 2: latent_dim may now be a shape, input_shape may hold free (null) sizes; a
    # version-1 config is a valid version-2 config as it stands.
    # 2 -> 3: latent samplers fitted after training; older models have none.
    if version < 3:
        out.setdefault("samplers", [])
    out["config_version"] = CONFIG_VERSION
    return out


@dataclass
class ModelConfig:
    """Every hyperparameter of a model; stored in the model folder's config.json."""

    recipe: str = "ae"
    """The recipe these settings came from (informational once resolved)."""
    input_shape: list[int | None] = field(default_factory=list)
    """Shape of one sample after scaling, e.g. [64] for a table row or [1, 8, 8] for an image;
    null marks a size that may vary between batches (fully convolutional models)."""
    latent_dim: int | list[int | None] = 8
    """The latent's shape: a bare int is a flat code of that size; a list is a shaped latent,
    channels first, e.g. [4, null, null] for a spatial latent whose size follows the input."""
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
    samplers: list[dict[str, Any]] = field(default_factory=list)
    """Latent samplers fitted on the training codes after training, e.g. [{name: gmm}];
    ``sample(n, sampler=name)`` draws from one (``prior`` is the bottleneck's own)."""
    config_version: int = CONFIG_VERSION
    """Layout version of this config (older ones are migrated on load)."""

    @classmethod
    def from_dict(cls, data: Any, where: str = "model") -> ModelConfig:
        """Build from a mapping written by any release (migrated first)."""
        return from_dict(cls, migrate_model_config(data), where=where)

    @property
    def latent_shape(self) -> tuple[int | None, ...]:
        """The latent's shape, channels first: ``(latent_dim,)`` for a flat code."""
        ld = self.latent_dim
        return (ld,) if isinstance(ld, int) else tuple(ld)

    @property
    def latent_channels(self) -> int:
        """Features per latent position: the code size of a flat latent, a token latent's
        width D (``[null, D]``), else its channels."""
        shape = self.latent_shape
        if len(shape) == 2 and shape[0] is None:  # tokens (B, N, D), N set by the input/mask
            return int(shape[1])  # type: ignore[arg-type]
        return int(shape[0])  # type: ignore[arg-type]

    def validate(self) -> None:
        shape = self.latent_shape
        if isinstance(self.latent_dim, int):
            require(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        tokens = len(shape) == 2 and shape[0] is None and isinstance(shape[1], int)
        require(
            len(shape) >= 1 and (tokens or isinstance(shape[0], int))
            and all(s is None or s >= 1 for s in shape),
            f"latent_dim must be a positive int, a shape [channels, sizes...] with positive "
            f"or null sizes, or tokens [null, width], got {self.latent_dim}",
        )  # fmt: skip
        require(
            len(self.input_shape) >= 1 and all(s is None or s >= 1 for s in self.input_shape),
            f"input_shape must be a non-empty list of positive sizes (null for a size that "
            f"varies), got {self.input_shape}",
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
            latent_dim=self.latent_dim if isinstance(self.latent_dim, int) else list(
                self.latent_dim),
            encoder=normalize_spec(ENCODERS, self.encoder),
            decoder=normalize_spec(DECODERS, self.decoder or self.encoder),
            bottleneck=normalize_spec(BOTTLENECKS, self.bottleneck),
            corruption=normalize_spec(CORRUPTIONS, self.corruption),
            reconstruction=normalize_spec(RECONSTRUCTIONS, self.reconstruction),
            regularizers=[normalize_spec(REGULARIZERS, r) for r in self.regularizers],
            samplers=[normalize_spec(SAMPLERS, r) for r in self.samplers],
        )  # fmt: skip


def _fits(shape: tuple[int | None, ...], t: torch.Tensor) -> bool:
    """Whether batch ``t`` holds samples of ``shape`` (None = any size)."""
    return t.dim() == len(shape) + 1 and all(
        s is None or s == n for s, n in zip(shape, t.shape[1:], strict=True)
    )


def _sizes(shape: tuple[int | None, ...]) -> str:
    return ", ".join("any" if s is None else str(s) for s in shape)


@dataclass
class ModelOutput:
    """What a forward pass returns: the total loss, its named terms and diagnostics."""

    loss: torch.Tensor
    terms: dict[str, torch.Tensor]
    """Named loss terms (reconstruction, bottleneck and regularizer terms), summing to loss."""
    metrics: dict[str, torch.Tensor]
    """Detached per-batch diagnostics."""
    out: torch.Tensor
    """Decoder output (likelihood parameters), shaped (B, params per entry, *sample shape)."""
    bottleneck: BottleneckOutput | None


@dataclass
class Pass:
    """One encode → bottleneck → decode pass (:meth:`Autoencoder.run`)."""

    record: Corrupted
    """What the encoder saw (the corruption record; nothing hidden at inference)."""
    h: torch.Tensor
    """Encoder output."""
    bottleneck: BottleneckOutput
    """The bottleneck's record: z, codes, values, losses, stats, params."""
    out: torch.Tensor | None
    """Decoder output (B, params per entry, *sample shape); None when not decoded."""


class Autoencoder(nn.Module):
    """Corruption → encoder → bottleneck → decoder → reconstruction loss + regularizers."""

    def __init__(self, config: ModelConfig | dict[str, Any]) -> None:
        super().__init__()
        if isinstance(config, dict):
            config = ModelConfig.from_dict(config)
        self.config = config.normalized()
        c = self.config
        self.input_shape = tuple(c.input_shape)
        #: features per sample, or None when some size varies (fully convolutional models)
        self.n_features = math.prod(self.input_shape) if None not in self.input_shape else None
        self.corruption: Corruption = build(CORRUPTIONS, c.corruption)
        self.bottleneck: Bottleneck = build(BOTTLENECKS, c.bottleneck, latent_dim=c.latent_channels)
        self.reconstruction: Reconstruction = build(
            RECONSTRUCTIONS, c.reconstruction, n_features=self.n_features
        )
        self.encoder: Encoder = build(
            ENCODERS,
            c.encoder,
            input_shape=self.input_shape,
            out_features=self.bottleneck.encoder_features(),
        )
        self.decoder: Decoder = build(
            DECODERS,
            c.decoder,
            latent_dim=c.latent_channels,
            output_shape=self.input_shape,
            factor=self.reconstruction.params_per_feature,
        )
        self.regularizers = nn.ModuleList(build(REGULARIZERS, r) for r in c.regularizers)
        latent = c.latent_shape
        self.samplers = nn.ModuleDict(
            {s["name"]: build(SAMPLERS, s, latent_shape=latent) for s in c.samplers}
        )
        check_layout(self.encoder, "encoder", self.encoder.consumes, self.input_shape)
        check_layout(self.encoder, "encoder", self.encoder.produces, latent)
        check_layout(self.decoder, "decoder", self.decoder.consumes, latent)
        check_layout(self.decoder, "decoder", self.decoder.produces, self.input_shape)
        # Parts that share weights with a sibling (tied encoder/decoder, the SAE's decoder bias
        # subtracted in the encoder) link to it here, after every part exists.
        for part in self.parts():
            part.bind(self)

    def parts(self) -> list[Part]:
        """Every part, in pipeline order (regularizers, then latent samplers, last: a sampler
        fits on the codes of the finished model)."""
        return [
            self.corruption,
            self.encoder,
            self.bottleneck,
            self.decoder,
            self.reconstruction,
            *self.regularizers,
            *self.samplers.values(),
        ]

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Let parts that initialise from data (e.g. an SAE's decoder bias at the data's
        geometric median) see a sample of the training data; a no-op for the others.
        Call before training, with the same sample on every process."""
        x = self.check_input(x, "init_from_data")
        # decoder first: an encoder may initialise from it (the SAE's W_enc = W_decᵀ)
        for part in (self.decoder, self.bottleneck, self.encoder):
            part.init_from_data(x)

    # -- checks ---------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor, what: str = "input") -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x)
        if not x.is_floating_point():
            x = x.float()
        shape = self.input_shape
        if x.dim() == 1 and len(shape) == 1:
            raise AutoencodingError(
                f"{what}: expected a batch shaped (n, {shape[0]}), got a single vector of "
                f"shape {tuple(x.shape)}; use x[None] for one sample"
            )
        if not _fits(shape, x):
            if x.dim() == 2 and self.n_features is not None and x.shape[1] == self.n_features:
                x = x.view(-1, *shape)
            else:
                want = _sizes(shape)
                want = f"({want},)" if len(shape) == 1 else f"({want})"
                size = f" ({self.n_features} features)" if self.n_features is not None else ""
                raise AutoencodingError(
                    f"{what}: expected samples shaped {want}{size}, got {tuple(x.shape[1:])}"
                )
        if x.shape[0] == 0:
            raise AutoencodingError(f"{what}: the batch is empty")
        # NaN/inf are caught here, not deep inside the network; NaN passes only when the
        # corruption takes it as a missing entry (Corruption.accepts_missing)
        missing = self.corruption.accepts_missing
        bad = torch.isinf(x) if missing else ~torch.isfinite(x)
        if not bad.any():
            return x
        idx = [int(i) for i in bad.nonzero()[0]]
        kind = "inf" if torch.isinf(x[tuple(idx)]) else "NaN"
        if kind == "inf":
            hint = "remove or clip infinite values" + (
                " (only NaN marks a missing value)" if missing else ""
            )
        else:
            hint = (
                f"corruption {self.config.corruption['name']!r} does not accept missing values; "
                f"impute them first or use one that does (e.g. 'remask')"
            )
        raise AutoencodingError(
            f"{what}: found {int(bad.sum())} non-finite values ({kind} first at sample "
            f"{idx[0]}, entry {tuple(idx[1:])}); {hint}"
        )

    # -- the pipeline ---------------------------------------------------------------------
    def run(
        self,
        x: torch.Tensor,
        *,
        corrupt: bool = False,
        sample: bool | None = None,
        decode: bool = True,
        step: int | None = None,
    ) -> Pass:
        """encode → bottleneck → decode, the one chain every caller uses.

        ``corrupt``: apply the corruption (training and validation losses) instead of its
        inference view. ``sample``: draw from a stochastic bottleneck (VAE) instead of
        taking its mean; None follows the module's mode (training samples, eval does not).
        ``decode=False`` stops after the bottleneck. No gradient mode is set here.
        """
        record = self.corruption(x) if corrupt else self.corruption.observe(x)
        h = self.encoder.encode(record)
        if sample is None or sample == self.bottleneck.training:
            b = self.bottleneck(h, step=step)
        else:
            was = self.bottleneck.training
            self.bottleneck.train(sample)
            try:
                b = self.bottleneck(h, step=step)
            finally:
                self.bottleneck.train(was)
        out = self.decode_output(b, record, tuple(x.shape[1:])) if decode else None
        return Pass(record=record, h=h, bottleneck=b, out=out)

    def forward(self, x: torch.Tensor, step: int | None = None) -> ModelOutput:
        p = self.run(x, corrupt=True, step=step)
        b, out, record = p.bottleneck, p.out, p.record
        target = x if record.target is None else record.target
        rec = self.reconstruction.per_sample(out, target, record.where).mean()
        terms = {"reconstruction": rec, **b.losses}
        stats = dict(b.stats)
        more_losses, more_stats = self.bottleneck.after_decode(
            b, target.flatten(1), out.flatten(1), self.decoder
        )
        terms.update(more_losses)
        stats.update(more_stats)
        for reg in self.regularizers:
            terms.update(reg(self.encoder, record.x))
        loss = sum(terms.values())
        metrics = {k: v.detach() for k, v in terms.items()}
        metrics.update(stats)
        return ModelOutput(loss=loss, terms=terms, metrics=metrics, out=out, bottleneck=b)

    def decode_output(
        self,
        b: BottleneckOutput,
        record: Corrupted | None = None,
        sample_shape: tuple[int, ...] | None = None,
    ) -> torch.Tensor:
        """The decoder's output (likelihood parameters, (B, params per entry, *sample shape))
        for a bottleneck record: sparse codes decode sparsely where the decoder can, and
        ``record`` (None at generation) tells a decoder what was hidden. ``sample_shape``
        defaults to the model's fixed input shape."""
        n = len(b.z) if b.z is not None else len(b.codes)  # type: ignore[arg-type]
        if b.values is not None and b.codes is not None and self.decoder.decodes_sparse:
            out = self.decoder.decode_sparse(b.codes, b.values)
        else:
            z = b.z
            if z is None:  # a sparse bottleneck skipped its dense latents; this decoder needs them
                z = scatter_codes(b.values, b.codes, b.values, self.config.latent_channels)
            out = self.decoder.decode(z, record)
        # likelihood parameters, entry by entry: (B, params per entry, *sample shape)
        shape = sample_shape if sample_shape is not None else self.input_shape
        return out.view(n, self.reconstruction.params_per_feature, *shape)

    # -- use ------------------------------------------------------------------------------
    def _eval_call(self, fn, *args):
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                return fn(*args)
        finally:
            self.train(was)

    def encode(self, x: torch.Tensor, codes: bool = False, pool: str | None = None) -> torch.Tensor:
        """Deterministic latents (posterior means for VAEs); ``codes=True`` returns the
        bottleneck's discrete codes where it has them. ``pool`` summarises shaped latents
        per sample (``Encoder.pool``: mean, max, meanmax, cls, tokens, flatten, none); None = the
        encoder's default (token latents: mean; every other latent as it is)."""
        how = self.encoder.default_pool if pool is None else pool
        if how not in POOLS:
            raise AutoencodingError(
                f"encode: unknown pool {how!r}; expected one of {', '.join(POOLS)}"
            )
        x = self.check_input(x, "encode")

        def run(x):
            b = self.run(x, decode=False).bottleneck
            if codes:
                if b.codes is None:
                    raise AutoencodingError(
                        f"bottleneck {self.config.bottleneck['name']!r} has no discrete codes"
                    )
                return b.codes
            return self.encoder.pool(b.z, how)

        return self._eval_call(run, x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Point reconstruction (likelihood mean) from latents, shaped like the data."""
        z = torch.as_tensor(z)
        if not z.is_floating_point():
            # integer codes (quantized bottlenecks): the bottleneck maps them back to latents
            z = self._eval_call(self.bottleneck.decode_codes, z)
        z = z.to(next(self.parameters()).dtype)
        if not torch.isfinite(z).all():
            bad = (~torch.isfinite(z)).nonzero()[0].tolist()
            raise AutoencodingError(
                f"decode: latents hold NaN or inf (first at index {bad}); expected finite values"
            )
        lat = self.config.latent_shape
        if not _fits(lat, z):
            raise AutoencodingError(
                f"decode: expected latents shaped (n, {_sizes(lat)}), got {tuple(z.shape)}"
            )
        if None in self.input_shape:
            raise AutoencodingError(
                "decode: this model's sample size follows its input; decode latents of a "
                "known size through reconstruct, or give the model a fixed input_shape"
            )
        return self._eval_call(
            lambda z: self.reconstruction.mean(self.decode_output(BottleneckOutput(z=z))),
            z,
        )

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_input(x, "reconstruct")
        return self._eval_call(lambda x: self.reconstruction.mean(self.run(x).out), x)

    # -- bitstreams -----------------------------------------------------------------------
    def fingerprint(self) -> bytes:
        """SHA-256 of the config, weights and coding tables (stamped into every bitstream)."""
        import json

        from .container import fingerprint

        return fingerprint(self, json.dumps(self.config_dict(), sort_keys=True))

    def compress(self, x: torch.Tensor) -> bytes:
        """The batch ``x`` as bytes: the bottleneck's bitstreams in an ``.aec`` container
        (:mod:`autoencoding.container`). Needs a bottleneck that writes bytes (the codec
        recipes) and its coding tables, built at the end of training."""
        from .container import Packed, pack

        if not self.bottleneck.writes_bytes:
            self.bottleneck.compress_latent(x)  # raises its clear message
        x = self.check_input(x, "compress")

        def run(x):
            h = self.encoder.encode(self.corruption.observe(x))
            return h, self.bottleneck.compress_latent(h)

        h, streams = self._eval_call(run, x)
        return pack(Packed(self.fingerprint(), tuple(x.shape), tuple(h.shape), streams))

    def decompress(self, data: bytes) -> torch.Tensor:
        """The reconstruction coded in ``data`` (written by :meth:`compress` of this very
        model: a file from other weights or tables is refused)."""
        from .container import unpack

        p = unpack(data)
        if p.fingerprint != self.fingerprint():
            raise AutoencodingError(
                "decompress: the bitstream was written by a different model (its fingerprint "
                f"{p.fingerprint.hex()[:16]}… does not match this model's "
                f"{self.fingerprint().hex()[:16]}…)"
            )

        def run():
            z = self.bottleneck.decompress_latent(p.streams, p.latent_shape)
            z = z.to(next(self.parameters()).dtype)
            out = self.decode_output(BottleneckOutput(z=z), None, tuple(p.batch_shape[1:]))
            return self.reconstruction.mean(out)

        return self._eval_call(run)

    def default_sampler(self) -> str | None:
        """What ``sample`` draws from unless told: the bottleneck's prior where it has one,
        else the first listed latent sampler (None: the model cannot sample)."""
        if self.bottleneck.generative:
            return PRIOR
        return next(iter(self.samplers), None)

    def sample(
        self, n: int, generator: torch.Generator | None = None, sampler: str | None = None
    ) -> torch.Tensor:
        """Draw n samples: likelihood means at latents drawn from ``sampler`` (``prior``:
        the bottleneck's own; a name from ``config.samplers``: a sampler fitted on the
        training codes; None: :meth:`default_sampler`)."""
        if n < 1:
            raise AutoencodingError(f"sample: n must be >= 1, got {n}")
        name = sampler if sampler is not None else self.default_sampler()
        have = ([PRIOR] if self.bottleneck.generative else []) + list(self.samplers)
        if name is None or name not in have:
            raise AutoencodingError(
                f"sample: this {self.config.recipe!r} model has "
                + (f"no sampler {name!r}; it has: {', '.join(have)}" if have else
                   "no prior and no fitted latent sampler; fit one with "
                   "TrainedModel.fit_sampler(x, 'gmm') or train with samplers: [{name: gmm}]")
            )  # fmt: skip
        p = next(self.parameters())
        if name == PRIOR:
            z = self.bottleneck.sample_prior(n, generator=generator, device=p.device, dtype=p.dtype)
        else:
            z = self.samplers[name].sample(n, generator=generator).to(p.dtype)
        return self.decode(z)

    def config_dict(self) -> dict[str, Any]:
        return to_dict(self.config)


class PipelineGroup(nn.Module):
    """Independent pipelines trained side by side on parts of one batch (e.g. several SAEs
    on one activation stream): the loss is the sum of the members' losses. The trainer
    and the fast-path seam treat it member by member through :meth:`split` and
    :meth:`combine`."""

    members: nn.ModuleList
    #: member i's loss terms and metrics are logged as ``{member_prefix}{i}/name``
    member_prefix = "member"

    def split(self, x: torch.Tensor) -> list[tuple[Autoencoder, torch.Tensor]]:
        """Each member with its share of the batch."""
        raise NotImplementedError

    def init_from_data(self, x: torch.Tensor) -> None:
        for m, xs in self.split(x):
            m.init_from_data(xs)

    def parts(self) -> list[Part]:
        return [p for m in self.members for p in m.parts()]

    def forward(self, x: torch.Tensor, step: int | None = None) -> ModelOutput:
        return self.combine([m(xs, step=step) for m, xs in self.split(x)])

    def combine(self, outs: list[ModelOutput]) -> ModelOutput:
        """One record for the group: member i's terms and metrics prefixed
        ``{member_prefix}{i}/``."""
        terms, metrics = {}, {}
        for i, o in enumerate(outs):
            prefix = f"{self.member_prefix}{i}/"
            terms.update({prefix + k: v for k, v in o.terms.items()})
            metrics.update({prefix + k: v for k, v in o.metrics.items()})
        loss = sum(o.loss for o in outs)
        return ModelOutput(
            loss=loss, terms=terms, metrics=metrics, out=outs[0].out, bottleneck=outs[0].bottleneck
        )
