"""Continuous bottlenecks: identity, Gaussian (VAE family) and low-rank (LoRAE).

Discrete and sparse bottlenecks live in their own files and return the same
:class:`~autoencoding.parts.base.BottleneckOutput`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..config import require
from .base import BOTTLENECKS, Bottleneck, BottleneckOutput, NoOptions

LOG_2PI = math.log(2 * math.pi)


@BOTTLENECKS.register("identity")
class IdentityBottleneck(Bottleneck):
    """z = h: the plain deterministic autoencoder's code."""

    Config = NoOptions

    def __init__(self, cfg: NoOptions, latent_dim: int) -> None:
        super().__init__(latent_dim)

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        return BottleneckOutput(z=h)


@dataclass
class GaussianConfig:
    beta: float = 1.0
    """Weight of the KL term (1 = the VAE ELBO; >1 = β-VAE)."""
    warmup_steps: int = 0
    """Steps over which the KL weight ramps linearly from 0 to beta (0 = no warm-up); capped
    at half the run, so a short run still ends at the full weight."""
    free_bits: float = 0.0
    """Nats per latent dimension below which the KL is not penalised (0 = off)."""

    def validate(self) -> None:
        require(self.beta >= 0, f"bottleneck 'gaussian': beta must be >= 0, got {self.beta}")
        require(self.warmup_steps >= 0, "bottleneck 'gaussian': warmup_steps must be >= 0")
        require(self.free_bits >= 0, "bottleneck 'gaussian': free_bits must be >= 0")


@BOTTLENECKS.register("gaussian")
class GaussianBottleneck(Bottleneck):
    """Diagonal Gaussian posterior with the reparameterization trick and a N(0, I) prior.

    Kingma & Welling, "Auto-Encoding Variational Bayes" (2014); β weighting from Higgins et
    al., "β-VAE" (2017); free bits from Kingma et al., "Improved Variational Inference with
    Inverse Autoregressive Flow" (2016)::

        h ─┬─ mean ──────┐
           └─ logvar ─ σ ┴─ z = mean + σ·ε,  ε ~ N(0, I)      loss += w·KL(q(z|x) ‖ N(0, I))

    The KL weight ``w`` ramps from 0 to ``beta`` over ``warmup_steps`` (KL annealing keeps
    the decoder from ignoring z early on). Free bits clamp the batch-mean KL of each
    dimension from below, so the optimiser gains nothing by pushing a dimension all the way
    to the prior. In eval mode ``z`` is the posterior mean.
    """

    Config = GaussianConfig
    generative = True
    has_posterior = True

    def __init__(self, cfg: GaussianConfig, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.cfg = cfg
        self.warmup = cfg.warmup_steps

    def on_train_start(self, total_steps: int) -> None:
        """Called by the trainer: cap the KL warm-up at half the run."""
        self.warmup = min(self.cfg.warmup_steps, total_steps // 2)

    def encoder_features(self) -> int:
        return 2 * self.latent_dim

    def posterior(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = h.chunk(2, dim=-1)
        # A soft clamp keeps exp(logvar) finite early in training without killing gradients.
        logvar = 10.0 * torch.tanh(logvar / 10.0)
        return mean, logvar

    def kl_weight(self, step: int | None) -> float:
        if step is None or self.warmup == 0:
            return self.cfg.beta
        return self.cfg.beta * min(1.0, (step + 1) / self.warmup)

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        mean, logvar = self.posterior(h)
        if self.training:
            z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        else:
            z = mean
        kl_dim = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)  # (B, d)
        kl = kl_dim.sum(-1).mean()
        if self.cfg.free_bits > 0:
            penalised = torch.clamp(kl_dim.mean(0), min=self.cfg.free_bits).sum()
        else:
            penalised = kl
        w = self.kl_weight(step if self.training else None)
        return BottleneckOutput(
            z=z,
            losses={"kl": w * penalised},
            stats={"kl": kl.detach(), "kl_weight": torch.tensor(w)},
            params={"mean": mean, "logvar": logvar},
        )

    def log_importance(self, h: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """k posterior samples per row and their log p(z) - log q(z|x), shapes (k,B,d), (k,B)."""
        mean, logvar = self.posterior(h)
        std = torch.exp(0.5 * logvar)
        eps = torch.randn((k, *mean.shape), dtype=mean.dtype, device=mean.device)
        z = mean + std * eps
        log_q = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)
        log_p = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
        return z, log_p - log_q

    def sample_prior(
        self, n: int, *, generator: torch.Generator | None = None, device=None, dtype=None
    ) -> torch.Tensor:
        return torch.randn((n, self.latent_dim), generator=generator, device=device, dtype=dtype)


@dataclass
class LowRankConfig:
    weight: float = 1e-3
    """λ: weight of the nuclear norm of the latent linear map."""

    def validate(self) -> None:
        require(self.weight >= 0, f"bottleneck 'lowrank': weight must be >= 0, got {self.weight}")


@BOTTLENECKS.register("lowrank")
class LowRankBottleneck(Bottleneck):
    """LoRAE: a linear map between encoder and decoder with a nuclear-norm penalty.

    Mazumder et al., "Learning Low-Rank Latent Spaces with Simple Deterministic Autoencoder:
    Theoretical and Empirical Insights" (WACV 2024)::

        h ── M (d×d, no bias) ── z          loss += λ‖M‖_*

    Why: the nuclear norm is the convex surrogate of rank; penalising it drives the latents
    onto a low-dimensional subspace, which the paper shows improves sampling and
    interpolation of deterministic autoencoders without a variational objective.
    """

    Config = LowRankConfig

    def __init__(self, cfg: LowRankConfig, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.cfg = cfg
        self.linear = nn.Linear(latent_dim, latent_dim, bias=False)
        nn.init.eye_(self.linear.weight)

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        z = self.linear(h)
        nuclear = torch.linalg.svdvals(self.linear.weight).sum()
        return BottleneckOutput(
            z=z,
            losses={"nuclear": self.cfg.weight * nuclear},
            stats={"nuclear_norm": nuclear.detach()},
        )
