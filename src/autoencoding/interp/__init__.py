"""Interpretability: activations from transformer models, activation stores, SAE training and
analysis. The transformer parts need the ``interp`` extra (Hugging Face ``transformers``)."""

from .._lazy import lazy_names

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "cache_activations": ".cache",
        "builtin_corpus": ".corpus",
        "read_texts": ".corpus",
        "load_external": ".external",
        "write_feature_browser": ".features",
        "feature_overlap": ".metrics",
        "matched_cosine": ".metrics",
        "mmcs": ".metrics",
        "hook_points": ".models",
        "load_model": ".models",
        "run_with_hooks": ".models",
        "SAEGroup": ".multi",
        "ZippedBatches": ".multi",
        "patch": ".splice",
        "spliced_metrics": ".splice",
        "steer": ".splice",
        "ActivationStore": ".store",
        "StoreBatches": ".store",
        "StoreWriter": ".store",
        "store_from_array": ".store",
        "ToySuperposition": ".toy",
        "evaluate_sae": ".train",
        "train_sae": ".train",
    },
)

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
