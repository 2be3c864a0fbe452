"""Reconstruction losses: what "the same" means.

The decoder emits ``params_per_feature`` numbers per input feature; a reconstruction part
turns them into a per-sample loss, a point reconstruction (``mean``) and samples.
Likelihoods (``bernoulli``, ``gaussian``) give negative log-likelihoods in nats summed over
features, so that the VAE's ELBO is correctly balanced against its KL; ``mse`` gives the
mean squared error per entry, the usual deterministic-autoencoder loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from .base import RECONSTRUCTIONS, NoOptions

LOG_2PI = math.log(2 * math.pi)


def _reduce(per_entry: torch.Tensor, where: torch.Tensor | None, mean: bool) -> torch.Tensor:
    per_entry = per_entry.flatten(1)
    if where is not None:
        w = where.flatten(1).to(per_entry.dtype)
        total = (per_entry * w).sum(1)
        return total / w.sum(1).clamp_min(1.0) if mean else total
    return per_entry.mean(1) if mean else per_entry.sum(1)


def _entry_weights(
    where: torch.Tensor | None, like: torch.Tensor, mean: bool
) -> torch.Tensor | float:
    """d(batch mean of _reduce(per_entry, where, mean)) / d per_entry: the weight of each
    entry in the batch loss (a scalar when every entry counts the same)."""
    n = like.shape[0]
    if where is None:
        return 1.0 / (n * like[0].numel()) if mean else 1.0 / n
    w = where.flatten(1).to(like.dtype)
    if mean:
        return w / (n * w.sum(1, keepdim=True).clamp_min(1.0))
    return w / n


class Reconstruction(nn.Module):
    #: how many decoder outputs per input feature
    params_per_feature = 1
    #: True when per_sample is a negative log-likelihood in nats
    is_likelihood = False

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.n_features = n_features

    def per_sample(
        self, out: torch.Tensor, x: torch.Tensor, where: torch.Tensor | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return out

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        return self.mean(out)


@RECONSTRUCTIONS.register("mse")
class MSE(Reconstruction):
    """Mean squared error per entry (optionally over the entries in ``where`` only)."""

    Config = NoOptions

    def __init__(self, cfg: NoOptions, n_features: int) -> None:
        super().__init__(n_features)

    def per_sample(self, out, x, where=None):
        return _reduce((out - x).pow(2), where, mean=True)

    manual_gradients = True

    def manual_loss(self, out, x, where=None):
        """(batch-mean loss, its gradient with respect to ``out``) without autograd."""
        diff = out - x
        w = _entry_weights(where, diff, mean=True)
        return (diff.pow(2) * w).sum(), diff.mul_(w).mul_(2.0)


@RECONSTRUCTIONS.register("bernoulli")
class Bernoulli(Reconstruction):
    """Bernoulli likelihood on data in [0, 1]; the decoder emits logits.

    The loss is the binary cross-entropy summed over features (nats per sample). On
    grey-level data in [0, 1] this is the "continuous targets" use of the Bernoulli that the
    VAE literature reports NLL figures with.
    """

    Config = NoOptions
    is_likelihood = True

    def __init__(self, cfg: NoOptions, n_features: int) -> None:
        super().__init__(n_features)

    def per_sample(self, out, x, where=None):
        nll = F.binary_cross_entropy_with_logits(out, x, reduction="none")
        return _reduce(nll, where, mean=False)

    manual_gradients = True

    def manual_loss(self, out, x, where=None):
        """(batch-mean loss, its gradient with respect to the logits) without autograd."""
        w = _entry_weights(where, out, mean=False)
        # BCE with logits = softplus(out) − x·out, entry by entry
        per_entry = F.softplus(out).sub_(x * out)
        loss = per_entry.sum() * w if isinstance(w, float) else (per_entry * w).sum()
        return loss, torch.sigmoid(out).sub_(x).mul_(w)

    def mean(self, out):
        return torch.sigmoid(out)

    def sample(self, out):
        return torch.bernoulli(torch.sigmoid(out))


@dataclass
class GaussianConfig:
    variance: Literal["learned", "fixed", "decoder"] = "learned"
    """'learned': one learned variance per feature; 'fixed': sigma below; 'decoder': the
    decoder predicts a variance per entry."""
    sigma: float = 1.0
    """Standard deviation for 'fixed' (and the starting value for 'learned')."""
    min_sigma: float = 1e-3
    """Floor on the standard deviation, so the likelihood cannot diverge on a constant feature."""

    def validate(self) -> None:
        require(self.sigma > 0, f"reconstruction 'gaussian': sigma must be > 0, got {self.sigma}")
        require(self.min_sigma > 0, "reconstruction 'gaussian': min_sigma must be > 0")


@RECONSTRUCTIONS.register("gaussian")
class Gaussian(Reconstruction):
    """Gaussian likelihood with fixed, per-feature learned or decoder-predicted variance.

    With a fixed σ the loss is a scaled MSE; learning σ lets the model weigh reconstruction
    against the KL by itself, which is why it is the default for standardized data (a fixed
    σ = 1 on standardized data makes the KL win and the posterior collapse).
    """

    Config = GaussianConfig
    is_likelihood = True

    def __init__(self, cfg: GaussianConfig, n_features: int) -> None:
        super().__init__(n_features)
        self.cfg = cfg
        self.params_per_feature = 2 if cfg.variance == "decoder" else 1
        if cfg.variance == "learned":
            self.log_sigma = nn.Parameter(torch.full((n_features,), math.log(cfg.sigma)))

    def _split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        floor = math.log(self.cfg.min_sigma)
        if self.cfg.variance == "decoder":
            mean, raw = out.chunk(2, dim=1)
            log_sigma = floor + F.softplus(raw - floor)
        elif self.cfg.variance == "learned":
            mean = out
            log_sigma = (floor + F.softplus(self.log_sigma - floor)).view(1, *out.shape[1:])
        else:
            mean = out
            log_sigma = torch.full_like(out[:1], math.log(self.cfg.sigma))
        return mean, log_sigma

    def per_sample(self, out, x, where=None):
        mean, log_sigma = self._split(out)
        nll = 0.5 * ((x - mean) * torch.exp(-log_sigma)).pow(2) + log_sigma + 0.5 * LOG_2PI
        return _reduce(nll, where, mean=False)

    @property
    def manual_gradients(self) -> bool:
        return self.cfg.variance in ("fixed", "learned")

    def manual_loss(self, out, x, where=None):
        """(batch-mean loss, its gradient with respect to the decoder's means) without
        autograd; a learned variance gets its gradient written into ``log_sigma.grad``."""
        floor = math.log(self.cfg.min_sigma)
        if self.cfg.variance == "learned":
            raw = self.log_sigma.detach()
            log_sigma = (floor + F.softplus(raw - floor)).view(1, *out.shape[1:])
        else:
            log_sigma = torch.full_like(out[:1], math.log(self.cfg.sigma))
        inv_var = torch.exp(-2.0 * log_sigma)
        diff = out - x
        sq = diff.pow(2).mul_(inv_var)  # ((x − mean) / σ)²
        w = _entry_weights(where, out, mean=False)
        nll = (0.5 * sq + log_sigma + 0.5 * LOG_2PI) * w
        if self.cfg.variance == "learned":
            # d nll / d log σ = 1 − ((x − mean) / σ)²; softplus' derivative is the sigmoid
            g_ls = ((1.0 - sq) * w).sum(0)
            torch.mul(g_ls, torch.sigmoid(raw - floor), out=self.log_sigma.grad)
        return nll.sum(), diff.mul_(inv_var).mul_(w)

    def mean(self, out):
        return self._split(out)[0]

    def sample(self, out):
        mean, log_sigma = self._split(out)
        return mean + torch.exp(log_sigma) * torch.randn_like(mean)
