"""Claim-check for `dae` (Vincent et al. 2008/2010): a denoising autoencoder recovers clean
inputs from corrupted ones better than a plain autoencoder trained on clean data.

Data: GEN digits. Both models: same MLP, latent 16, 60 epochs, seeds 0-2. Test inputs get
Gaussian noise (σ = 0.1 of the [0, 1] scale, as in training) or 25% masking; metric: MSE of
the reconstruction against the *clean* test image.

    python benchmarks/claims/dae.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402

import autoencoding as ae  # noqa: E402


def main(seeds=(0, 1, 2), epochs=60) -> dict:
    xtr, xte, _, _ = _bench.gen_digits()
    rows = {}
    for recipe in ("ae", "dae", "dae-masking"):
        per = {"gaussian": [], "masking": [], "clean": []}
        for s in seeds:
            m = ae.fit(recipe, xtr, model={"latent_dim": 16}, seed=s, scaling="none",
                       train={"epochs": epochs, "progress": False, "val_fraction": 0})
            rng = np.random.default_rng(100 + s)
            noisy = xte + 0.1 * rng.normal(size=xte.shape).astype(np.float32)
            masked = xte * (rng.random(xte.shape) >= 0.25)
            per["gaussian"].append(float(((m.reconstruct(noisy) - xte) ** 2).mean()))
            per["masking"].append(float(((m.reconstruct(masked) - xte) ** 2).mean()))
            per["clean"].append(float(((m.reconstruct(xte) - xte) ** 2).mean()))
        rows[recipe] = per
    table = ["| recipe | MSE vs clean, Gaussian-noise input | MSE vs clean, masked input | "
             "MSE clean input |", "|---|---|---|---|"]
    for r, per in rows.items():
        table.append(f"| {r} | {_bench.mean_std(per['gaussian'])} | "
                     f"{_bench.mean_std(per['masking'])} | {_bench.mean_std(per['clean'])} |")
    ok = (np.mean(rows["dae"]["gaussian"]) < np.mean(rows["ae"]["gaussian"])
          and np.mean(rows["dae-masking"]["masking"]) < np.mean(rows["ae"]["masking"]))
    table.append(f"\nclaim holds (dae better on noisy, dae-masking better on masked): {ok}")
    _bench.write_result("claim_dae", {"rows": rows, "claim_holds": bool(ok)}, "\n".join(table))
    return rows


if __name__ == "__main__":
    main()
