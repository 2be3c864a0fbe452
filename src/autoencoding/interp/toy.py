"""Toy superposition data with known ground-truth features (protocol SAE's toy).

Sharkey et al., "Taking features out of superposition with sparse autoencoders" (2022);
Elhage et al., "Toy Models of Superposition" (2022): ``n_features`` unit directions in
``d < n_features`` dimensions, each active independently with probability ``p`` and a
magnitude drawn from U(0, 1); a sample is the sum of its active features::

    x = Σ_i a_i f_i,   a_i = m_i · Bernoulli(p),  m_i ~ U(0, 1),  ‖f_i‖ = 1

An SAE that recovers the features has decoder directions matching the f_i (see
:func:`autoencoding.interp.metrics.mmcs`).
"""

from __future__ import annotations

import torch

from ..errors import AutoencodingError


class ToySuperposition:
    """Ground-truth features (from ``seed``) and a sampler of superposed data."""

    def __init__(self, d: int = 64, n_features: int = 512, p: float = 0.02, seed: int = 0):
        if d < 1 or n_features < 1:
            raise AutoencodingError(f"toy: d and n_features must be >= 1, got {d}, {n_features}")
        if not 0 < p <= 1:
            raise AutoencodingError(f"toy: p must be in (0, 1], got {p}")
        self.d, self.n_features, self.p, self.seed = d, n_features, p, seed
        g = torch.Generator().manual_seed(seed)
        f = torch.randn(n_features, d, generator=g)
        self.features = f / f.norm(dim=1, keepdim=True)

    def sample(
        self, n: int, seed: int = 1, chunk: int = 65536
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x (n, d), coefficients (n, n_features)) from a generator seeded with ``seed``."""
        g = torch.Generator().manual_seed(seed)
        xs, coefs = [], []
        for c in range(0, n, chunk):
            m = min(chunk, n - c)
            active = torch.rand(m, self.n_features, generator=g) < self.p
            a = torch.rand(m, self.n_features, generator=g) * active
            xs.append(a @ self.features)
            coefs.append(a.to_sparse())
        return torch.cat(xs), torch.cat(coefs).to_dense()

    def data(self, n: int, seed: int = 1) -> torch.Tensor:
        return self.sample(n, seed)[0]
