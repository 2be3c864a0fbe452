"""Generative autoencoders beyond the plain VAE: WAE-MMD, RAE, IWAE and the VampPrior.

Each is a bottleneck (or a regularizer) that plugs into the one pipeline of ``model.py``;
the recipes ``wae``, ``rae``, ``iwae`` and ``vamp`` (``recipes/generative.py``) compose them
with their papers' defaults.

- ``wae-mmd`` (bottleneck): deterministic code, λ·MMD(q(z), N(0, I)) with a sum of inverse
  multiquadratic kernels (Tolstikhin et al. 2018); generates from N(0, I).
- ``rae`` (bottleneck) + ``decoder-l2`` (regularizer): deterministic code with β·½‖z‖² and
  λ·‖θ_dec‖² (Ghosh et al. 2020); generates through a latent sampler fitted after training.
- ``iwae`` (bottleneck): the Gaussian posterior trained on the k-sample importance-weighted
  bound (Burda et al. 2016).
- ``vamp`` (bottleneck): the Gaussian posterior with a VampPrior, a uniform mixture of the
  posteriors of K learned pseudo-inputs (Tomczak & Welling 2018).

IWAE and VampPrior keep the Gaussian posterior, so ``log_importance`` (the importance-sampled
NLL of ``evaluate.metrics``) works unchanged; VampPrior's version uses its mixture prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import require
from ..errors import AutoencodingError
from .base import (
    BOTTLENECKS,
    REGULARIZERS,
    Bottleneck,
    BottleneckOutput,
    Corrupted,
    Decoder,
    Encoder,
    Regularizer,
)
from .bottlenecks import LOG_2PI, GaussianBottleneck

#: multiples of the base IMQ scale C = 2·d·σ² summed in the MMD kernel (the WAE authors'
#: released code and most reimplementations use these seven)
IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def _sq_dists(a: torch.Tensor) -> torch.Tensor:
    """Pairwise squared distances of the rows of ``a`` (clamped: rounding makes some < 0)."""
    sq = a.pow(2).sum(1)
    return (sq[:, None] + sq[None, :] - 2.0 * a @ a.T).clamp_min(0.0)


def mmd_imq(
    x: torch.Tensor,
    y: torch.Tensor,
    scales: tuple[float, ...] | list[float] = IMQ_SCALES,
    prior_var: float = 1.0,
) -> torch.Tensor:
    """Unbiased MMD² between samples ``x`` (n, d) and ``y`` (m, d) with the kernel
    k(a, b) = Σ_s C_s / (C_s + ‖a − b‖²), C_s = s · 2·d·σ² (Tolstikhin et al. 2018, eq. 4
    and Algorithm 2). Why inverse multiquadratic: its heavy tails keep gradients alive for
    codes far from the prior, where an RBF kernel's vanish."""
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        return x.new_zeros(())
    d2 = _sq_dists(torch.cat([x, y]))
    base = 2.0 * x.shape[1] * prior_var
    k = sum(s * base / (s * base + d2) for s in scales)
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    # U-statistics: the diagonal k(a, a) is dropped from the within-sample means
    within_x = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    within_y = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return within_x + within_y - 2.0 * kxy.mean()


@dataclass
class WAEConfig:
    weight: float = 10.0
    """λ: weight of the MMD between the batch's codes and as many N(0, I) draws."""
    scales: list[float] = field(default_factory=lambda: list(IMQ_SCALES))
    """Multiples of the base IMQ scale C = 2·d (d the latent size, prior variance 1) whose
    kernels are summed."""

    def validate(self) -> None:
        require(self.weight >= 0, f"bottleneck 'wae-mmd': weight must be >= 0, got {self.weight}")
        require(
            len(self.scales) > 0 and all(s > 0 for s in self.scales),
            f"bottleneck 'wae-mmd': scales must be positive numbers, got {self.scales}",
        )


