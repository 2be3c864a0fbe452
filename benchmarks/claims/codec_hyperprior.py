"""Claim-check: at equal λ and equal training steps, the scale hyperprior (Ballé et al. 2018)
and the mean-scale hyperprior (Minnen et al. 2018) reach a lower rate–distortion cost than the
factorized prior — the side information about each position's scale pays for itself.

Data: CODEC-IMG's training patches (a subset) and its 4 test images (see ``codec_img.py``).
Each recipe at its defaults with λ = 0.013, the same number of epochs and seed. Metric on the
test images, from the bytes written: bpp, PSNR, and the training objective's value
J = λ·255²·MSE + bpp (lower is better).

Patches are 128 pixels a side (a 64-pixel patch gives the hyperprior a 1x1 side latent that
does not carry over to whole images; see ``parts/hyperprior.py``), batch 4.

    python benchmarks/claims/codec_hyperprior.py [--patches 750] [--epochs 6] [--seeds 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402
from codec_img import ours_point, test_images, training_patches  # noqa: E402

import autoencoding as ae  # noqa: E402

LMBDA = 0.013


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patches", type=int, default=750)
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    patches = training_patches(args.patches, size=args.patch)
    tests = test_images()
    out, rows = {}, []
    for recipe in ("bmshj-factorized", "bmshj-hyperprior", "mbt-mean-scale"):
        runs = []
        for seed in args.seeds:
            c0 = time.process_time()
            train = {"epochs": args.epochs, "batch_size": args.batch, "progress": False,
                     "val_fraction": 0.0}  # fmt: skip
            m = ae.fit(recipe, patches, seed=seed, train=train)
            cpu = time.process_time() - c0
            pts = [ours_point(m, img) for img in tests.values()]
            bpp = float(np.mean([p[0] for p in pts]))
            # MSE from PSNR on 8-bit pixels: J = λ·255²·MSE + bpp with MSE in [0, 1] units
            mse = float(np.mean([10 ** (-p[1] / 10) for p in pts]))
            psnr = float(np.mean([p[1] for p in pts]))
            runs.append({"seed": seed, "bpp": bpp, "psnr": psnr, "J": LMBDA * 255**2 * mse + bpp,
                         "train_cpu_s": cpu})  # fmt: skip
        out[recipe] = runs
        j = np.mean([r["J"] for r in runs])
        rows.append(
            f"| {recipe} | {np.mean([r['bpp'] for r in runs]):.3f} | "
            f"{np.mean([r['psnr'] for r in runs]):.2f} | {j:.3f} | "
            f"{np.mean([r['train_cpu_s'] for r in runs]):.0f} |"
        )
    jf = np.mean([r["J"] for r in out["bmshj-factorized"]])
    holds = all(
        np.mean([r["J"] for r in out[k]]) < jf for k in ("bmshj-hyperprior", "mbt-mean-scale")
    )
    table = "\n".join(
        [
            f"Hyperprior vs factorized prior at λ = {LMBDA} ({args.patches} patches of "
            f"{args.patch}x{args.patch}, batch {args.batch}, "
            f"{args.epochs} epochs, seeds {args.seeds}); claim holds: {holds}",
            "",
            "| recipe | bpp (bytes) | PSNR dB | J = λ·255²·MSE + bpp | train CPU s |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    _bench.write_result("claim_codec_hyperprior", {"results": out, "claims_hold": holds}, table)


if __name__ == "__main__":
    main()
