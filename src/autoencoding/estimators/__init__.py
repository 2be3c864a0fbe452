"""scikit-learn estimators for tables: outlier detection, masked-autoencoder imputation and
embeddings. Each works in ``Pipeline``, ``GridSearchCV`` and ``clone``, takes any recipe by
name, and seeds everything from ``random_state``.

    from autoencoding.estimators import (
        AutoencoderEmbedder, AutoencoderOutlierDetector, MaskedAutoencoderImputer)
"""

from .._lazy import lazy_names

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "AutoencoderEmbedder": ".embedder",
        "MaskedAutoencoderImputer": ".imputer",
        "AutoencoderOutlierDetector": ".outlier",
        "TimeSeriesImputer": ".series_imputer",
        "SeriesAnomalyDetector": ".series_anomaly",
    },
)

__all__ = [
    "AutoencoderEmbedder",
    "AutoencoderOutlierDetector",
    "MaskedAutoencoderImputer",
    "SeriesAnomalyDetector",
    "TimeSeriesImputer",
]
