"""Claim-check for `lorae` (Mazumder et al., WACV 2024): the nuclear-norm penalty on the
latent linear map gives latents of lower effective rank than a plain AE of the same size.

Effective rank (Roy & Vetterli 2007) = exp(entropy of the normalized singular values of the
centred test latents). Data: GEN digits, latent 16, 60 epochs, seeds 0-2.

    python benchmarks/claims/lorae.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402

import autoencoding as ae  # noqa: E402


def effective_rank(z: np.ndarray) -> float:
    s = np.linalg.svd(z - z.mean(0), compute_uv=False)
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def main(seeds=(0, 1, 2), epochs=60) -> dict:
    xtr, xte, _, _ = _bench.gen_digits()
    rows = {}
    for recipe in ("ae", "lorae"):
        per = {"mse": [], "effective_rank": []}
        for s in seeds:
            m = ae.fit(recipe, xtr, model={"latent_dim": 16}, seed=s, scaling="none",
                       train={"epochs": epochs, "progress": False, "val_fraction": 0})
            per["mse"].append(float(((m.reconstruct(xte) - xte) ** 2).mean()))
            per["effective_rank"].append(effective_rank(m.encode(xte)))
        rows[recipe] = per
    table = ["| recipe | test MSE | effective rank of latents (of 16) |", "|---|---|---|"]
    for r, per in rows.items():
        table.append(f"| {r} | {_bench.mean_std(per['mse'])} | "
                     f"{_bench.mean_std(per['effective_rank'])} |")
    ok = np.mean(rows["lorae"]["effective_rank"]) < np.mean(rows["ae"]["effective_rank"])
    table.append(f"\nclaim holds (lower effective rank): {ok}")
    _bench.write_result("claim_lorae", {"rows": rows, "claim_holds": bool(ok)}, "\n".join(table))
    return rows


if __name__ == "__main__":
    main()
