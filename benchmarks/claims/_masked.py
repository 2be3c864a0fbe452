"""Shared by the masked-autoencoder claim-checks: fit a recipe, time it, probe its features.

Probes: logistic regression on standardised frozen features
(``autoencoding.evaluate.metrics.linear_probe``) with every training label and with 10
labels per class (``_bench.few_labels``), as protocols MASK-IMG-PROBE / MASK-TS-PROBE.
``hidden_mse``: the model's own loss on the test set under its fixed eval-mode mask (MSE on
hidden patches; per-patch normalised units for norm_pix models).
"""

from __future__ import annotations

import os
import time

import _bench
import numpy as np
import torch

import autoencoding as ae
from autoencoding.evaluate.metrics import linear_probe
from autoencoding.evaluate.probes import probe_report

#: probe_report's keys in table order, with their column headings
PROBES = {
    "linear": "linear all",
    "linear_10pc": "linear 10/class",
    "knn": "5-NN all",
    "knn_10pc": "5-NN 10/class",
}


def timed_fit(recipe, x, *, seed, model=None, train=None):
    """``ae.fit`` on every row of ``x`` (no validation hold-out, no progress bar) and its
    wall and CPU seconds: ``(model, wall_s, cpu_s)``."""
    t0, c0 = time.time(), time.process_time()
    m = ae.fit(
        recipe,
        x,
        model=model,
        seed=seed,
        train={"progress": False, "val_fraction": 0, **(train or {})},
    )
    return m, time.time() - t0, time.process_time() - c0


def fit_report(recipe, data, *, seed, pools, model=None, train=None) -> dict:
    """Fit ``recipe`` (its default epochs unless ``train`` says otherwise), time it, and probe
    the frozen features of each pool with ``probe_report`` (the protocols' one probe function;
    the 10-per-class draw uses ``seed``)."""
    xtr, xte, ytr, yte = data
    m, wall, cpu = timed_fit(recipe, xtr, seed=seed, model=model, train=train)
    out = {
        "wall_s": wall,
        "cpu_s": cpu,
        "epochs": len(m.history),
        "train_loss": float(m.history[-1]["train/reconstruction"]),
    }
    for pool in pools:
        ftr, fte = m.encode(xtr, pool=pool), m.encode(xte, pool=pool)
        out[pool] = probe_report(ftr, ytr, fte, yte, seed=seed)
    return out


def probe_row(name: str, reports: list[dict], *cells: str) -> str:
    """A markdown row: ``name``, mean ± std over seeds of each ``PROBES`` key, then ``cells``."""
    figs = [_bench.mean_std([r[k] for r in reports]) if k in reports[0] else "—" for k in PROBES]
    return "| " + " | ".join([name, *figs, *cells]) + " |"


def fit_probe(recipe, data, *, seed, epochs, model=None, pools=("mean",), train=None) -> dict:
    xtr, xte, ytr, yte = data
    m, wall, cpu = timed_fit(
        recipe, xtr, seed=seed, model=model, train={"epochs": epochs, **(train or {})}
    )
    out = {
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_s_per_epoch": cpu / epochs,
        "train_loss": float(m.history[-1]["train/reconstruction"]),
    }
    few = _bench.few_labels(ytr, 10, seed)
    for pool in pools:
        ftr, fte = m.encode(xtr, pool=pool), m.encode(xte, pool=pool)
        out[f"probe_{pool}"] = linear_probe(ftr, ytr, fte, yte, seed)
        out[f"probe10_{pool}"] = linear_probe(ftr[few], ytr[few], fte, yte, seed)
    mod = m.module.eval()
    with torch.no_grad():
        xs = m.transform_scaled(xte)
        out["hidden_mse"] = float(mod(xs).terms["reconstruction"])
    out["load"] = os.getloadavg()[0]
    return out


def summarise(runs: list[dict]) -> dict[str, float]:
    """Mean of every numeric figure over seeds (and its spread as ``<key>_sd``)."""
    keys = [k for k in runs[0] if isinstance(runs[0][k], float | int)]
    out = {k: float(np.mean([r[k] for r in runs])) for k in keys}
    out.update({f"{k}_sd": float(np.std([r[k] for r in runs])) for k in keys})
    return out


def raw_probe(data) -> dict[str, float]:
    """The raw-input row: the same probes on the flattened samples."""
    xtr, xte, ytr, yte = data
    few = _bench.few_labels(ytr, 10, 0)
    ftr, fte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    return {
        "probe": linear_probe(ftr, ytr, fte, yte),
        "probe10": linear_probe(ftr[few], ytr[few], fte, yte),
    }


def moving_digits(frames: int = 8, seed: int = 0):
    """Toy video for the `mae-video` claim: each digit of ``_bench.digits16()`` slides
    horizontally (wrapping round) at a random speed of ±1 or ±2 pixels per frame from a
    random start; (n, 1, frames, 16, 16) train / test videos and their digit labels."""
    xtr, xte, ytr, yte = _bench.digits16()
    rng = np.random.default_rng(seed)

    def slide(x):
        v = rng.choice([-2, -1, 1, 2], len(x))
        s = rng.integers(0, 16, len(x))
        cols = (
            np.arange(16)[None, None, :]
            - s[:, None, None]
            - v[:, None, None] * np.arange(frames)[None, :, None]
        ) % 16
        img = x[:, 0]  # (n, 16, 16)
        out = np.stack([img[i][:, cols[i]].transpose(1, 0, 2) for i in range(len(x))])
        return out[:, None].astype(np.float32)  # (n, 1, frames, 16, 16)

    return slide(xtr), slide(xte), ytr, yte
