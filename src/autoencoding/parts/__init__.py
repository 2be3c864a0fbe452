"""Composable parts: corruption, nets, bottlenecks, reconstruction losses, regularizers.

Importing this package registers every built-in part.
"""

from . import bottlenecks, corruption, nets, reconstruction, regularizers  # noqa: F401
from .base import (
    BOTTLENECKS,
    CORRUPTIONS,
    DECODERS,
    ENCODERS,
    RECONSTRUCTIONS,
    REGULARIZERS,
    BottleneckOutput,
)

__all__ = [
    "BOTTLENECKS",
    "CORRUPTIONS",
    "DECODERS",
    "ENCODERS",
    "RECONSTRUCTIONS",
    "REGULARIZERS",
    "BottleneckOutput",
]
