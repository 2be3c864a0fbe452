"""Claim-check for `autoencoding.interp.load_external`: SAEs saved by SAELens and by sparsify
load as our model with the library's own encode and decode maths — our latents and
reconstructions match the library's forward to ~1e-5.

Each library (in its own venv, benchmarks/anchors/sae_export_check.py) saves real SAEs:
SAELens TopK (trained by its SAETrainer, decoder norms folded on save), TopK without the
decoder-norm rescaling, standard ReLU with ``apply_b_dec_to_input=False``, JumpReLU, and a
BatchTopK both as served (JumpReLU) and as a training checkpoint; sparsify a TopK SAE and a
run folder written by its Trainer. Weights are perturbed so decoder rows have unequal norms
and every bias and threshold matters. The library reloads each folder with its own loader and
records its latents and reconstruction on 512 fixed rows; we load the same folder with
``load_external`` and compare. Passes when, in every case, max |Δz| and max |Δx̂| are at most
1e-5 · max(1, max |x̂|).

    python benchmarks/claims/external_sae.py                 # every library whose venv exists
    python benchmarks/claims/external_sae.py --anchors sparsify

Venvs: ``bash benchmarks/setup_sae_anchors.sh``. Results: benchmarks/results/claim_external_sae.*
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bench  # noqa: E402,I001
import _sae_anchors as A  # noqa: E402

import numpy as np  # noqa: E402

from autoencoding.interp import load_external  # noqa: E402

TOL = 1e-5


def main(anchors=None) -> dict:
    names = A.select_anchors(anchors)
    work = A.TMP / "claim_external_sae"
    work.mkdir(parents=True, exist_ok=True)
    x = (np.random.default_rng(0).normal(size=(512, 48)) * 1.5).astype(np.float32)
    np.save(work / "x.npy", x)
    rows, results = [], {}
    for name in names:
        out = work / name
        cmd = [
            str(A.venv_python(name)),
            str(A.ROOT / "anchors" / "sae_export_check.py"),
            "--library",
            name,
            "--x",
            str(work / "x.npy"),
            "--out",
            str(out),
        ]
        with open(work / f"{name}.log", "w") as log:
            subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True)
        doc = json.loads((out / "cases.json").read_text())
        for case in doc["cases"]:
            ref = np.load(out / f"{case['case']}.npz")
            model = load_external(out / case["folder"])
            dz = float(np.abs(model.encode(x) - ref["z"]).max())
            dx = float(np.abs(model.reconstruct(x) - ref["xhat"]).max())
            bound = TOL * max(1.0, float(np.abs(ref["xhat"]).max()))
            ok = dz <= bound and dx <= bound
            key = f"{name}/{case['case']}"
            results[key] = {
                "library_version": doc["version"],
                "note": case["note"],
                "decoder": model.config.decoder["name"],
                "bottleneck": model.config.bottleneck["name"],
                "max_abs_dz": dz,
                "max_abs_dxhat": dx,
                "bound": bound,
                "ok": ok,
            }
            rows.append(
                f"| {name} {doc['version']} | {case['case']} | {case['note']} | "
                f"{model.config.bottleneck['name']} + {model.config.decoder['name']} | "
                f"{dz:.1e} | {dx:.1e} | {'yes' if ok else 'NO'} |"
            )
    holds = bool(results) and all(r["ok"] for r in results.values())
    table = [
        "| library | case | what | our bottleneck + decoder | max abs Δz | max abs Δx̂ | within "
        "1e-5 |",
        "|---|---|---|---|---|---|---|",
        *rows,
        f"\nclaim holds (every case within 1e-5 · max(1, max |x̂|)): {holds}"
        + ("" if results else " — no library venv found"),
    ]
    _bench.write_result(
        "claim_external_sae", {"cases": results, "claim_holds": holds}, "\n".join(table)
    )
    return results


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    A.add_anchors_argument(p)
    main(p.parse_args().anchors)
