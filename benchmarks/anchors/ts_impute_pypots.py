"""Protocol MASK-TS-IMPUTE anchors from PyPOTS 1.5, run inside ``benchmarks/.venvs/pypots``.

    benchmarks/.venvs/pypots/bin/python benchmarks/anchors/ts_impute_pypots.py \\
        --data in.npz --out out.npz --seed 0 [--models brits saits transformer patchtst]

``in.npz`` (written by ``benchmarks/ts_impute.py``): ``train`` (complete training windows,
(n, 64, 9), z-units), ``val_x`` / ``val`` (validation windows with 30 % MCAR holes / complete)
and ``test_{mask}`` (test windows with each protocol mask's holes as NaN). Every model: 2
layers, width 64, <= 40 epochs, early-stopping patience 5 on the validation windows, PyPOTS'
defaults otherwise (MAE training loss, Adam). ``out.npz`` holds ``{model}_{mask}`` imputations
and ``times`` (JSON: fit CPU and wall seconds per model). Metrics: the caller's one function.
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

torch.set_num_threads(1)
warnings.filterwarnings("ignore")

COMMON = {"epochs": 40, "patience": 5, "batch_size": 32, "device": "cpu", "verbose": False}


def build(name: str, n_steps: int, n_features: int):
    from pypots.imputation import BRITS, SAITS, PatchTST, Transformer

    attn = {"n_layers": 2, "d_model": 64, "n_heads": 4, "d_k": 16, "d_v": 16, "d_ffn": 128}
    shape = {"n_steps": n_steps, "n_features": n_features}
    if name == "brits":
        return BRITS(**shape, rnn_hidden_size=64, **COMMON)
    if name == "saits":
        return SAITS(**shape, **attn, **COMMON)
    if name == "transformer":
        return Transformer(**shape, **attn, **COMMON)
    if name == "patchtst":
        return PatchTST(
            **shape, patch_size=8, patch_stride=8, dropout=0.0, attn_dropout=0.0, **attn, **COMMON
        )
    raise KeyError(name)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", nargs="+", default=["brits", "saits", "transformer", "patchtst"])
    args = p.parse_args()
    from pypots.utils.random import set_random_seed

    d = np.load(args.data)
    train, val_x, val = d["train"], d["val_x"], d["val"]
    tests = {k[len("test_") :]: d[k] for k in d.files if k.startswith("test_")}
    out, times = {}, {}
    for name in args.models:
        set_random_seed(args.seed)
        model = build(name, train.shape[1], train.shape[2])
        c0, w0 = time.process_time(), time.perf_counter()
        model.fit({"X": train}, {"X": val_x, "X_ori": val})
        times[name] = {
            "fit_cpu_s": time.process_time() - c0,
            "fit_wall_s": time.perf_counter() - w0,
        }
        for k, x in tests.items():
            out[f"{name}_{k}"] = np.asarray(model.predict({"X": x})["imputation"])
        print(name, times[name], flush=True)
    np.savez(args.out, times=json.dumps(times), **out)


if __name__ == "__main__":
    main()
