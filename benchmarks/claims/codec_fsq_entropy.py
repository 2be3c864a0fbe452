"""Claim-check: entropy coding the codes of a quantized autoencoder (FSQ, Mentzer et al. 2024;
VQ-VAE; QLAE) with their training frequencies writes fewer bits than their fixed-length size
(P positions × log₂ K bits), at the very same reconstruction.

Protocol GEN's data (digits / 16, stratified 80/20 split), each recipe at its defaults
(100 epochs), seeds 0-2. Bits per test sample are counted from the range-coded streams
(``bottleneck.compress_latent``; the .aec container adds a fixed ~80 bytes per file, not per
sample); the decoded test set must equal ``reconstruct`` exactly.

    python benchmarks/claims/codec_fsq_entropy.py [--seeds 0 1 2] [--epochs 100]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402
import torch  # noqa: E402

import autoencoding as ae  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--recipes", nargs="+", default=["fsq", "vqvae", "qlae"])
    args = ap.parse_args()
    xtr, xte, _, _ = _bench.gen_digits()
    rows, out = [], {}
    for recipe in args.recipes:
        runs = []
        for seed in args.seeds:
            m = ae.fit(recipe, xtr, seed=seed, train={"epochs": args.epochs, "progress": False})
            b = m.module.bottleneck
            m.module.eval()
            with torch.no_grad():
                h = m.module.encoder(torch.from_numpy(xte))
                streams = b.compress_latent(h)
            coded = 8 * sum(len(s) for s in streams) / len(xte)
            fixed = b.n_positions * np.log2(b.codebook_size)
            exact = bool(np.array_equal(m.decompress(m.compress(xte)), m.reconstruct(xte)))
            runs.append({"seed": seed, "coded_bits": coded, "fixed_bits": fixed, "exact": exact})
        coded = np.array([r["coded_bits"] for r in runs])
        fixed = runs[0]["fixed_bits"]
        holds = bool((coded < fixed).all() and all(r["exact"] for r in runs))
        out[recipe] = {"runs": runs, "holds": holds}
        rows.append(
            f"| {recipe} | {coded.mean():.2f} ± {coded.std():.2f} | {fixed:.2f} | "
            f"{coded.mean() / fixed:.2f} | {all(r['exact'] for r in runs)} | {holds} |"
        )
    table = "\n".join(
        [
            f"Entropy-coded codes vs fixed-length (bits per test sample, digits, "
            f"{args.epochs} epochs, seeds {args.seeds})",
            "",
            "| recipe | range-coded | fixed length | ratio | decode == reconstruct | holds |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    _bench.write_result(
        "claim_codec_fsq_entropy",
        {"results": out, "claims_hold": all(v["holds"] for v in out.values())},
        table,
    )


if __name__ == "__main__":
    main()
