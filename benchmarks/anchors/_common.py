"""Shared helpers for the anchor runners (protocol GEN in shared/BENCHMARKS.md).

Imported by ``gen_pythae.py`` and ``gen_autoencoders.py``, which run inside the reference
libraries' own virtual environments.  Depends only on numpy, torch and scikit-learn.

Call :func:`setup_process` *before* importing torch anywhere (it sets the OpenMP wait policy
and thread counts, which must happen before torch starts its thread pool).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

LATENT_DIM = 8
HIDDEN = 256
N_VQ = 4  # number of quantized vectors per image
VQ_DIM = 16  # dimension of each quantized vector
CODEBOOK_SIZE = 128
COMMITMENT = 0.25
LR = 1e-3
BATCH_SIZE = 64
NLL_SAMPLES = 200
ELBO_DRAWS = 10
PROB_CLAMP = 1e-7


def parse_args(models: tuple[str, ...], description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", required=True, choices=models)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument(
        "--out", required=True, help="result JSON path; arrays go to the same path with .npz"
    )
    p.add_argument("--threads", type=int, default=1, help="torch / BLAS threads (default 1)")
    return p.parse_args()


def setup_process(threads: int) -> None:
    """Thread and OpenMP settings; must run before torch is imported."""
    if "torch" in sys.modules:
        raise RuntimeError("setup_process() must run before torch is imported")
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def load_gen_data():
    """Digits / 16, flattened, stratified 80/20 split with random_state=0 (1437 / 360)."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    return x_tr, x_te, y_tr, y_te


