"""Reconstruction losses: what "the same" means.

The decoder emits ``params_per_feature`` numbers per input entry, which the model hands over
shaped ``(B, params, *sample shape)`` (so a per-channel or per-patch loss needs no reshaping
guesswork: ``out[:, 0]`` is shaped like the sample); a reconstruction part turns them into a
per-sample loss, a point reconstruction (``mean``, shaped like the sample) and samples.
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
from .base import RECONSTRUCTIONS, NoOptions, Part

LOG_2PI = math.log(2 * math.pi)


def _reduce(per_entry: torch.Tensor, where: torch.Tensor | None, mean: bool) -> torch.Tensor:
    per_entry = per_entry.flatten(1)
    if where is not None:
        w = where.flatten(1).to(per_entry.dtype)
        total = (per_entry * w).sum(1)
        return total / w.sum(1).clamp_min(1.0) if mean else total
    return per_entry.mean(1) if mean else per_entry.sum(1)


class Reconstruction(Part):
    """Base class: ``out`` is (B, params_per_feature, *sample shape), ``x`` and ``where``
    are shaped like the sample batch."""

    #: how many decoder outputs per input feature
    params_per_feature = 1
    #: True when per_sample is a negative log-likelihood in nats
    is_likelihood = False

    def __init__(self, n_features: int | None) -> None:
        super().__init__()
        self.n_features = n_features

    def per_sample(
        self, out: torch.Tensor, x: torch.Tensor, where: torch.Tensor | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """The point reconstruction, shaped like the sample batch."""
        return out[:, 0]

    def predictive(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log σ) of the predictive distribution, each shaped like the sample batch;
        log σ = 0 for losses without a variance (MSE), so a variance-weighted error reduces
        to the squared error."""
        mean = self.mean(out)
        return mean, torch.zeros_like(mean)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        return self.mean(out)


@RECONSTRUCTIONS.register("mse")
class MSE(Reconstruction):
    """Mean squared error per entry (optionally over the entries in ``where`` only)."""

    Config = NoOptions

    def __init__(self, cfg: NoOptions, n_features: int | None) -> None:
        super().__init__(n_features)

    def per_sample(self, out, x, where=None):
        return _reduce((out[:, 0] - x).pow(2), where, mean=True)


@RECONSTRUCTIONS.register("bernoulli")
class Bernoulli(Reconstruction):
    """Bernoulli likelihood on data in [0, 1]; the decoder emits logits.

    The loss is the binary cross-entropy summed over features (nats per sample). On
    grey-level data in [0, 1] this is the "continuous targets" use of the Bernoulli that the
    VAE literature reports NLL figures with.
    """

    Config = NoOptions
    is_likelihood = True

    def __init__(self, cfg: NoOptions, n_features: int | None) -> None:
        super().__init__(n_features)

    def per_sample(self, out, x, where=None):
        nll = F.binary_cross_entropy_with_logits(out[:, 0], x, reduction="none")
        return _reduce(nll, where, mean=False)

    def mean(self, out):
        return torch.sigmoid(out[:, 0])

    def sample(self, out):
        return torch.bernoulli(self.mean(out))


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

    def __init__(self, cfg: GaussianConfig, n_features: int | None) -> None:
        super().__init__(n_features)
        self.cfg = cfg
        self.params_per_feature = 2 if cfg.variance == "decoder" else 1
        if cfg.variance == "learned":
            require(
                n_features is not None,
                "reconstruction 'gaussian': variance 'learned' keeps one variance per input "
                "entry, so it needs a fixed input_shape; use variance 'decoder' or 'fixed' "
                "for inputs whose size varies",
            )
            self.log_sigma = nn.Parameter(torch.full((n_features,), math.log(cfg.sigma)))

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log σ) from the decoder output, each broadcastable to the sample batch."""
        floor = math.log(self.cfg.min_sigma)
        mean = out[:, 0]
        if self.cfg.variance == "decoder":
            log_sigma = floor + F.softplus(out[:, 1] - floor)
        elif self.cfg.variance == "learned":
            log_sigma = (floor + F.softplus(self.log_sigma - floor)).view(1, *mean.shape[1:])
        else:
            log_sigma = torch.full_like(mean[:1], math.log(self.cfg.sigma))
        return mean, log_sigma

    def per_sample(self, out, x, where=None):
        mean, log_sigma = self.split(out)
        nll = 0.5 * ((x - mean) * torch.exp(-log_sigma)).pow(2) + log_sigma + 0.5 * LOG_2PI
        return _reduce(nll, where, mean=False)

    def mean(self, out):
        return self.split(out)[0]

    def predictive(self, out):
        mean, log_sigma = self.split(out)
        return mean, log_sigma.expand_as(mean)

    def sample(self, out):
        mean, log_sigma = self.split(out)
        return mean + torch.exp(log_sigma) * torch.randn_like(mean)
