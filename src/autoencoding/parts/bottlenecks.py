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
from .base import BOTTLENECKS, BottleneckOutput, NoOptions

LOG_2PI = math.log(2 * math.pi)


class Bottleneck(nn.Module):
    """Base class: maps the encoder output ``h`` to the latent ``z`` plus a record."""

    #: True when ``sample_prior`` can draw latents for generation.
    generative = False

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    def encoder_features(self) -> int:
        """How many features the encoder must output."""
        return self.latent_dim

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        raise NotImplementedError

    def sample_prior(
        self, n: int, *, generator: torch.Generator | None = None, device=None, dtype=None
    ) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no prior to sample from")


@BOTTLENECKS.register("identity")
class IdentityBottleneck(Bottleneck):
    """z = h: the plain deterministic autoencoder's code."""

    Config = NoOptions

    def __init__(self, cfg: NoOptions, latent_dim: int) -> None:
        super().__init__(latent_dim)

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        return BottleneckOutput(z=h)

    # the trainer's manual-gradient path (autoencoding.train.manual)
    manual_gradients = True

    def manual_forward(self, h: torch.Tensor, step: int | None):
        return h, {}, {}, None

    def manual_backward(self, cache, grad_z: torch.Tensor) -> torch.Tensor:
        return grad_z


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

    # -- the trainer's manual-gradient path (autoencoding.train.manual) -------------------
    manual_gradients = True

    def manual_forward(self, h: torch.Tensor, step: int | None):
        """``forward`` in training mode without an autograd graph: the same posterior, the
        same noise draw and the same loss terms; returns (z, losses, stats, cache)."""
        n = h.shape[0]
        mean, logvar = self.posterior(h)
        t = logvar / 10.0  # the soft clamp's tanh, for its derivative in manual_backward
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(mean)
        z = torch.addcmul(mean, std, eps)
        var = std * std
        kl_dim = 0.5 * (mean.pow(2) + var - 1.0 - logvar)
        kl = kl_dim.sum() / n
        keep = None
        if self.cfg.free_bits > 0:
            per_dim = kl_dim.mean(0)
            keep = (per_dim >= self.cfg.free_bits).to(h.dtype)  # where the clamp passes grads
            penalised = torch.clamp(per_dim, min=self.cfg.free_bits).sum()
        else:
            penalised = kl
        w = self.kl_weight(step)
        stats = {"kl": kl, "kl_weight": torch.tensor(w)}
        return z, {"kl": w * penalised}, stats, (mean, t, std, eps, var, w, keep)

    def manual_backward(self, cache, grad_z: torch.Tensor) -> torch.Tensor:
        """d loss / d h for ``manual_forward``: the reparameterized sample's gradient plus
        the weighted KL's, through the soft clamp of the log-variance."""
        mean, t, std, eps, var, w, keep = cache
        n = mean.shape[0]
        d = self.latent_dim
        grad_h = torch.empty((n, 2 * d), dtype=mean.dtype, device=mean.device)
        c = w / n
        if keep is not None:
            c = keep * c  # per latent dimension: 0 where free bits hold the KL at the floor
            torch.addcmul(grad_z, mean, c, out=grad_h[:, :d])  # d/dmean: dz + c·mean
        else:
            torch.add(grad_z, mean, alpha=c, out=grad_h[:, :d])
        # d/dlogvar = ½·dz·eps·std + ½·c·(var − 1); logvar = 10·tanh(raw / 10), so
        # d logvar / d raw = 1 − tanh²
        glv = (grad_z * eps).mul_(std).add_((var - 1.0).mul_(c)).mul_(0.5)
        grad_h[:, d:] = torch.ops.aten.tanh_backward(glv, t)
        return grad_h

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