class EpochTimer:
    """Accumulates wall time of the library's training-step calls (one per epoch)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.cpu: list[float] = []  # process CPU time: robust to other load on the machine

    def wrap(self, fn):
        def timed(*a, **k):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                self.times.append(time.perf_counter() - t0)
                self.cpu.append(time.process_time() - c0)

        return timed


# --------------------------------------------------------------------------- VAE evaluation


def bernoulli_loglik(x, logits=None, probs=None):
    """Sum over pixels of x log p + (1 - x) log(1 - p); logits preferred (exact)."""
    import torch
    import torch.nn.functional as F

    if logits is not None:
        return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(-1)
    p = probs.clamp(PROB_CLAMP, 1 - PROB_CLAMP)
    return (x * torch.log(p) + (1 - x) * torch.log1p(-p)).sum(-1)


def _log_normal_std(z):
    return -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)


def _log_normal(z, mu, logvar):
    return -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)


def evaluate_vae(encode, decode, x_train, x_test, seed: int, uses_logits: bool, log_prior=None):
    """Arrays for the shared metric function, from the library's trained encoder / decoder.

    encode(x) -> (mu, logvar); decode(z) -> logits if uses_logits else Bernoulli means;
    log_prior(z) -> log p(z) per row of a (n, d) batch (default: the standard normal's).
    Sampling uses its own generator (seed + 10_000) so results do not depend on how much
    global RNG the library consumed during training.
    """
    import numpy as np
    import torch

    gen = torch.Generator().manual_seed(seed + 10_000)
    xt = torch.as_tensor(x_test)
    log_prior = log_prior or _log_normal_std

    def loglik(x, z):
        out = decode(z)
        return bernoulli_loglik(x, logits=out) if uses_logits else bernoulli_loglik(x, probs=out)

    with torch.no_grad():
        mu, logvar = encode(xt)
        mu_train, _ = encode(torch.as_tensor(x_train))
        dec_mu = decode(mu)
        xhat_mean = torch.sigmoid(dec_mu) if uses_logits else dec_mu
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
        std = (0.5 * logvar).exp()

        # Single-sample ELBO log p(x|z) + log p(z) - log q(z|x), averaged over ELBO_DRAWS draws.
        elbo = torch.zeros(len(xt), dtype=torch.float64)
        for _ in range(ELBO_DRAWS):
            z = mu + std * torch.randn(mu.shape, generator=gen)
            elbo += (loglik(xt, z) + log_prior(z) - _log_normal(z, mu, logvar)).double()
        elbo /= ELBO_DRAWS

        # Importance-sampled log p(x) with NLL_SAMPLES proposals from q(z|x).
        log_px = torch.empty(len(xt), dtype=torch.float64)
        chunk = 60
        for s in range(0, len(xt), chunk):
            xb, mb, lb, sb = (
                xt[s : s + chunk],
                mu[s : s + chunk],
                logvar[s : s + chunk],
                std[s : s + chunk],
            )
            b = len(xb)
            eps = torch.randn((NLL_SAMPLES, b, mb.shape[1]), generator=gen)
            z = mb + sb * eps  # (K, b, d)
            zf = z.reshape(-1, mb.shape[1])
            xr = xb.unsqueeze(0).expand(NLL_SAMPLES, b, xb.shape[1]).reshape(-1, xb.shape[1])
            lw = (loglik(xr, zf) + log_prior(zf)).reshape(NLL_SAMPLES, b) - _log_normal(z, mb, lb)
            log_px[s : s + b] = torch.logsumexp(lw.double(), 0) - math.log(NLL_SAMPLES)

    arrays = {
        "mu": mu.numpy().astype(np.float32),
        "logvar": logvar.numpy().astype(np.float32),
        "xhat_mean": xhat_mean.numpy().astype(np.float32),
        "log_px": log_px.numpy(),
        "elbo": elbo.numpy(),
        "kl": kl.double().numpy(),
        "mu_train": mu_train.numpy().astype(np.float32),
    }
    return arrays


def vae_summary(arrays, x_test) -> dict:
    """Informational only: the consumer recomputes metrics with its shared function."""
    import numpy as np

    xh = np.clip(arrays["xhat_mean"].astype(np.float64), PROB_CLAMP, 1 - PROB_CLAMP)
    x = x_test.astype(np.float64)
    bce = -(x * np.log(xh) + (1 - x) * np.log1p(-xh)).sum(1).mean()
    kl_dim = (-0.5 * (1 + arrays["logvar"] - arrays["mu"] ** 2 - np.exp(arrays["logvar"]))).mean(0)
    return {
        "nll": float(-arrays["log_px"].mean()),
        "neg_elbo": float(-arrays["elbo"].mean()),
        "kl": float(arrays["kl"].mean()),
        "mse": float(((arrays["xhat_mean"] - x_test) ** 2).mean()),
        "bce": float(bce),
        "active_units_cov": int((np.var(arrays["mu"], axis=0) > 1e-2).sum()),
        "active_units_kl": int((kl_dim > 1e-2).sum()),
    }


def vq_summary(arrays, x_test) -> dict:
    import numpy as np

    codes = arrays["codes"].reshape(-1)
    counts = np.bincount(codes, minlength=CODEBOOK_SIZE).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return {
        "mse": float(((arrays["xhat_mean"] - x_test) ** 2).mean()),
        "usage_test": float((counts > 0).mean()),
        "usage_train": float(
            (np.bincount(arrays["codes_train"].reshape(-1), minlength=CODEBOOK_SIZE) > 0).mean()
        ),
        "perplexity_test": float(np.exp(-(p * np.log(p)).sum())),
    }


def probe_accuracy(z_train, y_train, z_test, y_test) -> float:
    """Informational: standardized features + logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(z_train, y_train)
    return float(clf.score(z_test, y_test))


def write_result(out: str, meta: dict, arrays: dict, x_test, y_train, y_test) -> None:
    import numpy as np

    out_p = Path(out)
    out_p.parent.mkdir(parents=True, exist_ok=True)
    npz_p = out_p.with_suffix(".npz")
    arrays = dict(arrays, x_test=x_test.astype(np.float32), y_train=y_train, y_test=y_test)
    np.savez(npz_p, **arrays)
    meta = dict(meta)
    meta["npz"] = npz_p.name
    meta["arrays"] = {k: list(v.shape) for k, v in arrays.items()}
    out_p.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
