"""Latent samplers: generative models of the latent codes, fitted after training.

Any autoencoder generates once something can draw latents that look like its training codes:
decode them and you have samples. A VAE has its prior, but the aggregate posterior of a
trained model rarely matches it; a deterministic autoencoder has no prior at all. Ghosh et
al. 2020 ("From Variational to Deterministic Autoencoders", ICLR) fit a Gaussian mixture to
the training codes after training ("ex-post density estimation") and show that a plain or
regularized autoencoder then samples as well as or better than a VAE from its prior.

A sampler is a :class:`~autoencoding.parts.base.Part` listed in the model config
(``samplers: [{name: gmm, components: 10}]``). The trainer calls its ``on_train_end`` hook
with the training batches; it encodes them (posterior means for a VAE, the code itself for
a deterministic model) and fits. What it fitted lives in buffers, so it is saved in
``model.safetensors`` with the weights and loads with them. Sampling is seeded by the
caller's generator.

Registered samplers:

- ``gmm``: a Gaussian mixture (default 10 components, full covariances), Ghosh et al. 2020.

The bottleneck's own prior (a VAE's N(0, I), a quantizer's code frequencies) is the
sampler named ``prior``; it needs no fitting and is not listed here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..config import require
from ..errors import AutoencodingError
from ..registry import Registry
from .base import Part

SAMPLERS: Registry[type] = Registry("sampler")

#: the sampler name that means the bottleneck's own prior (never a listed sampler)
PRIOR = "prior"


class LatentSampler(Part):
    """Draws latents shaped like the model's codes; fitted on training codes.

    Subclasses implement :meth:`fit_codes` (codes as a float64 array (n, d)) and
    :meth:`draw` (n flat latents); this base encodes the training data, checks the fit
    happened, and reshapes draws to the latent's shape."""

    def __init__(self, cfg, latent_shape: tuple[int | None, ...]) -> None:
        super().__init__()
        self.cfg = cfg
        if None in latent_shape:
            sizes = ", ".join("any" if s is None else str(s) for s in latent_shape)
            raise AutoencodingError(
                f"sampler {self.registry_name!r} needs a latent of fixed size; this model's "
                f"latent is shaped ({sizes})"
            )
        self.latent_shape = tuple(int(s) for s in latent_shape)  # type: ignore[arg-type]
        self.dim = math.prod(self.latent_shape)
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self._model: list[nn.Module] = []  # the owning model, kept out of the module tree

    def bind(self, model: nn.Module) -> None:
        self._model = [model]

    @torch.no_grad()
    def codes(self, batches: Iterable[torch.Tensor]) -> np.ndarray:
        """The training codes to fit on, at most ``max_rows`` of them (evenly spaced, so
        the fit costs the same on big data). A deterministic model's codes are its latents;
        for a stochastic bottleneck (a VAE) ``draws`` samples of each posterior stand for the
        aggregate posterior q(z) = E_x q(z|x), which is what the decoder saw in training
        (``codes: mean`` fits the posterior means instead)."""
        if not self._model:
            raise AutoencodingError(f"sampler {self.registry_name!r} is not part of a model")
        model = self._model[0]
        stochastic = model.bottleneck.has_posterior and self.cfg.codes == "posterior"
        parts = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)  # posterior draws: the same fit every time
            for xb in batches:
                for _ in range(self.cfg.draws if stochastic else 1):
                    b = model.run(xb, sample=stochastic, decode=False).bottleneck
                    parts.append(b.z.detach().flatten(1).double().cpu())
        z = torch.cat(parts).numpy() if parts else np.zeros((0, self.dim))
        z = _gather_rows(z)
        if not len(z):
            raise AutoencodingError(f"sampler {self.registry_name!r}: no training data to fit on")
        # the fit must not depend on the order the rows arrived in (one process or several)
        z = z[np.lexsort(z.T[::-1])]
        cap = self.cfg.max_rows
        if len(z) > cap:
            z = z[np.linspace(0, len(z) - 1, cap).round().astype(int)]
        return z

    def on_train_end(self, batches: Callable[[], Iterable[torch.Tensor]]) -> None:
        self.fit(batches())

    def fit(self, batches: Iterable[torch.Tensor]) -> None:
        """Fit on the codes of ``batches`` (scaled data, as the model trains on)."""
        z = self.codes(batches)
        if not np.isfinite(z).all():
            raise AutoencodingError(
                f"sampler {self.registry_name!r}: the training codes hold NaN or inf"
            )
        self.fit_codes(z)
        self.fitted.fill_(True)

    def fit_codes(self, z: np.ndarray) -> None:
        raise NotImplementedError

    def draw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latents, shaped (n, *latent shape)."""
        if not bool(self.fitted):
            raise AutoencodingError(
                f"sampler {self.registry_name!r} was never fitted: it fits at the end of "
                "training, or on data with TrainedModel.fit_sampler"
            )
        return self.draw(n, generator).view(n, *self.latent_shape)


def _gather_rows(z: np.ndarray) -> np.ndarray:
    """Every process's rows (under torchrun each holds a shard of the training data), so
    every process fits the same sampler on all of them."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return z
    shards: list[np.ndarray | None] = [None] * dist.get_world_size()
    dist.all_gather_object(shards, z)
    return np.concatenate([s for s in shards if s is not None])


