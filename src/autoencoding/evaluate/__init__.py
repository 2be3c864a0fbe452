"""Evaluation metrics."""

from .metrics import (
    active_units_from_latents,
    evaluate_model,
    importance_nll,
    linear_probe,
    negative_elbo,
    reconstruction_metrics,
)

__all__ = [
    "active_units_from_latents",
    "evaluate_model",
    "importance_nll",
    "linear_probe",
    "negative_elbo",
    "reconstruction_metrics",
]
