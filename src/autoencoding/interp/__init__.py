"""Interpretability: activations from transformer models, activation stores, SAE training and
analysis. The transformer parts need the ``interp`` extra (Hugging Face ``transformers``)."""

from .cache import cache_activations
from .corpus import builtin_corpus, read_texts
from .external import load_external
from .features import write_feature_browser
from .metrics import feature_overlap, matched_cosine, mmcs
from .models import hook_points, load_model, run_with_hooks
from .multi import SAEGroup, ZippedBatches
from .splice import patch, spliced_metrics, steer
from .store import ActivationStore, StoreBatches, StoreWriter, store_from_array
from .toy import ToySuperposition
from .train import evaluate_sae, train_sae

__all__ = [
    "ActivationStore",
    "SAEGroup",
    "StoreBatches",
    "StoreWriter",
    "ToySuperposition",
    "ZippedBatches",
    "builtin_corpus",
    "evaluate_sae",
    "feature_overlap",
    "cache_activations",
    "hook_points",
    "load_external",
    "load_model",
    "matched_cosine",
    "mmcs",
    "read_texts",
    "patch",
    "run_with_hooks",
    "spliced_metrics",
    "steer",
    "store_from_array",
    "train_sae",
    "write_feature_browser",
]
