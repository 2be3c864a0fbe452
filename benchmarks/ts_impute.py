"""Protocol MASK-TS-IMPUTE: multivariate time-series imputation on aeon's Daphnet_S06R02E0.

    .venv/bin/python benchmarks/ts_impute.py                 # 3 seeds, ours + linear + PyPOTS
    .venv/bin/python benchmarks/ts_impute.py --seeds 0 --no-anchors
    bash benchmarks/setup_ts_anchors.sh                      # the PyPOTS venv, once

Data (issue 12): aeon's shipped ``Daphnet_S06R02E0`` (7040 steps, 9 accelerometer channels),
chronological split 60/10/30, per-channel z-score with the train statistics, windows of 64
steps (train stride 4; validation and test windows do not overlap). Test masks per seed:
MCAR 10 / 30 / 50 % and one 16-step gap per window and channel. Metric: mean absolute error on
the masked entries, in z-units (one function, :func:`masked_mae`, for every method).

Methods side by side in one run, same arrays and masks: linear interpolation, our
``TimeSeriesImputer`` and the PyPOTS anchors BRITS, SAITS, Transformer and PatchTST (2 layers,
width 64, <= 40 epochs, early-stopping patience 5, trained on the complete training windows,
validated at 30 % MCAR), which run in their own venv (``anchors/ts_impute_pypots.py``).
Anchor results are cached per seed in ``results/cache/ts_impute/`` (git-ignored) keyed by the
data's hash; ``--fresh-anchors`` reruns them. Fit times are CPU seconds of one thread.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import _bench  # noqa: E402,I001  (threads: must come before torch)
import numpy as np  # noqa: E402

from autoencoding.data.series import daphnet  # noqa: E402
from autoencoding.estimators.series_imputer import TimeSeriesImputer  # noqa: E402
from autoencoding.estimators.series_net import interpolate  # noqa: E402

WINDOW, TRAIN_STRIDE, GAP = 64, 4, 16
RATES = (0.1, 0.3, 0.5)
COLUMNS = ("mcar10", "mcar30", "mcar50", "gap16")
ANCHORS = ("brits", "saits", "transformer", "patchtst")
PYPOTS = _bench.ROOT / ".venvs" / "pypots" / "bin" / "python"
CACHE = _bench.RESULTS / "cache" / "ts_impute"


def protocol_data() -> dict[str, np.ndarray]:
    """Train (stride 4), validation and test windows (n, 64, 9) in train z-units."""
    x = daphnet()
    n = len(x)
    a, b = int(0.6 * n), int(0.7 * n)
    mu, sd = x[:a].mean(0), x[:a].std(0)
    sd[sd < 1e-8] = 1.0
    z = (x - mu) / sd

    def cut(part: np.ndarray, stride: int) -> np.ndarray:
        starts = range(0, len(part) - WINDOW + 1, stride)
        return np.stack([part[s : s + WINDOW] for s in starts]).astype(np.float32)

    return {
        "train": cut(z[:a], TRAIN_STRIDE),
        "val": cut(z[a:b], WINDOW),
        "test": cut(z[b:], WINDOW),
    }


def test_masks(test: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Hidden entries (True) of the test windows: MCAR at each rate, one 16-step gap per
    window and channel."""
    rng = np.random.default_rng(seed)
    masks = {f"mcar{int(r * 100)}": rng.random(test.shape) < r for r in RATES}
    n, length, c = test.shape
    start = rng.integers(0, length - GAP + 1, size=(n, 1, c))
    t = np.arange(length)[None, :, None]
    masks["gap16"] = (t >= start) & (t < start + GAP)
    return masks


def val_mask(val: np.ndarray) -> np.ndarray:
    """30 % MCAR on the validation windows (seed 1234), used by the anchors' early stopping."""
    return np.random.default_rng(1234).random(val.shape) < 0.3


def masked_mae(pred: np.ndarray, truth: np.ndarray, hidden: np.ndarray) -> float:
    """Mean absolute error on the hidden entries (z-units): the protocol's one metric."""
    return float(np.abs(pred[hidden] - truth[hidden]).mean())


def linear(x: np.ndarray) -> np.ndarray:
    """Linear interpolation along time per window and channel (nearest at the ends)."""
    import torch

    t = torch.from_numpy(np.nan_to_num(x).transpose(0, 2, 1).copy())
    vis = torch.from_numpy(~np.isnan(x).transpose(0, 2, 1).copy())
    return interpolate(t, vis).numpy().transpose(0, 2, 1)


def run_ours(data, masks, seed: int, params: dict) -> dict:
    c0, w0 = time.process_time(), time.perf_counter()
    imp = TimeSeriesImputer(random_state=seed, **params).fit(data["train"])
    fit_cpu, fit_wall = time.process_time() - c0, time.perf_counter() - w0
    scores = {}
    for name, hidden in masks.items():
        holes = np.where(hidden, np.nan, data["test"])
        scores[name] = masked_mae(imp.transform(holes), data["test"], hidden)
    return {"mae": scores, "fit_cpu_s": fit_cpu, "fit_wall_s": fit_wall}


