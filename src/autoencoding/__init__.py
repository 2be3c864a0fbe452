"""autoencoding: one library and command line for the whole autoencoder family."""

__version__ = "0.1.0"

from . import parts  # noqa: F401  (registers the built-in parts)
from .api import PosteriorCollapseWarning, TrainedModel, fit, load
from .errors import AutoencodingError, TrainingDiverged
from .model import Autoencoder, ModelConfig, ModelOutput
from .recipes import RECIPES, Recipe, get_recipe, resolve

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
