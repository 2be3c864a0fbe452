"""Claim-check for the `gmm` latent sampler (Ghosh et al., "From Variational to Deterministic
Autoencoders", ICLR 2020): a Gaussian mixture fitted on the training codes after training
makes a deterministic autoencoder generate, and samples a VAE better than its own prior,
because the aggregate posterior of a trained model is not the prior.

Data and nets: protocol GEN (digits / 16, 64-256-256-8, 100 epochs), seeds 0-2, 1000 samples.
Figure: Fréchet distance on raw pixels between the samples (clipped to [0, 1]) and the test
split (lower is better). Baselines: the AE decoding N(0, I) latents (an AE has no prior: the
naive choice) and the VAE from its prior.

    python benchmarks/claims/gmm_sampler.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402
import torch  # noqa: E402

import autoencoding as ae  # noqa: E402
from autoencoding.evaluate import frechet_distance  # noqa: E402

NETS = {"latent_dim": 8, "encoder": {"name": "mlp", "hidden": [256, 256]}}


def main(seeds=(0, 1, 2), epochs=100, n=1000) -> dict:
    xtr, xte, _, _ = _bench.gen_digits()
    rows: dict[str, list[float]] = {}

    def add(name: str, samples: np.ndarray) -> None:
        rows.setdefault(name, []).append(frechet_distance(np.clip(samples, 0, 1), xte))

    for s in seeds:
        train = {"epochs": epochs, "progress": False, "val_fraction": 0, "batch_size": 64}
        a = ae.fit("ae", xtr, model=NETS, seed=s, scaling="none", train=train)
        add("ae + gmm", a.sample(n, seed=s, sampler="gmm"))
        z = torch.randn(n, 8, generator=torch.Generator().manual_seed(s)).numpy()
        add("ae + N(0, I)", a.decode(z))
        v = ae.fit("vae", xtr, model=NETS, seed=s, scaling="none", train=train)
        add("vae + prior", v.sample(n, seed=s, sampler="prior"))
        add("vae + gmm", v.sample(n, seed=s, sampler="gmm"))
        print(f"seed {s}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in rows.items()), flush=True)
    table = ["| model + sampler | FD on raw pixels vs test (lower is better) |", "|---|---|"]
    table += [f"| {k} | {_bench.mean_std(v)} |" for k, v in rows.items()]
    ok = bool(
        np.mean(rows["ae + gmm"]) < np.mean(rows["ae + N(0, I)"])
        and np.mean(rows["vae + gmm"]) < np.mean(rows["vae + prior"])
    )
    table.append(f"\nclaim holds (gmm beats N(0, I) for the AE and the prior for the VAE): {ok}")
    _bench.write_result(
        "claim_gmm_sampler", {"fd_pixels": rows, "claim_holds": ok}, "\n".join(table)
    )
    return rows


if __name__ == "__main__":
    main()
