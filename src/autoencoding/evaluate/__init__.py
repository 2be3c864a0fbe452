"""Evaluation metrics."""

from .metrics import (
    active_units_from_latents,
    evaluate_model,
    importance_nll,
    linear_probe,
    negative_elbo,
    reconstruction_metrics,
)
from .probes import knn_probe, labels_per_class, probe_report
from .samples import FeatureSpace, frechet_distance, precision_recall, sample_quality

__all__ = [
    "FeatureSpace",
    "active_units_from_latents",
    "evaluate_model",
    "frechet_distance",
    "importance_nll",
    "knn_probe",
    "labels_per_class",
    "linear_probe",
    "negative_elbo",
    "precision_recall",
    "probe_report",
    "reconstruction_metrics",
    "sample_quality",
]
