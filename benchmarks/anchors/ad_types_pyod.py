"""Protocol AD-TYPES anchors: PyOD 3.6.7's ECOD, IForest, KNN, LOF, AutoEncoder and VAE at their
defaults, run inside ``benchmarks/.venvs/pyod``.

    benchmarks/.venvs/pyod/bin/python benchmarks/anchors/ad_types_pyod.py --data in.npz --out out.json

``in.npz`` holds ``{table}-{kind}_{seed}`` arrays (standardized X, written by
``benchmarks/ad_types.py``). The models and the timing are protocol AD's (``ad_pyod.py``: same
versions, seeds, warm-up) plus LOF; per model, array and seed the script writes the training
rows' outlier scores and the fit+score wall and CPU seconds. Metrics are computed by the caller.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ad_pyod  # noqa: E402,I001  (sets the thread limits before torch)

import numpy as np  # noqa: E402


def models(seed: int) -> dict:
    from pyod.models.lof import LOF

    return {**ad_pyod.models(seed), "pyod_lof": lambda: LOF()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    import pyod

    data = np.load(args.data)
    keys = sorted(data.files)
    for make in models(0).values():  # numba compilation and lazy imports, not timed
        make().fit(data[keys[0]])
    results: dict = {"library": "pyod", "version": pyod.__version__, "runs": []}
    for key in keys:
        name, seed = key.rsplit("_", 1)
        x = data[key]
        for model, make in models(int(seed)).items():
            t0, c0 = time.perf_counter(), time.process_time()
            det = make().fit(x)
            scores = np.asarray(det.decision_scores_, dtype=np.float64)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            results["runs"].append(
                {
                    "model": model,
                    "dataset": name,
                    "seed": int(seed),
                    "seconds": seconds,
                    "cpu_seconds": cpu,
                    "scores": scores.tolist(),
                }
            )
            print(f"{model} {name} seed {seed}: {seconds:.2f}s", flush=True)
    with open(args.out, "w") as fh:
        json.dump(results, fh)


if __name__ == "__main__":
    main()
