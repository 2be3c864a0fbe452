"""Claim-checks for the series recipes on protocol MASK-TS-PROBE's data (MNIST-1D, length 40):

- `patch-mae` (Nie et al., PatchTST, ICLR 2023, section 4.1 "representation learning"):
  masked patch pretraining without labels gives features that a linear probe classifies
  better than the raw series;
- `pits` (Lee et al., ICLR 2024, sections 4-5): embedding each patch independently with an
  MLP gives features as good as the patch transformer's for a fraction of the compute.

Data: ``_bench.mnist1d()`` (8000 / 2000). Both recipes at their defaults, seeds 0-2, 50
epochs; mean-pooled features (one D-vector per series). Figures: linear probes with all
labels and 10 per class, pretraining CPU seconds, the load average.

    python benchmarks/claims/patch_mae_pits.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001

from _masked import fit_probe, raw_probe, summarise  # noqa: E402


def main(seeds=(0, 1, 2), epochs=50) -> dict:
    data = _bench.mnist1d()
    rows = {}
    for recipe in ("patch-mae", "pits"):
        runs = [fit_probe(recipe, data, seed=s, epochs=epochs) for s in seeds]
        rows[recipe] = {"runs": runs, **summarise(runs)}
    raw = raw_probe(data)
    table = [
        "| features | probe all | probe 10/class | pretraining CPU s |",
        "|---|---|---|---|",
        f"| raw series | {raw['probe']:.3f} | {raw['probe10']:.3f} | — |",
    ]
    for name, r in rows.items():
        table.append(
            f"| {name} (mean-pooled) | {r['probe_mean']:.3f} ± {r['probe_mean_sd']:.3f} "
            f"| {r['probe10_mean']:.3f} ± {r['probe10_mean_sd']:.3f} | {r['cpu_s']:.0f} |"
        )
    pm, pits = rows["patch-mae"], rows["pits"]
    beats_raw = pm["probe_mean"] > raw["probe"] and pm["probe10_mean"] > raw["probe10"]
    cheap = pits["cpu_s"] < 0.5 * pm["cpu_s"]
    as_good = (pits["probe_mean"] + pits["probe10_mean"]) >= (
        pm["probe_mean"] + pm["probe10_mean"]
    ) - 0.02
    load = sum(r["load"] for r in pm["runs"]) / len(pm["runs"])
    table.append(
        f"\npatch-mae beats raw on both probes: {beats_raw}; pits within 0.01 of patch-mae "
        f"(mean of the two probes): {as_good}, at {pits['cpu_s'] / pm['cpu_s']:.2f}x its "
        f"CPU time (seeds {list(seeds)}, {epochs} epochs, load {load:.1f})"
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
