"""Regularizers: extra loss terms computed from the model and the batch."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import require
from .base import REGULARIZERS, Encoder, Regularizer


@dataclass
class ContractiveConfig:
    weight: float = 1e-4
    """λ: weight of the squared Frobenius norm of the encoder Jacobian (mean over the batch)."""

    def validate(self) -> None:
        require(
            self.weight >= 0, f"regularizer 'contractive': weight must be >= 0, got {self.weight}"
        )


@REGULARIZERS.register("contractive")
class Contractive(Regularizer):
    """Contractive penalty λ‖∂h/∂x‖²_F on the full encoder Jacobian.

    Rifai et al., "Contractive Auto-Encoders: Explicit Invariance During Feature Extraction"
    (ICML 2011), extended to deep encoders by chaining the layer Jacobians as in
    "Autoencoder-based General Purpose Representation Learning for Customer Embedding"
    (2024). Why: penalising the Jacobian makes the code locally invariant to small input
    perturbations except along the directions the reconstruction needs.
    """

    Config = ContractiveConfig

    def __init__(self, cfg: ContractiveConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, encoder: Encoder, x: torch.Tensor) -> dict[str, torch.Tensor]:
        sq = encoder.jacobian_frobenius_sq(x)
        return {"contractive": self.cfg.weight * sq.mean()}
