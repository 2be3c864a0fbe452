"""Protocol GEN, VQ part (shared/BENCHMARKS.md): our `vqvae` side by side with pythae's VQVAE
(its default quantizer and its EMA one), `autoencoders`' VQ-VAE and vector-quantize-pytorch
wrapped in the same MLP — same data, split, nets and seeds, one metric function for all.

Nets: encoder MLP 64-256-256-64 (ReLU) → 4 vectors of 16, one shared codebook of 128 codes,
commitment 0.25, mirrored decoder with a sigmoid (Bernoulli-mean) output, batch 64, Adam 1e-3,
100 epochs. Ours runs with the `vqvae` recipe's defaults otherwise (Bernoulli likelihood; EMA
codebook, k-means init, dead-code restarts, rotation trick, affine output map; the trainer's
warmup-stable-decay schedule at peak 1e-3); each anchor keeps its library's own loss and
quantizer defaults (see anchors/README.md and anchors/gen_vector_quantize.py). The anchors
run in their own virtual environments (`bash benchmarks/setup_anchors.sh`); a missing one is
skipped with a message. Timings are per-epoch training time, as ratios to ours in this run.

    python benchmarks/gen_vq.py                       # seeds 0 1 2, 100 epochs
    python benchmarks/gen_vq.py --seeds 0 --epochs 20 --no-anchors
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402

import autoencoding as ae  # noqa: E402
from autoencoding.evaluate.metrics import linear_probe  # noqa: E402

CODEBOOK_SIZE = 128
# name shown -> (venv, runner script, --model)
ANCHORS = {
    "pythae": ("pythae", "gen_pythae.py", "vqvae"),
    "pythae-ema": ("pythae", "gen_pythae.py", "vqvae-ema"),
    "autoencoders": ("autoencoders", "gen_autoencoders.py", "vqvae"),
    "vector-quantize-pytorch": ("autoencoders", "gen_vector_quantize.py", "vqvae"),
}
OURS = {
    "latent_dim": 64,
    "encoder": {"name": "mlp", "hidden": [256, 256]},
    "bottleneck": {"name": "vq", "dim": 16, "codebook_size": CODEBOOK_SIZE, "commitment": 0.25},
}


def vq_metrics(a: dict[str, np.ndarray], x_test, y_train, y_test) -> dict[str, float]:
    """The one metric function: every library's arrays go through it."""
    p = np.clip(a["xhat_mean"].astype(np.float64), 1e-7, 1 - 1e-7)
    x = x_test.astype(np.float64)
    counts = np.bincount(a["codes"].reshape(-1), minlength=CODEBOOK_SIZE).astype(np.float64)
    freq = counts[counts > 0] / counts.sum()
    train_counts = np.bincount(a["codes_train"].reshape(-1), minlength=CODEBOOK_SIZE)
    return {
        "mse": float(((a["xhat_mean"] - x_test) ** 2).mean()),
        "bce": float(-(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1).mean()),
        "usage": float((counts > 0).mean()),
        "usage_train": float((train_counts > 0).mean()),
        "perplexity": float(np.exp(-(freq * np.log(freq)).sum())),
        "probe": linear_probe(a["z_train"], y_train, a["z_test"], y_test),
    }


def run_ours(seed: int, epochs: int, xtr, xte) -> tuple[dict[str, np.ndarray], float]:
    m = ae.fit(
        "vqvae",
        xtr,
        seed=seed,
        scaling="none",
        model=OURS,
        train={
            "epochs": epochs,
            "batch_size": 64,
            "lr": 1e-3,
            "val_fraction": 0,
            "progress": False,
        },
    )
    s_per_epoch = float(np.mean([h["seconds"] for h in m.history]))
    arrays = {
        "xhat_mean": m.reconstruct(xte),
        "codes": m.encode(xte, codes=True),
        "codes_train": m.encode(xtr, codes=True),
        "z_test": m.encode(xte),
        "z_train": m.encode(xtr),
    }
    return arrays, s_per_epoch


def run_anchor(name: str, seed: int, epochs: int) -> tuple[dict[str, np.ndarray], float] | None:
    venv, script, model = ANCHORS[name]
    py = _bench.ROOT / ".venvs" / venv / "bin" / "python"
    if not py.exists():
        print(f"[{name}] skipped: no venv at {py} (run bash benchmarks/setup_anchors.sh {venv})")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [
            str(py),
            str(_bench.ROOT / "anchors" / script),
            "--model",
            model,
            "--seed",
            str(seed),
            "--epochs",
            str(epochs),
            "--out",
            str(out),
        ]
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            print(f"[{name}] failed (exit {done.returncode}): {done.stderr[-2000:]}")
            return None
        meta = json.loads(out.read_text())
        arrays = dict(np.load(out.with_suffix(".npz")))
    return arrays, float(meta["s_per_epoch"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--no-anchors", action="store_true")
    args = p.parse_args()
    xtr, xte, ytr, yte = _bench.gen_digits()
    libs = ["autoencoding"] + ([] if args.no_anchors else list(ANCHORS))
    res: dict[str, dict[str, list]] = {lib: {} for lib in libs}
    for seed in args.seeds:
        for lib in libs:
            got = (
                run_ours(seed, args.epochs, xtr, xte)
                if lib == "autoencoding"
                else run_anchor(lib, seed, args.epochs)
            )
            if got is None:
                continue
            arrays, spe = got
            met = vq_metrics(arrays, xte, ytr, yte)
            met["s_per_epoch"] = spe
            for k, v in met.items():
                res[lib].setdefault(k, []).append(v)
            print(
                f"seed {seed} {lib:24s} " + " ".join(f"{k}={v:.4g}" for k, v in met.items()),
                flush=True,
            )
    res = {k: v for k, v in res.items() if v}
    ours_t = np.mean(res["autoencoding"]["s_per_epoch"])
    keys = ["mse", "bce", "usage", "perplexity", "probe", "s_per_epoch"]
    table = [
        f"GEN VQ, seeds {args.seeds}, {args.epochs} epochs (mean ± std over seeds; usage "
        f"and perplexity from the test codes)",
        "",
        "| library | " + " | ".join(keys) + " | min usage | s/epoch ÷ ours |",
        "|---|" + "---|" * (len(keys) + 2),
    ]
    for lib, met in res.items():
        ratio = np.mean(met["s_per_epoch"]) / ours_t
        table.append(
            f"| {lib} | "
            + " | ".join(_bench.mean_std(met[k]) for k in keys)
            + f" | {min(met['usage']):.3f} | {ratio:.2f} |"
        )
    ours = res["autoencoding"]
    t_vqt = res.get("vector-quantize-pytorch", {}).get("s_per_epoch")
    table.append(
        f"\nTargets: MSE ≤ 0.0136: {np.mean(ours['mse']):.4f} "
        f"({'met' if np.mean(ours['mse']) <= 0.0136 else 'missed'}); usage ≥ 0.95 on every seed: "
        f"{min(ours['usage']):.3f} ({'met' if min(ours['usage']) >= 0.95 else 'missed'})"
        + (
            f"; s/epoch ≤ vector-quantize-pytorch's: {ours_t:.3f} vs {np.mean(t_vqt):.3f} "
            f"({'met' if ours_t <= np.mean(t_vqt) else 'missed'})"
            if t_vqt
            else ""
        )
    )
    _bench.write_result(
        "gen_vq", {"seeds": args.seeds, "epochs": args.epochs, "results": res}, "\n".join(table)
    )


if __name__ == "__main__":
    main()
