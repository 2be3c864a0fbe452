"""Claim-checks for the recipes ``wae``, ``rae``, ``iwae`` and ``vamp`` (issue 14, part 2), on
protocol GEN (digits / 16, nets 64-256-256-8, batch 64, 100 epochs, seeds 0-2; each recipe
with its own defaults, the baselines with theirs):

1. WAE: its MMD term makes N(0, I) draws decode to digits far better than a plain AE's
   (``ae`` with the same likelihood as ``wae``; only the MMD term differs).
2. RAE: sampling through the GMM fitted to its codes beats sampling N(0, I).
3. IWAE: test NLL below the VAE's at equal epochs.
4. VampPrior: test NLL below the VAE's.

Sample quality: Fréchet distance on raw pixels between 1000 generated digits and the 360 test
digits (``pixel_fd``; lower is better; the training digits score the floor). NLL: the
importance-sampled NLL with 200 samples of ``evaluate.metrics`` (as benchmarks/gen_vae.py).

    python benchmarks/claims/generative.py                     # seeds 0 1 2, 100 epochs
    python benchmarks/claims/generative.py --seeds 0 --epochs 20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import linalg  # noqa: E402

import autoencoding as ae  # noqa: E402
from autoencoding.evaluate.metrics import importance_nll  # noqa: E402

NETS = {"latent_dim": 8, "encoder": {"name": "mlp", "hidden": [256, 256]}}
N_SAMPLES = 1000


def pixel_fd(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of flat images (a 1e-6 ridge:
    the digits' corner pixels are constant, so the covariances are singular)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    ridge = 1e-6 * np.eye(a.shape[1])
    s1, s2 = np.cov(a, rowvar=False) + ridge, np.cov(b, rowvar=False) + ridge
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def fit(recipe: str, xtr, seed: int, epochs: int, **model):
    return ae.fit(recipe, xtr, seed=seed, scaling="none", model={**NETS, **model},
                  train={"epochs": epochs, "batch_size": 64, "val_fraction": 0,
                         "progress": False})  # fmt: skip


def normal_samples(m, seed: int) -> np.ndarray:
    """N(0, I) draws decoded: a plain AE has no prior, so draw and decode by hand."""
    z = np.random.default_rng(seed).standard_normal((N_SAMPLES, NETS["latent_dim"]))
    return m.decode(z.astype(np.float32))


def nll(m, xte, seed: int) -> float:
    return importance_nll(m.module.eval(), torch.from_numpy(xte), 200, generator_seed=seed + 10_000)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args()
    xtr, xte, _, _ = _bench.gen_digits()
    rows: dict[str, list[float]] = {}

    def add(key, value):
        rows.setdefault(key, []).append(value)
        print(f"  {key} = {value:.4f}", flush=True)

    for s in args.seeds:
        print(f"seed {s}", flush=True)
        add("floor: train digits, pixel FD", pixel_fd(xtr, xte))
        # 1. WAE vs a plain AE with the same (Bernoulli) cost, both decoding N(0, I)
        plain = fit("ae", xtr, s, args.epochs, reconstruction={"name": "auto"},
                    samplers=[{"name": "gmm", "components": 10}])  # fmt: skip
        wae = fit("wae", xtr, s, args.epochs)
        add("ae N(0,I) pixel FD", pixel_fd(normal_samples(plain, s), xte))
        add("wae N(0,I) pixel FD", pixel_fd(wae.sample(N_SAMPLES, seed=s, sampler="prior"), xte))
        add("ae gmm pixel FD", pixel_fd(plain.sample(N_SAMPLES, seed=s, sampler="gmm"), xte))
        add("wae gmm pixel FD", pixel_fd(wae.sample(N_SAMPLES, seed=s, sampler="gmm"), xte))
        # 2. RAE: GMM on the codes vs N(0, I)
        rae = fit("rae", xtr, s, args.epochs)
        add("rae N(0,I) pixel FD", pixel_fd(normal_samples(rae, s), xte))
        add("rae gmm pixel FD", pixel_fd(rae.sample(N_SAMPLES, seed=s, sampler="gmm"), xte))
        # 3-4. NLL of IWAE and VampPrior vs the VAE, same epochs
        for recipe in ("vae", "iwae", "vamp"):
            m = fit(recipe, xtr, s, args.epochs)
            add(f"{recipe} NLL", nll(m, xte, s))
            add(f"{recipe} s/epoch", float(np.mean([h["seconds"] for h in m.history])))
            add(f"{recipe} prior pixel FD", pixel_fd(m.sample(N_SAMPLES, seed=s), xte))

    mean = {k: float(np.mean(v)) for k, v in rows.items()}
    checks = {
        "wae prior FD < ae prior FD / 2":
            mean["wae N(0,I) pixel FD"] < mean["ae N(0,I) pixel FD"] / 2,
        "rae gmm FD < rae N(0,I) FD": mean["rae gmm pixel FD"] < mean["rae N(0,I) pixel FD"],
        "iwae NLL < vae NLL": mean["iwae NLL"] < mean["vae NLL"],
        "vamp NLL < vae NLL": mean["vamp NLL"] < mean["vae NLL"],
    }  # fmt: skip
    table = [f"Claims wae / rae / iwae / vamp, protocol GEN, seeds {args.seeds}, {args.epochs} "
             "epochs (mean ± std)", "", "| quantity | value |", "|---|---|"]  # fmt: skip
    table += [f"| {k} | {_bench.mean_std(v)} |" for k, v in rows.items()]
    table += ["", "| claim | holds |", "|---|---|"]
    table += [f"| {k} | {'yes' if v else 'NO'} |" for k, v in checks.items()]
    _bench.write_result("claim_generative",
                        {"seeds": args.seeds, "epochs": args.epochs, "results": rows,
                         "checks": checks}, "\n".join(table))  # fmt: skip


if __name__ == "__main__":
    main()
