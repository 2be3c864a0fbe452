"""Claim-check for the TimeSeriesImputer's training masks (protocol MASK-TS-IMPUTE's data).

Claim (SAITS' masked imputation task, Du et al., ESWA 2023; the masked-modelling habit of
drawing training masks like the missingness to fill): a masked imputer trained with a mix of
MCAR entries and contiguous per-channel gaps fills 16-step gaps better than the same net
trained on MCAR masks only, and costs little or nothing at scattered (MCAR) missingness.

Data: ``benchmarks/ts_impute.py``'s Daphnet windows and test masks. Both arms:
``TimeSeriesImputer`` defaults, ``gap_share`` 0.5 (mixed) vs 0.0 (MCAR only), same seed.
Judged: gap MAE lower with the mix, and the mean MCAR MAE (10/30/50 %) no more than 0.01
worse.

    python benchmarks/claims/ts_gap_masks.py [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bench  # noqa: E402,I001
import numpy as np  # noqa: E402
from ts_impute import COLUMNS, protocol_data, run_ours, test_masks  # noqa: E402

ARMS = {"mcar + gaps (default)": {"gap_share": 0.5}, "mcar only": {"gap_share": 0.0}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = p.parse_args()
    data = protocol_data()
    rows: dict[str, list[dict]] = {a: [] for a in ARMS}
    for seed in args.seeds:
        masks = test_masks(data["test"], seed)
        for arm, params in ARMS.items():
            rows[arm].append({**run_ours(data, masks, seed, params), "load": os.getloadavg()})
            print(arm, seed, rows[arm][-1], flush=True)
    mean = {
        a: {c: float(np.mean([r["mae"][c] for r in rs])) for c in COLUMNS} for a, rs in rows.items()
    }
    table = [
        "| training masks | 10% | 30% | 50% | 16-step gap | fit CPU-s |",
        "|---|---|---|---|---|---|",
    ]
    for a, rs in rows.items():
        cpu = np.mean([r["fit_cpu_s"] for r in rs])
        table.append(
            f"| {a} | " + " | ".join(f"{mean[a][c]:.3f}" for c in COLUMNS) + f" | {cpu:.0f} |"
        )
    mix, mcar = mean["mcar + gaps (default)"], mean["mcar only"]
    gap_better = mix["gap16"] < mcar["gap16"]
    mcar_cols = ("mcar10", "mcar30", "mcar50")
    mcar_cost = float(np.mean([mix[c] - mcar[c] for c in mcar_cols]))
    ok = gap_better and mcar_cost <= 0.01
    loads = [r["load"][0] for rs in rows.values() for r in rs]
    table.append(
        f"\ngap MAE {mix['gap16']:.3f} (mix) vs {mcar['gap16']:.3f} (MCAR only): "
        f"lower {gap_better}; "
        f"MCAR columns' mean change {mcar_cost:+.3f} (<= +0.01: {mcar_cost <= 0.01}); seeds "
        f"{args.seeds}, load {min(loads):.1f}-{max(loads):.1f}\nclaim holds: {ok}"
    )
    _bench.write_result(
        "claim_ts_gap_masks",
        {"rows": rows, "mean": mean, "claim_holds": bool(ok)},
        "\n".join(table),
    )


if __name__ == "__main__":
    main()
