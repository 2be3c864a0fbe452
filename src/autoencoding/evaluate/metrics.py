"""Evaluation metrics computed the same way for every recipe.

Reconstruction error (MSE per entry, BCE per sample for [0, 1] data), the bottleneck's own
statistics averaged over the data (KL, codebook usage, L0, ...), and for models with a
Gaussian posterior the −ELBO, the importance-weighted NLL estimate and the active units;
a linear probe on the latents when labels exist.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..model import Autoencoder
from ..parts.base import BottleneckOutput

CHUNK = 512


def _chunks(x: torch.Tensor, size: int = CHUNK):
    for i in range(0, len(x), size):
        yield x[i : i + size]


@torch.no_grad()
def reconstruction_metrics(module: Autoencoder, x: torch.Tensor) -> dict[str, float]:
    """MSE per entry; BCE per sample (nats) when the data lies in [0, 1]; bottleneck stats."""
    module.eval()
    se, bce, n = 0.0, 0.0, 0
    stats: dict[str, float] = {}
    in_unit = bool(x.min() >= 0 and x.max() <= 1)
    for xb in _chunks(x):
        p = module.run(xb)
        b = p.bottleneck
        xhat = module.reconstruction.mean(p.out).flatten(1)
        flat = xb.flatten(1)
        se += float((xhat - flat).pow(2).sum())
        if in_unit:
            p = xhat.clamp(1e-7, 1 - 1e-7)
            bce += float(F.binary_cross_entropy(p, flat, reduction="sum"))
        for k, v in b.stats.items():
            if v.numel() == 1:
                stats[k] = stats.get(k, 0.0) + float(v) * len(xb)
        n += len(xb)
    out = {"mse": se / (n * x[0].numel())}
    if in_unit:
        out["bce"] = bce / n
    out.update({f"bottleneck/{k}": v / n for k, v in stats.items()})
    return out


@torch.no_grad()
def log_likelihood_terms(
    module: Autoencoder, x: torch.Tensor, k: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample (log p(x|z_i), log p(z_i) - log q(z_i|x)), each shaped (k, n)."""
    module.eval()
    ll_parts, w_parts = [], []
    for xb in _chunks(x, max(1, CHUNK * 8 // max(1, k))):
        h = module.run(xb, decode=False).h
        z, log_w = module.bottleneck.log_importance(h, k)  # (k,B,d), (k,B)
        out = module.decode_output(BottleneckOutput(z=z.reshape(-1, *z.shape[2:])))
        target = xb.repeat(k, *[1] * (xb.dim() - 1))
        ll = -module.reconstruction.per_sample(out, target).view(k, -1)
        ll_parts.append(ll)
        w_parts.append(log_w)
    return torch.cat(ll_parts, 1), torch.cat(w_parts, 1)


def has_likelihood(module: Autoencoder) -> bool:
    return module.reconstruction.is_likelihood and module.bottleneck.has_posterior


@torch.no_grad()
def negative_elbo(module: Autoencoder, x: torch.Tensor, draws: int = 10) -> float:
    """−ELBO per sample in nats, the expectation over q estimated with ``draws`` samples."""
    ll, log_w = log_likelihood_terms(module, x, draws)
    return float(-(ll + log_w).mean())


@torch.no_grad()
def importance_nll(
    module: Autoencoder, x: torch.Tensor, samples: int = 200, generator_seed: int = 0
) -> float:
    """Importance-sampled −log p(x) per sample (Burda et al., "Importance Weighted
    Autoencoders", 2016): −log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(generator_seed)
        ll, log_w = log_likelihood_terms(module, x, samples)
    return float(-(torch.logsumexp(ll + log_w, 0) - math.log(samples)).mean())


@torch.no_grad()
def latents(module: Autoencoder, x: torch.Tensor) -> np.ndarray:
    return torch.cat([module.encode(xb) for xb in _chunks(x)]).cpu().numpy()


def active_units_from_latents(z: np.ndarray, threshold: float = 0.01) -> int:
    """Dimensions whose posterior mean varies across the data: Cov_x(E[z|x]) > threshold."""
    return int((z.var(0) > threshold).sum()) if len(z) > 1 else int(z.shape[1])


def linear_probe(
    z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray, seed: int = 0
) -> float:
    """Test accuracy of a logistic regression on standardized latents."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
        clf.fit(z_train, y_train)
        return float(clf.score(z_test, y_test))


def evaluate_model(
    module: Autoencoder,
    x: torch.Tensor,
    y: np.ndarray | None = None,
    x_train: torch.Tensor | None = None,
    y_train: np.ndarray | None = None,
    nll_samples: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric that applies to this model on ``x`` (already scaled)."""
    was = module.training
    module.eval()
    metrics: dict[str, Any] = {"n": int(len(x))}
    metrics.update(reconstruction_metrics(module, x))
    z = latents(module, x)
    if has_likelihood(module):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            metrics["neg_elbo"] = negative_elbo(module, x)
        metrics["nll"] = importance_nll(module, x, nll_samples, seed)
        metrics["active_units"] = active_units_from_latents(z)
    if module.bottleneck.writes_bytes:  # codecs: the rate from the bytes actually written
        from .rd import codec_metrics

        metrics["codec"] = codec_metrics(module, x)
    if y is not None and x_train is not None and y_train is not None and y.dtype.kind in "iub":
        from .probes import probe_report

        # features as encode() gives them (the encoder's default pool), flattened per sample
        probes = probe_report(latents(module, x_train), y_train, z, y, seed=seed)
        metrics["probe_accuracy"] = probes["linear"]
        metrics["probes"] = probes
    module.train(was)
    return metrics
