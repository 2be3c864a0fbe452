"""Composable parts: corruption, nets, bottlenecks, reconstruction losses, regularizers.

Importing this package registers every built-in part.
"""

# Each module registers its parts on import: continuous (bottlenecks, corruption, disentangle, nets,
# reconstruction, regularizers), quantized (fsq, vq), tables with missing values
# (feature_transformer, remask), sparse autoencoders (sae_nets, sae_gain, sparse) and masked
# autoencoders on patches (transformer, pits, masks; patches holds their grid) and learned
# codecs (entropy, hyperprior: entropy-model bottlenecks; gdn: their conv nets).
from . import (  # noqa: F401
    bottlenecks,
    corruption,
    disentangle,
    entropy,
    feature_transformer,
    fsq,
    gdn,
    generative,
    hyperprior,
    image_losses,
    masks,
    nets,
    pits,
    reconstruction,
    regularizers,
    remask,
    sae_gain,
    sae_nets,
    samplers,
    sparse,
    transformer,
    vector_quant,
    vq,
)
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
