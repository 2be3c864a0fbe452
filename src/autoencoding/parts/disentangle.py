"""Gaussian bottlenecks that penalise the aggregate posterior for disentanglement:
β-TC-VAE (``gaussian-tc``) and DIP-VAE (``gaussian-dip``).

Both keep the VAE's diagonal Gaussian posterior, reparameterisation, N(0, I) prior, KL
warm-up, importance weights and prior sampling (they subclass
:class:`~autoencoding.parts.bottlenecks.GaussianBottleneck`); they differ only in the
loss terms, which read the whole batch of posteriors at once. The functions
:func:`total_correlation` and :func:`dip_penalty` hold the estimators so tests and
evaluators can call them on any posterior parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from ..config import require
from .base import BOTTLENECKS, BottleneckOutput
from .bottlenecks import LOG_2PI, GaussianBottleneck


def log_density_matrix(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log q(z_i,d | x_j) for every pair of rows i, j and dimension d: (B, B, D)."""
    diff = z.unsqueeze(1) - mean.unsqueeze(0)
    return -0.5 * (LOG_2PI + logvar.unsqueeze(0) + diff.pow(2) * torch.exp(-logvar).unsqueeze(0))


def elbo_decomposition(
    z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Chen et al.'s split of the batch's KL(q(z|x) ‖ p(z)) into index-code mutual
    information, total correlation and dimension-wise KL, by minibatch-weighted sampling.

    The aggregate posterior q(z) = mean over the data of q(z|x) is estimated at each row's
    sample z_i from the batch itself::

        log q(z_i)    ≈ logsumexp_j  Σ_d log q(z_i,d | x_j)  − log B
        log q(z_i,d)  ≈ logsumexp_j  log q(z_i,d | x_j)      − log B
        MI      = E[log q(z_i|x_i) − log q(z_i)]
        TC      = E[log q(z_i) − Σ_d log q(z_i,d)]
        dim-KL  = E[Σ_d log q(z_i,d) − log p(z_i)]

    The paper normalises by log(N·B) for a data set of N rows; with uniform weights N only
    adds the constant (D − 1)·log(N/B) to TC (and moves it between MI and dim-KL), so the
    gradients are the same and we report the batch-as-population value, which is ≈ 0 for
    independent codes whatever the data set's size. The three terms sum to the single-sample
    KL estimate. Returns scalars ``mi``, ``tc``, ``dim_kl`` (means over the batch).
    """
    b = z.shape[0]
    mat = log_density_matrix(z, mean, logvar)  # (B, B, D)
    log_b = math.log(b)
    log_qz = torch.logsumexp(mat.sum(-1), dim=1) - log_b
    log_prod_qzd = (torch.logsumexp(mat, dim=1) - log_b).sum(-1)
    log_qz_x = mat.diagonal(dim1=0, dim2=1).sum(0)  # row i's own posterior at z_i
    log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
    return {
        "mi": (log_qz_x - log_qz).mean(),
        "tc": (log_qz - log_prod_qzd).mean(),
        "dim_kl": (log_prod_qzd - log_pz).mean(),
    }


def total_correlation(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The minibatch-weighted estimate of TC(z) = KL(q(z) ‖ Π_d q(z_d)) at samples ``z``
    drawn from the posteriors N(mean, exp(logvar)) of a batch (see :func:`elbo_decomposition`)."""
    return elbo_decomposition(z, mean, logvar)["tc"]


def aggregate_covariance(
    mean: torch.Tensor, logvar: torch.Tensor, kind: Literal["i", "ii"]
) -> torch.Tensor:
    """Covariance of the aggregate posterior over the batch, (D, D).

    DIP-VAE-I uses Cov[μ(x)] (the encoder means only); DIP-VAE-II the full
    Cov_q(z) = E[Σ(x)] + Cov[μ(x)] of the mixture of the batch's Gaussians.
    """
    centred = mean - mean.mean(0, keepdim=True)
    cov = centred.T @ centred / mean.shape[0]
    if kind == "ii":
        cov = cov + torch.diag(logvar.exp().mean(0))
    return cov


def dip_penalty(cov: torch.Tensor, lambda_od: float, lambda_d: float) -> torch.Tensor:
    """λ_od Σ_{i≠j} Cov_ij² + λ_d Σ_i (Cov_ii − 1)²: zero exactly at the identity."""
    diag = torch.diagonal(cov)
    off = cov - torch.diag(diag)
    return lambda_od * off.pow(2).sum() + lambda_d * (diag - 1.0).pow(2).sum()


def _ramp(warmup: int, step: int | None) -> float:
    """A linear warm-up factor in [0, 1] (1 outside training or without warm-up)."""
    if step is None or warmup == 0:
        return 1.0
    return min(1.0, (step + 1) / warmup)


@dataclass
class TCConfig:
    alpha: float = 1.0
    """Weight of the index-code mutual information I(x; z) (1 = as in the ELBO)."""
    beta: float = 6.0
    """Weight of the total correlation of the aggregate posterior (1 = the VAE; Chen et al.
    sweep 1-10, larger means more factorised codes)."""
    gamma: float = 1.0
    """Weight of the dimension-wise KL Σ_d KL(q(z_d) ‖ p(z_d)) (1 = as in the ELBO)."""
    warmup_steps: int = 0
    """Steps over which all three weights ramp linearly from 0 to their values (0 = no
    warm-up); capped at half the run."""

    def validate(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            v = getattr(self, name)
            require(v >= 0, f"bottleneck 'gaussian-tc': {name} must be >= 0, got {v}")
        require(self.warmup_steps >= 0, "bottleneck 'gaussian-tc': warmup_steps must be >= 0")


@BOTTLENECKS.register("gaussian-tc")
class TCGaussianBottleneck(GaussianBottleneck):
    """β-TC-VAE: the VAE's KL split into three terms, the total correlation weighted apart.

    Chen, Li, Grosse & Duvenaud, "Isolating Sources of Disentanglement in Variational
    Autoencoders" (NeurIPS 2018)::

        KL(q(z|x) ‖ p(z)) averaged over x = I(x; z) + TC(q(z)) + Σ_d KL(q(z_d) ‖ p(z_d))
        loss += α·I(x; z) + β·TC + γ·dim-KL      (α = γ = 1, β = 6 by default)

    Why: β-VAE's single β also squeezes I(x; z), which costs reconstruction; only the total
    correlation (dependence between latent dimensions) matters for factorised codes, so it
    alone gets the large weight. The terms need q(z), which no single row gives; it is
    estimated from the batch by minibatch-weighted sampling (:func:`elbo_decomposition`).
    To lower variance the loss uses the closed-form KL for α times the whole KL and adds the
    sampled estimates only for the differences::

        α·MI + β·TC + γ·dimKL = α·KL + (β − α)·TC + (γ − α)·dimKL

    Logged: ``kl`` (closed form), ``tc``, ``mi``, ``dim_kl`` (estimates on the batch).
    """

    Config = TCConfig

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        cfg = self.cfg
        mean, logvar = self.posterior(h)
        eps = torch.randn_like(mean)
        z_sample = mean + torch.exp(0.5 * logvar) * eps
        kl = (0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)).sum(-1).mean()
        parts = elbo_decomposition(z_sample, mean, logvar)
        w = self.kl_weight(step if self.training else None)
        loss = (
            cfg.alpha * kl
            + (cfg.beta - cfg.alpha) * parts["tc"]
            + (cfg.gamma - cfg.alpha) * parts["dim_kl"]
        )
        return BottleneckOutput(
            z=z_sample if self.training else mean,
            losses={"kl_tc": w * loss},
            stats={"kl": kl.detach(), "weight": torch.tensor(w)}
            | {k: v.detach() for k, v in parts.items()},
            params={"mean": mean, "logvar": logvar},
        )

    def kl_weight(self, step: int | None) -> float:
        """The warm-up factor in [0, 1] applied to every weight."""
        return _ramp(self.warmup, step)


@dataclass
class DIPConfig:
    type: Literal["i", "ii"] = "i"
    """Which covariance is pushed to the identity: "i" = Cov[μ(x)] of the encoder means,
    "ii" = the aggregate posterior's Cov_q(z) = E[Σ(x)] + Cov[μ(x)]."""
    lambda_od: float = 10.0
    """λ_od: weight of the squared off-diagonal covariances (decorrelation)."""
    lambda_d: float | None = None
    """λ_d: weight of the squared deviations of the variances from 1; None = the paper's
    ratio, 10·λ_od for type "i" and λ_od for type "ii"."""
    beta: float = 1.0
    """Weight of the usual KL term (1 = the VAE ELBO, as in the paper)."""
    warmup_steps: int = 0
    """Steps over which the KL weight and the penalty ramp linearly from 0 (0 = no warm-up);
    capped at half the run."""

    def validate(self) -> None:
        require(self.lambda_od >= 0, "bottleneck 'gaussian-dip': lambda_od must be >= 0")
        require(
            self.lambda_d is None or self.lambda_d >= 0,
            "bottleneck 'gaussian-dip': lambda_d must be >= 0 (or null for the paper's ratio)",
        )
        require(self.beta >= 0, f"bottleneck 'gaussian-dip': beta must be >= 0, got {self.beta}")
        require(self.warmup_steps >= 0, "bottleneck 'gaussian-dip': warmup_steps must be >= 0")

    @property
    def diagonal_weight(self) -> float:
        if self.lambda_d is not None:
            return self.lambda_d
        return 10.0 * self.lambda_od if self.type == "i" else self.lambda_od


@BOTTLENECKS.register("gaussian-dip")
class DIPGaussianBottleneck(GaussianBottleneck):
    """DIP-VAE: the VAE plus a penalty pushing the aggregate posterior's covariance to I.

    Kumar, Sattigeri & Balakrishnan, "Variational Inference of Disentangled Latent Concepts
    from Unlabeled Observations" (ICLR 2018)::

        h ─ mean, logvar ─ z ─▶ decoder                 loss += KL(q(z|x) ‖ N(0, I))
                 └── Cov over the batch (I: Cov[μ]; II: E[Σ] + Cov[μ])
                      loss += λ_od Σ_{i≠j} Cov_ij² + λ_d Σ_i (Cov_ii − 1)²

    Why: disentangled (independent) factors mean a factorised aggregate posterior; matching
    its first two moments to the prior's is a cheap, sample-free surrogate for
    KL(q(z) ‖ p(z)) that, unlike a larger β, does not shrink the information each code
    carries about its input. Defaults are the paper's: λ_od = 10, λ_d = 10·λ_od for
    DIP-VAE-I and λ_d = λ_od for DIP-VAE-II. With more latents than factors prefer type
    "ii": type "i" asks every latent's *mean* for unit variance, so spare latents must copy
    some factor (benchmarks/claims/claim_disentangle.py: MIG 0.08 for i, 0.36 for ii, 0.30
    for the VAE, 8 latents for 4 factors). Logged: ``kl``, ``dip`` (the penalty, unweighted
    by the warm-up), ``offdiag`` (mean |Cov_ij|, i ≠ j).
    """

    Config = DIPConfig

    def kl_weight(self, step: int | None) -> float:
        """The warm-up factor in [0, 1] applied to the KL and the penalty."""
        return _ramp(self.warmup, step)

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        cfg = self.cfg
        mean, logvar = self.posterior(h)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean) if self.training else mean
        kl = (0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)).sum(-1).mean()
        cov = aggregate_covariance(mean, logvar, cfg.type)
        penalty = dip_penalty(cov, cfg.lambda_od, cfg.diagonal_weight)
        w = self.kl_weight(step if self.training else None)
        d = cov.shape[0]
        off = (cov - torch.diag(torch.diagonal(cov))).abs().sum() / max(1, d * (d - 1))
        return BottleneckOutput(
            z=z,
            losses={"kl": w * cfg.beta * kl, "dip": w * penalty},
            stats={"kl": kl.detach(), "dip": penalty.detach(), "offdiag": off.detach()},
            params={"mean": mean, "logvar": logvar},
        )
