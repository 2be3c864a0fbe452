"""scikit-learn estimators for tables: outlier detection, masked-autoencoder imputation and
embeddings. Each works in ``Pipeline``, ``GridSearchCV`` and ``clone``, takes any recipe by
name, and seeds everything from ``random_state``.

    from autoencoding.estimators import (
        AutoencoderEmbedder, AutoencoderOutlierDetector, MaskedAutoencoderImputer)
"""

from .embedder import AutoencoderEmbedder
from .imputer import MaskedAutoencoderImputer
from .outlier import AutoencoderOutlierDetector

__all__ = ["AutoencoderEmbedder", "AutoencoderOutlierDetector", "MaskedAutoencoderImputer"]
