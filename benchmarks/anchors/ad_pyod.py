"""Protocol AD anchors from PyOD 3.6.7, run inside ``benchmarks/.venvs/pyod``.

    benchmarks/.venvs/pyod/bin/python benchmarks/anchors/ad_pyod.py --data in.npz --out out.json

``in.npz`` holds ``{dataset}_{seed}`` arrays (standardized X, written by ``benchmarks/ad.py``);
the script fits every model with its defaults on each array and writes, per model, dataset and
seed, the training rows' outlier scores (``decision_scores_``) and the fit+score wall time.
Metrics are computed by the caller with the shared function. PyOD's deep detectors reseed the
global RNGs from ``random_state`` when built (we pass the protocol's seed), and its first
scoring call compiles numba code for ~13 s: every model is warmed up once before timing.
"""

from __future__ import annotations

import os

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

torch.set_num_threads(1)
threadpool_limits(1)
warnings.filterwarnings("ignore")


def models(seed: int) -> dict:
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.vae import VAE

    return {
        "pyod_autoencoder": lambda: AutoEncoder(random_state=seed, verbose=0),
        "pyod_vae": lambda: VAE(random_state=seed, verbose=0),
        "pyod_iforest": lambda: IForest(random_state=seed),
        "pyod_ecod": lambda: ECOD(),
        "pyod_knn": lambda: KNN(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    import pyod

    data = np.load(args.data)
    keys = sorted(data.files)
    warm = data[keys[0]]
    for make in models(0).values():  # numba compilation and lazy imports, not timed
        make().fit(warm)
    results: dict = {"library": "pyod", "version": pyod.__version__, "runs": []}
    for key in keys:
        name, seed = key.rsplit("_", 1)
        x = data[key]
        for model, make in models(int(seed)).items():
            t0 = time.perf_counter()
            det = make().fit(x)
            scores = np.asarray(det.decision_scores_, dtype=np.float64)
            seconds = time.perf_counter() - t0
            results["runs"].append(
                {
                    "model": model,
                    "dataset": name,
                    "seed": int(seed),
                    "seconds": seconds,
                    "scores": scores.tolist(),
                }
            )
            print(f"{model} {name} seed {seed}: {seconds:.2f}s", flush=True)
    with open(args.out, "w") as fh:
        json.dump(results, fh)


if __name__ == "__main__":
    main()
