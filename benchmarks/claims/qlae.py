"""Claim-check for `qlae` (Hsu et al., "Disentanglement via Latent Quantization", NeurIPS
2023): quantizing each latent dimension to a few learned values, with strong weight decay,
gives more disentangled latents than a plain autoencoder, at similar reconstruction.

Data (synthetic, factors known and independent): 16×16 images of one Gaussian blob, every
combination of 4 factors — x position (8 values), y position (8), width (4) and brightness
(4) — so 1024 images whose factors are exactly independent. Models: 8 latents (twice the
factors, as in the paper), MLP 256-256, Bernoulli likelihood, batch 64, 300 epochs, seeds
0-2: plain `ae`, `ae` with the same AdamW weight decay as QLAE (to separate the effect of the
decay from that of the quantization), and `qlae` at its recipe defaults.

Metric: the mutual information gap, MIG (Chen et al., "Isolating Sources of
Disentanglement in VAEs", NeurIPS 2018): for each factor, the gap between the two latents
that share the most information with it, divided by the factor's entropy, averaged over
factors (0: each factor is spread over latents or shares its top latent; 1: each factor is
captured by one latent alone). Every latent is discretized into 20 equal-width bins over its
range before estimating mutual information (the same for all models; QLAE's ≤ 10 values per
latent fall into distinct bins). Also reported: InfoM-style modularity (1 − mean over latents
of the normalized entropy of its MI profile across factors) and test reconstruction MSE.

    python benchmarks/claims/qlae.py [--seeds 0 1 2] [--epochs 300]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402

import autoencoding as ae  # noqa: E402

# the data (synthetic:factors) and the metrics (20 bins) come from the library
from autoencoding.data.factors import factor_blobs as blobs  # noqa: E402
from autoencoding.evaluate.disentanglement import mig, mutual_information  # noqa: E402


def modularity(mi: np.ndarray) -> float:
    """1 − mean normalized entropy of each informative latent's MI profile over factors."""
    rows = mi[mi.sum(1) > 1e-3]
    if len(rows) == 0:
        return 0.0
    p = rows / rows.sum(1, keepdims=True)
    h = -(p * np.log(np.clip(p, 1e-12, None))).sum(1) / np.log(mi.shape[1])
    return float(1 - h.mean())


MODELS = {
    "ae": ("ae", {}),
    "ae + AdamW 0.1": ("ae", {"optimizer": "adamw", "weight_decay": 0.1, "grad_clip": 1.0}),
    "qlae": ("qlae", {}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--report-only", action="store_true", help="re-render the saved results")
    args = p.parse_args()
    if args.report_only:
        saved = json.loads((_bench.RESULTS / "claim_qlae.json").read_text())
        return report(saved["rows"], saved["seeds"], saved["epochs"])
    x, factors = blobs()
    rows: dict[str, dict[str, list[float]]] = {}
    for name, (recipe, train) in MODELS.items():
        for s in args.seeds:
            m = ae.fit(
                recipe,
                x,
                seed=s,
                scaling="none",
                model={
                    "latent_dim": 8,
                    "encoder": {"name": "mlp", "hidden": [256, 256]},
                    "reconstruction": {"name": "bernoulli"},
                },
                train={
                    "epochs": args.epochs,
                    "batch_size": 64,
                    "val_fraction": 0,
                    "progress": False,
                    **train,
                },
            )
            z = m.encode(x)
            mi = mutual_information(z, factors)
            met = {
                "mig": mig(z, factors),
                "modularity": modularity(mi),
                "mse": float(((m.reconstruct(x) - x) ** 2).mean()),
            }
            for k, v in met.items():
                rows.setdefault(name, {}).setdefault(k, []).append(v)
            print(name, s, {k: round(v, 4) for k, v in met.items()}, flush=True)
    report(rows, args.seeds, args.epochs)


def report(rows: dict[str, dict[str, list[float]]], seeds: list[int], epochs: int) -> None:
    keys = ["mig", "modularity", "mse"]
    table = [
        f"QLAE vs AE disentanglement on blobs (4 independent factors, 1024 images), seeds "
        f"{seeds}, {epochs} epochs (mean ± std)",
        "",
        "| model | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for name, per in rows.items():
        table.append(f"| {name} | " + " | ".join(_bench.mean_std(per[k]) for k in keys) + " |")
    verdict = {
        k: bool(
            np.mean(rows["qlae"][k]) > max(np.mean(rows[n][k]) for n in ("ae", "ae + AdamW 0.1"))
        )
        for k in ("mig", "modularity")
    }
    table.append(
        "\nQLAE above both autoencoders: "
        + ", ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in verdict.items())
    )
    _bench.write_result(
        "claim_qlae",
        {"seeds": seeds, "epochs": epochs, "rows": rows, "verdict": verdict},
        "\n".join(table),
    )


if __name__ == "__main__":
    main()
