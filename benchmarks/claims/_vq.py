"""Shared by the VQ claim-checks: protocol GEN's VQ setup and one measuring function.

Nets and data as in ``benchmarks/gen_vq.py`` (64-256-256-64 MLP, 4 vectors of 16, 128 codes,
Bernoulli likelihood, batch 64, peak lr 1e-3); ``variant`` overrides options of the `vq`
bottleneck.
"""

from __future__ import annotations

import numpy as np
import torch

import autoencoding as ae
from autoencoding.evaluate.metrics import linear_probe

CODEBOOK_SIZE = 128


def fit_and_measure(variant: dict, seed: int, epochs: int, data) -> dict[str, float]:
    xtr, xte, ytr, yte = data
    bottleneck = {"name": "vq", "dim": 16, "codebook_size": CODEBOOK_SIZE, **variant}
    m = ae.fit(
        "vqvae",
        xtr,
        seed=seed,
        scaling="none",
        model={
            "latent_dim": 64,
            "encoder": {"name": "mlp", "hidden": [256, 256]},
            "bottleneck": bottleneck,
        },
        train={
            "epochs": epochs,
            "batch_size": 64,
            "lr": 1e-3,
            "val_fraction": 0,
            "progress": False,
        },
    )
    mod = m.module.eval()
    xt = torch.from_numpy(xte)
    with torch.no_grad():
        out = mod.run(xt, decode=False).bottleneck  # eval mode: statistics of the test batch
    codes = out.codes.numpy().reshape(-1)
    counts = np.bincount(codes, minlength=CODEBOOK_SIZE).astype(np.float64)
    freq = counts[counts > 0] / counts.sum()
    xhat = m.reconstruct(xte)
    p = np.clip(xhat.astype(np.float64), 1e-7, 1 - 1e-7)
    last = m.history[-1]
    return {
        "mse": float(((xhat - xte) ** 2).mean()),
        "bce": float(-(xte * np.log(p) + (1 - xte) * np.log(1 - p)).sum(1).mean()),
        "usage": float((counts > 0).mean()),
        "usage_train_window": float(last["train/codebook_usage"]),
        "perplexity": float(np.exp(-(freq * np.log(freq)).sum())),
        "quant_error": float(out.stats["quant_error"]),
        "probe": linear_probe(m.encode(xtr), ytr, m.encode(xte), yte),
        "s_per_epoch": float(np.mean([h["seconds"] for h in m.history])),
    }


def summarize(rows: dict[str, dict[str, list[float]]], keys: list[str], mean_std) -> list[str]:
    table = ["| variant | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, per in rows.items():
        table.append(f"| {name} | " + " | ".join(mean_std(per[k]) for k in keys) + " |")
    return table
