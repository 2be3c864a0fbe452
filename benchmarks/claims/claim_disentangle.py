"""Claim-check for `beta-tc-vae` (Chen et al., "Isolating Sources of Disentanglement in
VAEs", NeurIPS 2018) and `dip-vae` (Kumar et al., "Variational Inference of Disentangled
Latent Concepts from Unlabeled Observations", ICLR 2018): penalising the total correlation
(β-TC-VAE) or the covariance of the aggregate posterior (DIP-VAE) gives more disentangled
latents than the plain VAE, measured against known factors.

Data: `synthetic:factors` (data/factors.py), 16×16 images of a blob, every combination of 4
independent factors (x 8, y 8, width 4, brightness 4: 1024 images). Models: the same nets
and training for all (MLP 256-256, 8 latents = twice the factors, Bernoulli likelihood, each
recipe's defaults otherwise: lr 3e-3, wsd schedule, batch 64, KL warm-up 1000 steps), seeds
0-2: `vae`, `beta-vae` (β = 4), `beta-tc-vae` (α = γ = 1, β = 6), `dip-vae` type i
(λ_od = 10, λ_d = 100) and type ii (λ_od = λ_d = 10).

Metrics (evaluate/disentanglement.py) on the posterior means of all 1024 images: MIG (20
bins), DCI disentanglement and completeness (random-forest importances), and the
reconstruction MSE per pixel.

Findings (results/claim_disentangle.md): β-TC-VAE doubles the VAE's MIG (0.60 ± 0.05 vs
0.30 ± 0.16) and DCI disentanglement (0.58 vs 0.25) on every seed, for 1.7x the VAE's
reconstruction MSE (β-VAE's is 3.6x, at no MIG gain). DIP-VAE does not hold the claim here:
type i (the recipe default) scores far below the VAE (MIG 0.08): with 8 latents for 4
factors it must give every latent's mean unit variance, so spare latents carry copies of
the factors; type ii (which counts the posterior variance, so a spare latent at the prior
already fits) averages slightly above the VAE (0.36 vs 0.30) but beats it on 1 seed of 3.
λ_od is DIP-VAE's one documented knob; on seed 0 neither λ_od = 1 (type i 0.14, ii 0.12) nor
λ_od = 100 (ii 0.15) reached the VAE's MIG (0.21).

    python benchmarks/claims/claim_disentangle.py [--seeds 0 1 2] [--epochs 100]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402

import autoencoding as ae  # noqa: E402
from autoencoding.data.factors import factor_blobs  # noqa: E402
from autoencoding.evaluate.disentanglement import disentanglement_metrics  # noqa: E402

MODELS = {
    "vae": ("vae", {}),
    "beta-vae": ("beta-vae", {}),
    "beta-tc-vae": ("beta-tc-vae", {}),
    "dip-vae (i)": ("dip-vae", {}),
    "dip-vae (ii)": ("dip-vae", {"bottleneck": {"type": "ii"}}),
}
KEYS = ["mig", "dci_disentanglement", "dci_completeness", "mse"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args()
    x, factors = factor_blobs()
    rows: dict[str, dict[str, list[float]]] = {}
    for name, (recipe, model) in MODELS.items():
        for s in args.seeds:
            m = ae.fit(
                recipe,
                x,
                seed=s,
                scaling="none",
                model={
                    "latent_dim": 8,
                    "encoder": {"name": "mlp", "hidden": [256, 256]},
                    "samplers": [],
                    **model,
                },
                train={"epochs": args.epochs, "val_fraction": 0, "progress": False},
            )
            met = disentanglement_metrics(m.encode(x), factors, random_state=s)
            met["mse"] = float(((m.reconstruct(x) - x) ** 2).mean())
            for k in KEYS:
                rows.setdefault(name, {}).setdefault(k, []).append(met[k])
            print(name, s, {k: round(met[k], 4) for k in KEYS}, flush=True)
    report(rows, args.seeds, args.epochs)


def report(rows: dict[str, dict[str, list[float]]], seeds: list[int], epochs: int) -> None:
    table = [
        f"Disentanglement on synthetic:factors (4 independent factors, 1024 images), 8 "
        f"latents, seeds {seeds}, {epochs} epochs (mean ± std over seeds)",
        "",
        "| model | " + " | ".join(KEYS) + " |",
        "|---|" + "---|" * len(KEYS),
    ]
    for name, per in rows.items():
        table.append(f"| {name} | " + " | ".join(_bench.mean_std(per[k]) for k in KEYS) + " |")
    # per seed (same seed = same init and batches): does the model beat the VAE's MIG / DCI?
    verdict = {}
    for name in rows:
        if name == "vae":
            continue
        wins = {
            k: int(sum(a > b for a, b in zip(rows[name][k], rows["vae"][k], strict=True)))
            for k in ("mig", "dci_disentanglement")
        }
        verdict[name] = {
            "mig_above_vae": bool(np.mean(rows[name]["mig"]) > np.mean(rows["vae"]["mig"])),
            "seeds_mig_above_vae": wins["mig"],
            "seeds_dci_above_vae": wins["dci_disentanglement"],
        }
    table.append("")
    for name, v in verdict.items():
        table.append(
            f"{name}: mean MIG above the VAE's {'yes' if v['mig_above_vae'] else 'no'}; "
            f"above it on {v['seeds_mig_above_vae']}/{len(seeds)} seeds (MIG), "
            f"{v['seeds_dci_above_vae']}/{len(seeds)} (DCI disentanglement)"
        )
    _bench.write_result(
        "claim_disentangle",
        {"seeds": seeds, "epochs": epochs, "rows": rows, "verdict": verdict},
        "\n".join(table),
    )


if __name__ == "__main__":
    main()