@dataclass
class GMMConfig:
    components: int = 10
    """Mixture components (Ghosh et al. 2020 use 10 on MNIST)."""
    covariance: str = "full"
    """Covariance of each component: full | diag."""
    reg_covar: float = 1e-6
    """Added to every covariance's diagonal (keeps it positive definite)."""
    codes: str = "posterior"
    """What to fit for a model with a posterior (a VAE): ``posterior`` samples (the aggregate
    posterior the decoder was trained on; on protocol GEN's VAE it gives FD 0.67 on raw
    pixels where posterior means give 0.79 and the prior 0.75) or posterior ``mean``s.
    Deterministic models always fit their codes."""
    draws: int = 5
    """Posterior samples per training row (``codes: posterior``)."""
    max_rows: int = 50_000
    """At most this many training codes are used to fit (evenly spaced)."""
    seed: int = 0
    """Seed of the EM initialisation (k-means) and of the posterior draws."""

    def validate(self) -> None:
        what = "sampler 'gmm'"
        require(self.components >= 1, f"{what}: components must be >= 1, got {self.components}")
        require(
            self.covariance in ("full", "diag"),
            f"{what}: covariance must be 'full' or 'diag', got {self.covariance!r}",
        )
        require(self.reg_covar >= 0, f"{what}: reg_covar must be >= 0, got {self.reg_covar}")
        require(self.max_rows >= 1, f"{what}: max_rows must be >= 1, got {self.max_rows}")
        require(
            self.codes in ("posterior", "mean"),
            f"{what}: codes must be 'posterior' or 'mean', got {self.codes!r}",
        )
        require(self.draws >= 1, f"{what}: draws must be >= 1, got {self.draws}")


@SAMPLERS.register("gmm")
class GMMSampler(LatentSampler):
    """Gaussian mixture on the training codes (ex-post density estimation, Ghosh et al.
    2020, "From Variational to Deterministic Autoencoders"): EM with k-means initialisation
    (scikit-learn's ``GaussianMixture``), stored as mixture weights, means and the Cholesky
    factors of the covariances."""

    Config = GMMConfig

    def __init__(self, cfg: GMMConfig, latent_shape: tuple[int | None, ...]) -> None:
        super().__init__(cfg, latent_shape)
        k, d = cfg.components, self.dim
        self.register_buffer("weights", torch.full((k,), 1.0 / k))
        self.register_buffer("means", torch.zeros(k, d))
        chol = torch.zeros(k, d, d)  # identity factors (not torch.eye: on the meta device
        chol.diagonal(dim1=-2, dim2=-1).fill_(1.0)  # it imports torch._dynamo, ~1 s)
        self.register_buffer("chol", chol)

    def fit_codes(self, z: np.ndarray) -> None:
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_limits

        # fewer codes than components (a tiny table): one component per code, the rest
        # get weight 0
        k = min(self.cfg.components, len(z))
        gm = GaussianMixture(
            k,
            covariance_type=self.cfg.covariance,
            reg_covar=self.cfg.reg_covar,
            random_state=self.cfg.seed,
            max_iter=200,
        )
        with threadpool_limits(1):  # a tiny EM: BLAS threads only cost here
            gm.fit(z)
        cov = gm.covariances_
        if self.cfg.covariance == "diag":
            cov = np.stack([np.diag(c) for c in cov])
        self.weights.zero_()
        self.weights[:k] = torch.from_numpy(gm.weights_ / gm.weights_.sum())
        self.means[:k] = torch.from_numpy(gm.means_)
        self.chol[:k] = torch.linalg.cholesky(torch.from_numpy(cov))

    def draw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        dev = self.means.device
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn((n, self.dim, 1), generator=generator, device=dev)
        return self.means[comp] + (self.chol[comp] @ eps).squeeze(-1)

    @torch.no_grad()
    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log density of flat latents (n, d) under the mixture."""
        z = z.flatten(1).to(self.means.dtype)
        diff = (z[:, None, :] - self.means[None]).unsqueeze(-1)  # (n, k, d, 1)
        chol = self.chol.expand(len(z), *self.chol.shape)
        sol = torch.linalg.solve_triangular(chol, diff, upper=False).squeeze(-1)
        logdet = torch.log(torch.diagonal(self.chol, dim1=-2, dim2=-1)).sum(-1)
        comp = -0.5 * sol.pow(2).sum(-1) - logdet - 0.5 * self.dim * math.log(2 * math.pi)
        return torch.logsumexp(comp + torch.log(self.weights), dim=1)