@BOTTLENECKS.register("wae-mmd")
class WAEMMDBottleneck(Bottleneck):
    """Wasserstein autoencoder, MMD penalty (WAE-MMD).

    Tolstikhin et al., "Wasserstein Auto-Encoders" (ICLR 2018)::

        h = z (deterministic) ─▶ decoder          loss += λ·MMD²_IMQ({z_i}, {z̃_i ~ N(0, I)})

    Why: a VAE pushes every posterior q(z|x) towards the prior, which blurs; a WAE only asks
    the *aggregate* of the codes to match the prior, so codes stay distinct and sharp while
    decoding N(0, I) draws still lands on the data. The prior draws come from the global
    torch RNG, as the reparameterization noise of the Gaussian bottleneck does.
    """

    Config = WAEConfig
    generative = True

    def __init__(self, cfg: WAEConfig, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.cfg = cfg

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        prior = torch.randn_like(h)
        mmd = mmd_imq(h, prior, self.cfg.scales)
        return BottleneckOutput(
            z=h, losses={"mmd": self.cfg.weight * mmd}, stats={"mmd": mmd.detach()}
        )

    def sample_prior(
        self, n: int, *, generator: torch.Generator | None = None, device=None, dtype=None
    ) -> torch.Tensor:
        return torch.randn((n, self.latent_dim), generator=generator, device=device, dtype=dtype)


@dataclass
class RAEConfig:
    weight: float = 1e-4
    """β: weight of ½‖z‖² (mean over the batch), the RAE's code-norm penalty."""

    def validate(self) -> None:
        require(self.weight >= 0, f"bottleneck 'rae': weight must be >= 0, got {self.weight}")


@BOTTLENECKS.register("rae")
class RAEBottleneck(Bottleneck):
    """Regularized (deterministic) autoencoder code.

    Ghosh et al., "From Variational to Deterministic Autoencoders" (ICLR 2020)::

        h = z ─▶ decoder          loss += β·½‖z‖²   (+ λ·‖θ_dec‖², regularizer 'decoder-l2')

    Why: the VAE's noise injection mainly keeps the decoder smooth and the codes bounded; an
    explicit code-norm penalty and a decoder penalty do that deterministically. The RAE has
    no prior to sample: it generates through a density fitted to the training codes after
    training (the ``gmm`` latent sampler, "ex-post density estimation").
    """

    Config = RAEConfig

    def __init__(self, cfg: RAEConfig, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.cfg = cfg

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        half_sq = 0.5 * h.pow(2).flatten(1).sum(1).mean()
        return BottleneckOutput(
            z=h,
            losses={"latent_l2": self.cfg.weight * half_sq},
            stats={"latent_half_sq_norm": half_sq.detach()},
        )


@dataclass
class DecoderL2Config:
    weight: float = 1e-7
    """λ: weight of the squared L2 norm of every decoder parameter."""

    def validate(self) -> None:
        require(
            self.weight >= 0, f"regularizer 'decoder-l2': weight must be >= 0, got {self.weight}"
        )


@REGULARIZERS.register("decoder-l2")
class DecoderL2(Regularizer):
    """λ·‖θ_dec‖², the RAE-L2 decoder penalty (Ghosh et al. 2020, eq. 11).

    Written as a loss term rather than the optimizer's weight decay so it shows in the
    training metrics and acts on the decoder only. It reaches the decoder through ``bind``.
    """

    Config = DecoderL2Config

    def __init__(self, cfg: DecoderL2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self._decoder: list[Decoder] = []

    def bind(self, model: nn.Module) -> None:
        # a list, not an attribute: the decoder's parameters stay registered once
        self._decoder = [model.decoder]  # type: ignore[list-item]

    def forward(self, encoder: Encoder, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self._decoder:
            raise AutoencodingError("regularizer 'decoder-l2' is not part of a model")
        sq = sum(p.pow(2).sum() for p in self._decoder[0].parameters())
        return {"decoder_l2": self.cfg.weight * sq}


@dataclass
class IWAEConfig:
    samples: int = 10
    """k: posterior samples per input in the importance-weighted bound (k = 1 is the VAE)."""
    warmup_steps: int = 0
    """Steps over which the weight of log p(z) − log q(z|x) inside each importance weight
    ramps from 0 to 1 (0 = none); capped at half the run."""

    #: the Gaussian bottleneck's KL weight; the IWAE bound has none
    beta = 1.0
    free_bits = 0.0

    def validate(self) -> None:
        require(self.samples >= 1, f"bottleneck 'iwae': samples must be >= 1, got {self.samples}")
        require(self.warmup_steps >= 0, "bottleneck 'iwae': warmup_steps must be >= 0")


@BOTTLENECKS.register("iwae")
class IWAEBottleneck(GaussianBottleneck):
    """Importance-weighted autoencoder: the VAE's Gaussian posterior, trained on the k-sample
    bound.

    Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders" (ICLR 2016)::

        z_1..k ~ q(z|x)      log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x)
        L_k = log (1/k) Σ_i w_i  ≥  ELBO = L_1,   L_k ↑ log p(x) as k grows

    Why: the bound is tighter, so the model is fitted to (nearly) the likelihood itself and
    the posterior is no longer forced to cover only where the ELBO's KL lets it. The
    training loss is −L_k per sample; it is logged as the usual ``reconstruction`` and
    ``kl`` of z_1 plus ``iw_gap`` = −L_k − (reconstruction + kl) (≤ 0 on average: what the
    k samples gain over the ELBO), so the terms still sum to the loss. The encoder runs
    once; the decoder decodes the k samples. In eval mode it behaves as the VAE (z = the
    posterior mean), and ``log_importance`` is the Gaussian's, so NLL evaluation is the
    same as for any VAE, whatever k it was trained with (stored in the config).
    """

    Config = IWAEConfig

    def __init__(self, cfg: IWAEConfig, latent_dim: int) -> None:
        super().__init__(cfg, latent_dim)  # type: ignore[arg-type]
        self._model: list[nn.Module] = []

    def bind(self, model: nn.Module) -> None:
        if not model.corruption.identity:  # type: ignore[union-attr]
            raise AutoencodingError(
                "bottleneck 'iwae' scores every decoded sample against the clean input; "
                "it takes no corruption"
            )
        self._model = [model]

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        if not self.training:
            return super().forward(h, step)
        mean, logvar = self.posterior(h)
        eps = torch.randn((self.cfg.samples, *mean.shape), dtype=mean.dtype, device=mean.device)
        z = mean + torch.exp(0.5 * logvar) * eps  # (k, B, d)
        log_q = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)
        log_p = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
        kl = (0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)).sum(-1).mean()
        w = self.kl_weight(step)
        return BottleneckOutput(
            z=z[0],
            losses={"kl": w * kl},
            stats={"kl": kl.detach(), "kl_weight": torch.tensor(w)},
            params={"mean": mean, "logvar": logvar, "samples": z, "log_prior_ratio": log_p - log_q,
                    "prior_weight": torch.tensor(w)},
        )  # fmt: skip

    def after_decode(
        self, b: BottleneckOutput, x: torch.Tensor, out: torch.Tensor, decoder: Decoder
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        if "samples" not in b.params:
            return {}, {}
        model = self._model[0]
        z, k = b.params["samples"], self.cfg.samples
        rec = model.reconstruction  # type: ignore[union-attr]
        shape = model.input_shape  # type: ignore[union-attr]
        n = len(x)
        xs = x.view(n, *shape)
        nll = [rec.per_sample(out.view(n, -1, *shape), xs)]  # z_1, already decoded
        if k > 1:
            more = model.decode_output(BottleneckOutput(z=z[1:].reshape(-1, z.shape[-1])))  # type: ignore[operator]
            nll.append(rec.per_sample(more, xs.repeat(k - 1, *[1] * len(shape))))
        log_px = -torch.cat(nll).view(k, n)
        w = b.params["prior_weight"]
        bound = torch.logsumexp(log_px + w * b.params["log_prior_ratio"], 0) - math.log(k)
        elbo_terms = -log_px[0].mean() + b.losses["kl"]
        gap = -bound.mean() - elbo_terms
        return {"iw_gap": gap}, {"iw_bound": bound.mean().detach()}


@dataclass
class VampConfig:
    components: int = 50
    """K: pseudo-inputs, i.e. components of the mixture prior."""
    beta: float = 1.0
    """Weight of the KL term (1 = the ELBO)."""
    warmup_steps: int = 0
    """Steps over which the KL weight ramps from 0 to beta (0 = none); capped at half the
    run."""

    #: the Gaussian bottleneck's free bits (a per-dimension KL has no closed form here)
    free_bits = 0.0

    def validate(self) -> None:
        require(self.components >= 1, "bottleneck 'vamp': components must be >= 1")
        require(self.beta >= 0, f"bottleneck 'vamp': beta must be >= 0, got {self.beta}")
        require(self.warmup_steps >= 0, "bottleneck 'vamp': warmup_steps must be >= 0")


@BOTTLENECKS.register("vamp")
class VampBottleneck(GaussianBottleneck):
    """Gaussian posterior with a VampPrior.

    Tomczak & Welling, "VAE with a VampPrior" (AISTATS 2018)::

        u_1..K (learned pseudo-inputs) ─ encoder ─▶ q(z|u_k) = N(μ_k, σ_k²)
        p(z) = (1/K) Σ_k q(z|u_k)
        loss += w·[log q(z|x) − log p(z)],  z ~ q(z|x)   (single-sample Monte Carlo KL)

    Why: the prior that maximises the ELBO is the aggregate posterior; a mixture of
    posteriors at K learned inputs approximates it cheaply, so the KL stops pulling every
    code to one Gaussian and the likelihood improves. The pseudo-inputs are a parameter of
    this bottleneck (shaped like the samples, initialised on K evenly spaced training rows
    by ``init_from_data``) and go through the model's own encoder, reached through ``bind``
    without registering it twice. Sampling draws a component, then z from its posterior.
    """

    Config = VampConfig

    def __init__(self, cfg: VampConfig, latent_dim: int) -> None:
        super().__init__(cfg, latent_dim)  # type: ignore[arg-type]
        self._encoder: list[Encoder] = []

    def bind(self, model: nn.Module) -> None:
        shape = model.input_shape  # type: ignore[union-attr]
        if None in shape:
            raise AutoencodingError(
                "bottleneck 'vamp' learns pseudo-inputs shaped like the samples; it needs a "
                "fixed input_shape"
            )
        self._encoder = [model.encoder]  # type: ignore[list-item]
        # the paper's random start (overwritten by init_from_data, or by loaded weights)
        self.pseudo_inputs = nn.Parameter(0.05 + 0.01 * torch.randn(self.cfg.components, *shape))

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        idx = torch.linspace(0, len(x) - 1, self.cfg.components).round().long()
        self.pseudo_inputs.copy_(x[idx].to(self.pseudo_inputs))

    def prior_components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ_k, log σ_k²) of the K mixture components, each (K, d)."""
        if not self._encoder:
            raise AutoencodingError("bottleneck 'vamp' is not part of a model")
        return self.posterior(self._encoder[0].encode(Corrupted(self.pseudo_inputs)))

    @staticmethod
    def log_mixture(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """log (1/K) Σ_k N(z; μ_k, σ_k²) for z (..., d): the expanded square as matrix
        products, so no (N, K, d) tensor is built."""
        flat = z.reshape(-1, z.shape[-1])
        inv = torch.exp(-logvar)  # (K, d)
        quad = flat.pow(2) @ inv.T - 2.0 * flat @ (mu * inv).T + (mu.pow(2) * inv).sum(1)
        log_n = -0.5 * (quad + logvar.sum(1) + z.shape[-1] * LOG_2PI)  # (N, K)
        out = torch.logsumexp(log_n, 1) - math.log(len(mu))
        return out.view(z.shape[:-1])

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        mean, logvar = self.posterior(h)
        eps = torch.randn_like(mean)
        z = mean + torch.exp(0.5 * logvar) * eps
        log_q = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)
        kl = (log_q - self.log_mixture(z, *self.prior_components())).mean()
        w = self.kl_weight(step if self.training else None)
        return BottleneckOutput(
            z=z if self.training else mean,
            losses={"kl": w * kl},
            stats={"kl": kl.detach(), "kl_weight": torch.tensor(w)},
            params={"mean": mean, "logvar": logvar},
        )

    def log_importance(self, h: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """k posterior samples per row and their log p(z) − log q(z|x) under the mixture
        prior, shapes (k, B, d), (k, B)."""
        mean, logvar = self.posterior(h)
        eps = torch.randn((k, *mean.shape), dtype=mean.dtype, device=mean.device)
        z = mean + torch.exp(0.5 * logvar) * eps
        log_q = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)
        return z, self.log_mixture(z, *self.prior_components()) - log_q

    @torch.no_grad()
    def sample_prior(
        self, n: int, *, generator: torch.Generator | None = None, device=None, dtype=None
    ) -> torch.Tensor:
        mu, logvar = self.prior_components()
        gen_device = generator.device if generator is not None else "cpu"
        comp = torch.randint(len(mu), (n,), generator=generator, device=gen_device)
        eps = torch.randn((n, self.latent_dim), generator=generator, device=gen_device)
        comp, eps = comp.to(mu.device), eps.to(mu)
        z = mu[comp] + torch.exp(0.5 * logvar[comp]) * eps
        return z.to(device=device if device is not None else z.device, dtype=dtype or z.dtype)
