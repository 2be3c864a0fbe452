"""Claim-checks for the series recipes on protocol MASK-TS-PROBE's data (MNIST-1D, length 40):

- `patch-mae` (Nie et al., PatchTST, ICLR 2023, section 4.1 "representation learning"):
  masked patch pretraining without labels gives features that a linear probe classifies
  better than the raw series;
- `pits` (Lee et al., ICLR 2024, sections 4-5): embedding each patch independently with an
  MLP gives features as good as the patch transformer's for a fraction of the compute.

Data: ``_bench.mnist1d()`` (8000 / 2000). Both recipes at their defaults, seeds 0-2, 50
epochs; features pooled by the recipes' default ``meanmax`` (judged) and by ``mean``.
Figures: linear probes with all labels and 10 per class, pretraining CPU seconds, the load
average.

    python benchmarks/claims/patch_mae_pits.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001

from _masked import fit_probe, raw_probe, summarise  # noqa: E402

POOLS = ("meanmax", "mean")


def main(seeds=(0, 1, 2), epochs=50) -> dict:
    data = _bench.mnist1d()
    rows = {}
    for recipe in ("patch-mae", "pits"):
        runs = [fit_probe(recipe, data, seed=s, epochs=epochs, pools=POOLS) for s in seeds]
        rows[recipe] = {"runs": runs, **summarise(runs)}
    raw = raw_probe(data)
    table = [
        "| features | probe all | probe 10/class | pretraining CPU s |",
        "|---|---|---|---|",
        f"| raw series | {raw['probe']:.3f} | {raw['probe10']:.3f} | — |",
    ]
    for name, r in rows.items():
        for pool in POOLS:
            a, f = f"probe_{pool}", f"probe10_{pool}"
            table.append(
                f"| {name} ({pool}) | {r[a]:.3f} ± {r[a + '_sd']:.3f} "
                f"| {r[f]:.3f} ± {r[f + '_sd']:.3f} | {r['cpu_s']:.0f} |"
            )
    pm, pits = rows["patch-mae"], rows["pits"]
    a, f = "probe_meanmax", "probe10_meanmax"  # the recipes' default pool
    beats_raw = pm[a] > raw["probe"] and pm[f] > raw["probe10"]
    cheap = pits["cpu_s"] < 0.5 * pm["cpu_s"]
    as_good = (pits[a] + pits[f]) >= (pm[a] + pm[f]) - 0.02
    load = sum(r["load"] for r in pm["runs"]) / len(pm["runs"])
    table.append(
        f"\npatch-mae (meanmax) beats raw on both probes: {beats_raw}; pits within 0.01 of "
        f"patch-mae (mean of the two probes): {as_good}, at {pits['cpu_s'] / pm['cpu_s']:.2f}x "
        f"its CPU time (< 0.5: {cheap}; seeds {list(seeds)}, {epochs} epochs, load {load:.1f})"
    )
    ok = beats_raw and cheap and as_good
    table.append(f"claims hold: {ok}")
    _bench.write_result(
        "claim_patch_mae_pits",
        {"rows": rows, "raw": raw, "claim_holds": bool(ok)},
        "\n".join(table),
    )
    return rows


if __name__ == "__main__":
    main()