def run_anchors(data, masks, seed: int, fresh: bool) -> dict:
    """PyPOTS results for one seed: from the cache, or run in the pypots venv and cached."""
    key = hashlib.sha1(
        b"".join(np.ascontiguousarray(a).tobytes() for a in (data["train"], *masks.values()))
    ).hexdigest()[:12]
    path = CACHE / f"seed{seed}_{key}.json"
    if path.exists() and not fresh:
        out = json.loads(path.read_text())
        out["from_cache"] = str(path.relative_to(_bench.ROOT))
        return out
    if not PYPOTS.exists():
        print(f"skipping PyPOTS: {PYPOTS} not found (bash benchmarks/setup_ts_anchors.sh)")
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        inp, res = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        vm = val_mask(data["val"])
        np.savez(
            inp,
            train=data["train"],
            val_x=np.where(vm, np.nan, data["val"]),
            val=data["val"],
            **{f"test_{k}": np.where(m, np.nan, data["test"]) for k, m in masks.items()},
        )
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        driver = _bench.ROOT / "anchors" / "ts_impute_pypots.py"
        cmd = [str(PYPOTS), str(driver), "--data", str(inp), "--out", str(res)]
        subprocess.run([*cmd, "--seed", str(seed)], check=True, env=env)
        got = np.load(res)
        times = json.loads(str(got["times"]))
        out = {}
        for m in ANCHORS:
            out[m] = {
                "mae": {k: masked_mae(got[f"{m}_{k}"], data["test"], h) for k, h in masks.items()},
                **times[m],
            }
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    return out


def table(rows: dict[str, list[dict]]) -> str:
    lines = [
        "| method | 10% | 30% | 50% | 16-step gap | fit CPU-s | fit wall-s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in rows.items():
        if not runs:
            continue
        cells = [_bench.mean_std([r["mae"][c] for r in runs]) for c in COLUMNS]
        cpu = _bench.mean_std([r.get("fit_cpu_s", 0.0) for r in runs])
        wall = _bench.mean_std([r.get("fit_wall_s", 0.0) for r in runs])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {cpu} | {wall} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--no-anchors", action="store_true", help="skip PyPOTS")
    p.add_argument("--fresh-anchors", action="store_true", help="ignore the anchor cache")
    p.add_argument("--params", default="{}", help="JSON overrides of TimeSeriesImputer")
    args = p.parse_args()
    params = json.loads(args.params)
    data = protocol_data()
    print({k: v.shape for k, v in data.items()}, "load", os.getloadavg())
    rows: dict[str, list[dict]] = {"linear interpolation": [], "ours (TimeSeriesImputer)": []}
    rows.update({f"PyPOTS {m}": [] for m in ANCHORS})
    loads, cached = [], []
    for seed in args.seeds:
        masks = test_masks(data["test"], seed)
        rows["linear interpolation"].append(
            {
                "mae": {
                    k: masked_mae(linear(np.where(h, np.nan, data["test"])), data["test"], h)
                    for k, h in masks.items()
                }
            }
        )
        ours = run_ours(data, masks, seed, params)
        rows["ours (TimeSeriesImputer)"].append(ours)
        print(f"seed {seed} ours", ours, flush=True)
        if not args.no_anchors:
            anchors = run_anchors(data, masks, seed, args.fresh_anchors)
            for m, r in anchors.items():
                if m in ANCHORS:
                    rows[f"PyPOTS {m}"].append(r)
            if "from_cache" in anchors:
                cached.append(anchors["from_cache"])
            print(f"seed {seed} anchors", anchors, flush=True)
        loads.append(os.getloadavg())
    md = table(rows)
    best = {
        c: min(
            (
                np.mean([r["mae"][c] for r in runs])
                for n, runs in rows.items()
                if "PyPOTS" in n and runs
            ),
            default=float("nan"),
        )
        for c in COLUMNS
    }
    ours_mean = {
        c: float(np.mean([r["mae"][c] for r in rows["ours (TimeSeriesImputer)"]])) for c in COLUMNS
    }
    saits = rows.get("PyPOTS saits") or []
    saits_cpu = float(np.mean([r["fit_cpu_s"] for r in saits])) if saits else float("nan")
    ours_cpu = float(np.mean([r["fit_cpu_s"] for r in rows["ours (TimeSeriesImputer)"]]))
    verdict = {
        "beats_best_anchor": {c: bool(ours_mean[c] <= best[c]) for c in COLUMNS},
        "cpu_ratio_to_saits": ours_cpu / saits_cpu if saits else None,
    }
    md += (
        f"\n\nours / SAITS fit CPU: {verdict['cpu_ratio_to_saits']}; "
        f"ours <= best anchor: {verdict['beats_best_anchor']}"
    )
    if cached:
        md += f"\n\nanchor figures from the cache: {cached}"
    _bench.write_result(
        "ts_impute",
        {
            "seeds": args.seeds,
            "params": params,
            "rows": rows,
            "verdict": verdict,
            "loadavg": loads,
            "anchor_cache": cached,
        },
        md,
    )


if __name__ == "__main__":
    main()
