"""Claim-check for `mae`'s per-patch normalised targets (``norm_pix``; He et al. 2022,
section 3 "Reconstruction target" and Table 1c): predicting each hidden patch standardised
to zero mean and unit variance gives better features than predicting raw pixels.

Data: protocol MASK-IMG-PROBE (digits 16×16, patch 4). The `mae` recipe with reconstruction
``patch-mse`` ``norm_pix`` false / true; seeds 0-2, 50 epochs. Figures: linear probes on
mean-pooled and flattened tokens, all labels and 10 per class.

    python benchmarks/claims/mae_norm_pix.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001

from _masked import fit_probe, raw_probe, summarise  # noqa: E402

POOLS = ("mean", "flatten")
PROBES = ("probe_mean", "probe10_mean", "probe_flatten", "probe10_flatten")


def main(seeds=(0, 1, 2), epochs=50) -> dict:
    data = _bench.digits16()
    rows = {}
    for norm in (False, True):
        model = {"reconstruction": {"name": "patch-mse", "norm_pix": norm}}
        runs = [
            fit_probe("mae", data, seed=s, epochs=epochs, model=model, pools=POOLS) for s in seeds
        ]
        rows[f"norm_pix={norm}"] = {"runs": runs, **summarise(runs)}
    raw = raw_probe(data)
    table = [
        "| target | probe all (mean / flatten) | probe 10/class (mean / flatten) |",
        "|---|---|---|",
        f"| raw pixels (no model) | {raw['probe']:.3f} | {raw['probe10']:.3f} |",
    ]
    for name, r in rows.items():
        table.append(
            f"| {name} | {r['probe_mean']:.3f} / {r['probe_flatten']:.3f} "
            f"| {r['probe10_mean']:.3f} / {r['probe10_flatten']:.3f} |"
        )
    on, off = rows["norm_pix=True"], rows["norm_pix=False"]
    gain = {k: on[k] - off[k] for k in PROBES}
    ok = sum(v > 0 for v in gain.values()) >= 3 and sum(gain.values()) > 0
    table.append(f"\nnorm_pix gain per probe: {gain} (seeds {list(seeds)}, {epochs} epochs)")
    table.append(f"claim holds (norm_pix better on at least 3 of the 4 probes): {ok}")
    _bench.write_result(
        "claim_mae_norm_pix", {"rows": rows, "raw": raw, "claim_holds": bool(ok)}, "\n".join(table)
    )
    return rows


if __name__ == "__main__":
    main()
