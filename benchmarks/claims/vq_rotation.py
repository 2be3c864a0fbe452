"""Claim-check for the rotation trick (Fifty et al., "Restructuring Vector Quantization with
the Rotation Trick", ICLR 2025): passing gradients through the quantizer by a rotation and
rescaling instead of straight through gives lower reconstruction error, higher codebook usage
and lower quantization error.

Protocol GEN's VQ setup (see claims/_vq.py), seeds 0-2, 100 epochs; everything else at the
`vqvae` recipe's defaults (EMA, k-means init, dead-code restarts). Run twice: with the
recipe's affine output map and without it, because the gradient estimator interacts with it.

    python benchmarks/claims/vq_rotation.py [--seeds 0 1 2] [--epochs 100]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402
from _vq import fit_and_measure, summarize  # noqa: E402

VARIANTS = {
    "rotation trick (default)": {"gradient": "rotation"},
    "straight-through": {"gradient": "straight_through"},
    "rotation trick, no affine map": {"gradient": "rotation", "affine": False},
    "straight-through, no affine map": {"gradient": "straight_through", "affine": False},
}
KEYS = ["mse", "bce", "usage", "perplexity", "quant_error", "probe"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--report-only", action="store_true", help="re-render the saved results")
    args = p.parse_args()
    if args.report_only:
        saved = json.loads((_bench.RESULTS / "claim_vq_rotation.json").read_text())
        return report(saved["rows"], saved["seeds"], saved["epochs"])
    data = _bench.gen_digits()
    rows: dict[str, dict[str, list[float]]] = {}
    for name, variant in VARIANTS.items():
        for s in args.seeds:
            met = fit_and_measure(variant, s, args.epochs, data)
            for k, v in met.items():
                rows.setdefault(name, {}).setdefault(k, []).append(v)
            print(name, s, {k: round(v, 4) for k, v in met.items()}, flush=True)
    report(rows, args.seeds, args.epochs)


def report(rows: dict[str, dict[str, list[float]]], seeds: list[int], epochs: int) -> None:
    table = [
        f"Rotation trick vs straight-through, GEN VQ, seeds {seeds}, {epochs} epochs (test set; "
        "mean ± std)",
        "",
        *summarize(rows, KEYS, _bench.mean_std),
    ]
    verdict = {}
    for where, rot, ste in [
        ("with the affine map", "rotation trick (default)", "straight-through"),
        ("without it", "rotation trick, no affine map", "straight-through, no affine map"),
    ]:
        r, s = rows[rot], rows[ste]
        verdict[where] = {
            "lower MSE": bool(np.mean(r["mse"]) < np.mean(s["mse"])),
            "usage at least as high": bool(np.mean(r["usage"]) >= np.mean(s["usage"])),
            "lower quantization error": bool(np.mean(r["quant_error"]) < np.mean(s["quant_error"])),
        }
    table.append(
        "\nRotation trick vs straight-through: "
        + "; ".join(
            f"{where}: " + ", ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in v.items())
            for where, v in verdict.items()
        )
    )
    _bench.write_result(
        "claim_vq_rotation",
        {"seeds": seeds, "epochs": epochs, "rows": rows, "verdict": verdict},
        "\n".join(table),
    )


if __name__ == "__main__":
    main()
