"""Feature-recovery metrics: how well learned directions match reference directions."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import AutoencodingError


def _cosines(true: torch.Tensor, learned: torch.Tensor) -> torch.Tensor:
    true = torch.as_tensor(true, dtype=torch.float64)
    learned = torch.as_tensor(learned, dtype=torch.float64)
    if true.dim() != 2 or learned.dim() != 2 or true.shape[1] != learned.shape[1]:
        raise AutoencodingError(
            f"expected directions shaped (n, d) and (m, d), got {tuple(true.shape)} and "
            f"{tuple(learned.shape)}"
        )
    t = true / true.norm(dim=1, keepdim=True).clamp_min(1e-12)
    w = learned / learned.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return t @ w.T


def mmcs(true: torch.Tensor, learned: torch.Tensor) -> float:
    """Mean max cosine similarity: for each reference direction, the best cosine with any
    learned direction, averaged (Sharkey et al., 2022). 1 = every feature recovered."""
    return float(_cosines(true, learned).max(dim=1).values.mean())


def matched_cosine(true: torch.Tensor, learned: torch.Tensor) -> float:
    """Mean cosine of the best one-to-one matching of reference to learned directions
    (Hungarian algorithm): unlike MMCS, one learned direction cannot explain two features."""
    from scipy.optimize import linear_sum_assignment

    c = _cosines(true, learned).numpy()
    rows, cols = linear_sum_assignment(-c)
    return float(np.mean(c[rows, cols])) if len(rows) else 0.0


def feature_overlap(a: torch.Tensor, b: torch.Tensor, threshold: float = 0.7) -> float:
    """Fraction of the directions of ``a`` with a direction of ``b`` at cosine >= threshold
    ("Sparse Autoencoders Trained on the Same Data Learn Different Features", Paulo &
    Belrose 2025): cross-seed overlap of two SAEs' decoders."""
    return float((_cosines(a, b).max(dim=1).values >= threshold).double().mean())
