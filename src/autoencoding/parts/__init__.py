"""Composable parts: corruption, nets, bottlenecks, reconstruction losses, regularizers.

Importing this package registers every built-in part.
"""

from . import bottlenecks, corruption, nets, reconstruction, regularizers  # noqa: F401
from . import fsq, vq  # noqa: F401  (quantized bottlenecks)
from . import feature_transformer, remask  # noqa: F401  (tables with missing values)
from . import sae_nets, sparse  # noqa: F401  (sparse autoencoders)
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
