"""What every part shares: a registry per kind, a config dataclass per part, one output record.

A part spec in a model config is a mapping ``{"name": <registry name>, **options}``; the
options are validated against the part's ``Config`` dataclass (unknown keys and wrong types
are rejected with the part's name in the message).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

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
    cfg_cls = getattr(cls, "Config", NoOptions)
    cfg = from_dict(cfg_cls, opts, where=f"{registry.kind} {name!r}")
    if hasattr(cfg, "validate"):
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
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
