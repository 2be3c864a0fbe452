"""autoencoding: one library and command line for the whole autoencoder family.

The public names below load on first use (PEP 562), so ``autoencoding --help`` and argument
errors answer without starting torch; ``import autoencoding as ae; ae.fit(...)`` works as
usual.
"""

from __future__ import annotations

from ._lazy import lazy_names
from .errors import AutoencodingError, TrainingDiverged

__version__ = "0.1.0"

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "PosteriorCollapseWarning": ".api",
        "TrainedModel": ".api",
        "fit": ".api",
        "load": ".api",
        "Autoencoder": ".model",
        "ModelConfig": ".model",
        "ModelOutput": ".model",
        "RECIPES": ".recipes",
        "Recipe": ".recipes",
        "get_recipe": ".recipes",
        "resolve": ".recipes",
    },
)

__all__ = [
    "RECIPES",
    "PosteriorCollapseWarning",
    "TrainedModel",
    "fit",
    "load",
    "Autoencoder",
    "AutoencodingError",
    "ModelConfig",
    "ModelOutput",
    "Recipe",
    "TrainingDiverged",
    "__version__",
    "get_recipe",
    "resolve",
]
