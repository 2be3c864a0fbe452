"""What every part shares: a registry per kind, a config dataclass per part, the declared
interface of each kind of part, and the records parts hand each other.

A part spec in a model config is a mapping ``{"name": <registry name>, **options}``; the
options are validated against the part's ``Config`` dataclass (unknown keys and wrong types
are rejected with the part's name in the message).

The interfaces (:class:`Part` and one base class per kind) declare every optional hook with
a default that does nothing, so the model and the trainer call hooks unconditionally and
never probe a part with ``hasattr``::

    Corruption.forward(x) -> Corrupted            what the encoder may see, what the loss counts
    Encoder.encode(c: Corrupted) -> h             default: self(c.x); token encoders read c.visible
    Bottleneck.forward(h, step) -> BottleneckOutput
    Decoder.decode(z, c) -> out                   default: self(z); may insert mask tokens
    Reconstruction.per_sample(out, x, where)      out shaped (B, params, *sample shape)

    Part hooks: bind(model), init_from_data(x), on_train_start(total_steps),
                param_groups(), aux_loss() / aux_parameters(), on_train_end(batches)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import from_dict, to_dict
from ..errors import AutoencodingError
from ..registry import Registry

ENCODERS: Registry[type] = Registry("encoder")
DECODERS: Registry[type] = Registry("decoder")
BOTTLENECKS: Registry[type] = Registry("bottleneck")
CORRUPTIONS: Registry[type] = Registry("corruption")
RECONSTRUCTIONS: Registry[type] = Registry("reconstruction")
REGULARIZERS: Registry[type] = Registry("regularizer")


@dataclass
class NoOptions:
    """A part without options."""

    def validate(self) -> None:
        pass


#: What a part consumes or produces, by layout of one batch:
#: flat (B, D), tokens (B, N, D), spatial (B, C, h, w), series (B, C, T); "any" takes every one.
LAYOUTS = ("flat", "tokens", "spatial", "series", "any")
#: dimensions of one sample (or latent) of each layout, batch axis excluded
LAYOUT_RANK = {"flat": 1, "tokens": 2, "series": 2, "spatial": 3}


def check_layout(part: Part, role: str, layout: str, shape: tuple[int | None, ...]) -> None:
    """Refuse a part whose declared layout cannot hold ``shape`` (one clear message at
    build time instead of a shape error deep inside torch)."""
    rank = LAYOUT_RANK.get(layout)
    if rank is not None and rank != len(shape):
        sizes = ", ".join("null" if s is None else str(s) for s in shape)
        raise AutoencodingError(
            f"{role} {type(part).registry_name!r} works on {layout} data ({rank} dimension(s) "
            f"per sample), got shape [{sizes}]"
        )


@dataclass
class Corrupted:
    """What a corruption returns: the encoder's input and what was hidden from it.

    Every field but ``x`` is optional (None = nothing hidden, every entry counts). The
    encoder, the decoder and the reconstruction loss each read what they need: a
    visible-only encoder reads ``visible``, a decoder that inserts mask tokens reads
    ``hidden``, the loss reads ``where`` (and ``target`` when the clean input cannot serve
    as the target, e.g. missing cells).
    """

    x: torch.Tensor
    """x̃: what the encoder sees, shaped like the sample batch."""
    where: torch.Tensor | None = None
    """Boolean, shaped like ``x``: the entries the reconstruction loss counts (None = all)."""
    hidden: torch.Tensor | None = None
    """Boolean (B, *positions): True at positions hidden from the encoder. Positions are
    entries for tables and patches/tokens for token models."""
    visible: torch.Tensor | None = None
    """Long (B, n_visible): indices of the positions the encoder may see, the same count in
    every row (MAE-style visible-only encoders gather these)."""
    target: torch.Tensor | None = None
    """What the loss compares against when it is not the clean input (e.g. a table's
    missing cells zero-filled); None = the clean input."""


class Part(nn.Module):
    """Base class of every part. Each hook has a default that does nothing; a part overrides
    only those it needs, and the model and trainer call them all unconditionally."""

    #: the part's options dataclass (validated before construction)
    Config: ClassVar[type] = NoOptions
    #: batch layouts this part consumes and produces (see LAYOUTS)
    consumes: ClassVar[str] = "any"
    produces: ClassVar[str] = "any"

    def bind(self, model: nn.Module) -> None:
        """Link to sibling parts once every part exists (tied weights, shared biases)."""

    def init_from_data(self, x: torch.Tensor) -> None:
        """See a sample of the (scaled) training data before training (data-dependent init).
        Called decoder first, then bottleneck, then encoder (an encoder may follow the
        decoder, as the SAE's W_enc = W_decᵀ)."""

    def on_train_start(self, total_steps: int) -> None:
        """The trainer announces the run length (e.g. to size a warm-up)."""

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer groups for some of this part's parameters, with their own settings (e.g.
        ``{"params": [codebook], "weight_decay": 0.0}``); parameters not listed join the main
        group."""
        return []

    def aux_parameters(self) -> list[nn.Parameter]:
        """Parameters trained only by :meth:`aux_loss`, on their own optimizer (e.g. a
        learned codec's CDF parameters); they never join the main optimizer."""
        return []

    def aux_loss(self) -> torch.Tensor | None:
        """An auxiliary loss minimised by its own optimizer over :meth:`aux_parameters` at
        every training step (None = no auxiliary loss this step)."""
        return None

    def on_train_end(self, batches: Callable[[], Iterable[torch.Tensor]]) -> None:
        """After the last step, in eval mode: build what needs the trained model (coding
        tables, a latent sampler). ``batches()`` re-iterates the training data."""


@dataclass
class BottleneckOutput:
    """What every bottleneck returns, whatever its family.

    The trainer adds every entry of ``losses`` to the total loss and logs every entry of
    ``stats``; evaluators read ``codes`` (discrete/sparse codes) and ``params``
    (distribution parameters such as a posterior mean), so no caller special-cases a family.
    """

    z: torch.Tensor | None
    """The latent handed to the decoder. Bottlenecks that decode from ``codes`` and
    ``values`` (TopK) leave it None in training steps, where nothing reads it."""
    losses: dict[str, torch.Tensor] = field(default_factory=dict)
    """Named loss terms, already weighted, that join the total loss."""
    codes: torch.Tensor | None = None
    """Discrete or sparse codes (indices), when the bottleneck has them."""
    stats: dict[str, torch.Tensor] = field(default_factory=dict)
    """Detached diagnostics (per-batch scalars) logged by the trainer."""
    params: dict[str, torch.Tensor] = field(default_factory=dict)
    """Distribution parameters (e.g. ``mean`` and ``logvar`` of a Gaussian posterior)."""
    values: torch.Tensor | None = None
    """For sparse codes: the latent value at each index of ``codes`` (same shape). A decoder
    with ``decode_sparse(codes, values)`` then decodes without the dense latents × features
    product (sparse autoencoders activate k of thousands of latents)."""


class Corruption(Part):
    """Maps a clean batch to a :class:`Corrupted` record. Applied by training and validation
    losses; ``observe`` is what inference (encode / reconstruct) sees."""

    #: True when the corruption never changes the input (fast paths may skip it)
    identity: ClassVar[bool] = False
    #: True when inputs may hold NaN at missing entries (the corruption hides them)
    accepts_missing: ClassVar[bool] = False

    def forward(self, x: torch.Tensor) -> Corrupted:
        raise NotImplementedError

    def observe(self, x: torch.Tensor) -> Corrupted:
        """The record at inference: nothing hidden beyond what the data itself lacks."""
        return Corrupted(x)


class Encoder(Part):
    """Maps what the encoder may see to the bottleneck's input ``h``."""

    def encode(self, c: Corrupted) -> torch.Tensor:
        """``h`` from the corruption record; the default encodes ``c.x`` with ``forward``.
        A visible-only token encoder overrides this to gather ``c.visible``."""
        return self(c.x)

    #: what ``Autoencoder.encode`` returns unless told (its ``pool``): ``none`` = the latent
    #: as the bottleneck gives it; token encoders (parts/patches.py) default to ``mean``
    default_pool: ClassVar[str] = "none"

    def pool(self, z: torch.Tensor, how: str) -> torch.Tensor:
        """Per-sample features from latents ``z``: ``none``/``tokens`` = ``z`` itself,
        ``flatten`` = (B, everything), ``mean`` / ``max`` / ``meanmax`` = a shaped latent
        (B, C, *sizes) averaged / maximised / both over its positions (a flat latent as it
        is); ``cls`` needs a token encoder with a [cls] token. Token encoders override this
        (their latent is (B, N, D))."""
        if how in ("none", "tokens"):
            return z
        if how == "flatten":
            return z.flatten(1)
        if how == "mean":
            return z if z.dim() == 2 else z.flatten(2).mean(2)
        if how == "max":
            return z if z.dim() == 2 else z.flatten(2).amax(2)
        if how == "meanmax":
            return z if z.dim() == 2 else torch.cat([z.flatten(2).mean(2), z.flatten(2).amax(2)], 1)
        if how == "cls":
            raise AutoencodingError(
                f"encode: pool 'cls' needs a token encoder with a [cls] token; encoder "
                f"{type(self).registry_name!r} has none (use pool 'mean' or 'none')"
            )
        raise AutoencodingError(
            f"encode: unknown pool {how!r}; expected one of mean, max, meanmax, cls, tokens, "
            f"flatten, none"
        )

    def jacobian_frobenius_sq(self, x: torch.Tensor) -> torch.Tensor:
        """‖∂h/∂x‖²_F per row (the contractive penalty); exact, by autograd. Encoders with
        a cheaper closed form override it."""
        from torch.func import jacrev, vmap

        def one(row: torch.Tensor) -> torch.Tensor:
            return self(row.unsqueeze(0)).squeeze(0)

        return vmap(jacrev(one))(x).pow(2).flatten(1).sum(1)


class Decoder(Part):
    """Maps latents to likelihood parameters, ``factor`` numbers per output entry, laid out
    as (B, factor, *sample shape) once the model views them (flat (B, factor·D) is fine)."""

    #: True when ``decode_sparse`` decodes (indices, values) without dense latents
    decodes_sparse: ClassVar[bool] = False

    def decode(self, z: torch.Tensor, c: Corrupted | None = None) -> torch.Tensor:
        """Decoder output from latents; ``c`` (None at generation) lets a decoder put mask
        tokens at hidden positions. The default decodes ``z`` with ``forward``."""
        return self(z)

    def decode_sparse(
        self, codes: torch.Tensor, values: torch.Tensor, bias: bool = True
    ) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not decode sparse codes")


class Bottleneck(Part):
    """Maps the encoder output ``h`` to the latent ``z`` plus a :class:`BottleneckOutput`."""

    #: True when ``sample_prior`` can draw latents for generation
    generative: ClassVar[bool] = False
    #: True when ``log_importance`` gives importance weights (likelihood bounds, NLL)
    has_posterior: ClassVar[bool] = False
    #: True when the bottleneck has discrete codes that ``decode_codes`` maps back to latents
    has_codes: ClassVar[bool] = False
    #: True when the bottleneck only selects and gathers pre-activations (TopK): the
    #: encoder may hand them over in its product's low precision
    selects_pre_activations: ClassVar[bool] = False

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    def encoder_features(self) -> int:
        """How many features the encoder must output."""
        return self.latent_dim

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        raise NotImplementedError

    def after_decode(
        self, b: BottleneckOutput, x: torch.Tensor, out: torch.Tensor, decoder: Decoder
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(loss terms, stats) that need the decoder output itself, e.g. AuxK (dead latents
        model the residual) or Matryoshka prefix losses. ``x`` and ``out`` are flat."""
        return {}, {}

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        raise AutoencodingError(
            f"decode: got integer codes but bottleneck {type(self).registry_name!r} has no "
            f"discrete codes"
        )

    def log_importance(self, h: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} has no posterior to sample")

    def sample_prior(
        self, n: int, *, generator: torch.Generator | None = None, device=None, dtype=None
    ) -> torch.Tensor:
        raise AutoencodingError(
            f"sampling needs a generative bottleneck (e.g. recipe 'vae'); this model's is "
            f"{type(self).registry_name!r}"
        )

    #: True when ``compress_latent`` writes bytes (entropy models, quantizers with codes)
    writes_bytes: ClassVar[bool] = False

    def compress_latent(self, h: torch.Tensor) -> list[bytes]:
        """Byte streams holding the quantized latent of the encoder output ``h`` (eval
        mode). ``decompress_latent(streams, shape)`` must return exactly the latent the
        decoder would get from ``h``."""
        raise AutoencodingError(
            f"compress: bottleneck {type(self).registry_name!r} writes no bitstream; use a "
            f"codec recipe (e.g. 'bmshj-factorized', 'bmshj-hyperprior', 'mbt-mean-scale')"
        )

    def decompress_latent(self, streams: list[bytes], shape: tuple[int, ...]) -> torch.Tensor:
        """The latent ``z`` (shaped ``shape``, batch first) from :meth:`compress_latent`'s
        streams."""
        raise AutoencodingError(
            f"decompress: bottleneck {type(self).registry_name!r} reads no bitstream"
        )


def overrides(part: nn.Module, base: type, hook: str) -> bool:
    """Whether ``part`` implements ``hook`` itself rather than inheriting ``base``'s default
    (fast paths use it to tell a no-op hook from a real one)."""
    owner = next(k for k in type(part).__mro__ if hook in vars(k))
    return owner is not base


class Regularizer(Part):
    """An extra loss term from the encoder and its input: ``forward(encoder, x̃) -> terms``."""

    def forward(self, encoder: Encoder, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError


def split_spec(spec: Any, kind: str) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if not isinstance(spec, dict) or "name" not in spec:
        raise AutoencodingError(
            f"{kind}: expected a name or a mapping with a 'name' key, got {spec!r}"
        )
    opts = {k: v for k, v in spec.items() if k != "name"}
    return spec["name"], opts


def part_config(registry: Registry[type], spec: Any) -> tuple[type, Any]:
    """Resolve a part spec to (class, validated config)."""
    name, opts = split_spec(spec, registry.kind)
    cls = registry.get(name)
    cfg = from_dict(cls.Config, opts, where=f"{registry.kind} {name!r}")
    cfg.validate()
    return cls, cfg


def normalize_spec(registry: Registry[type], spec: Any) -> dict[str, Any]:
    """The spec with every default filled in, as stored in config.json."""
    cls, cfg = part_config(registry, spec)
    return {"name": cls.registry_name, **to_dict(cfg)}


def build(registry: Registry[type], spec: Any, **context: Any) -> nn.Module:
    cls, cfg = part_config(registry, spec)
    return cls(cfg, **context)


def config_fields(cfg: Any) -> dict[str, Any]:
    return {f.name: vars(cfg)[f.name] for f in dataclasses.fields(cfg)}
