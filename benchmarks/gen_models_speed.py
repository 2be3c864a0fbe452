"""Protocol GEN per-epoch time of ``wae``, ``rae``, ``iwae`` and ``vamp`` side by side with
pythae's WAE_MMD, RAE_L2, IWAE (k = 10) and VAMP (50 components): same data, nets
(64-256-256-8), batch 64 and epochs; one thread each, run one after the other.

Ours trains with its recipe defaults (``wae`` on autograd; ``rae``, ``iwae`` and ``vamp`` on
the hand-written step, ``train/fast/mlp_generative.py``); pythae through its BaseTrainer
(anchors/gen_pythae.py, whose per-epoch time wraps the training step as for the VAE). Wall
and CPU seconds per epoch are means over the epochs; the load average is read before each
run (other jobs on the machine inflate wall time, not CPU time). The pythae column needs
its venv (bash benchmarks/setup_anchors.sh pythae); without it only ours is timed.

    python benchmarks/gen_models_speed.py                  # seed 0, 100 epochs
    python benchmarks/gen_models_speed.py --seeds 0 1 2 --epochs 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402

import autoencoding as ae  # noqa: E402

MODELS = ["wae", "rae", "iwae", "vamp"]
NETS = {"latent_dim": 8, "encoder": {"name": "mlp", "hidden": [256, 256]}}


def ours(recipe: str, seed: int, epochs: int, xtr) -> tuple[float, float]:
    m = ae.fit(recipe, xtr, seed=seed, scaling="none", model=NETS,
               train={"epochs": epochs, "batch_size": 64, "val_fraction": 0,
                      "progress": False})  # fmt: skip
    return (float(np.mean([h["seconds"] for h in m.history])),
            float(np.mean([h["cpu_seconds"] for h in m.history])))  # fmt: skip


def pythae(model: str, seed: int, epochs: int) -> tuple[float, float] | None:
    py = _bench.ROOT / ".venvs" / "pythae" / "bin" / "python"
    if not py.exists():
        print(f"[pythae] skipped: no venv at {py} (bash benchmarks/setup_anchors.sh pythae)")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [str(py), str(_bench.ROOT / "anchors" / "gen_pythae.py"), "--model", model,
               "--seed", str(seed), "--epochs", str(epochs), "--out", str(out)]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        meta = json.loads(out.read_text())
    return float(meta["s_per_epoch"]), float(meta["cpu_s_per_epoch"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--models", nargs="+", choices=MODELS, default=MODELS)
    args = p.parse_args()
    xtr, _, _, _ = _bench.gen_digits()
    res: dict[str, dict[str, list[float]]] = {}
    for model in args.models:
        for seed in args.seeds:
            for lib in ("autoencoding", "pythae"):
                load = os.getloadavg()[0]
                got = ours(model, seed, args.epochs, xtr) if lib == "autoencoding" \
                    else pythae(model, seed, args.epochs)  # fmt: skip
                if got is None:
                    continue
                r = res.setdefault(f"{model}/{lib}", {})
                for k, v in zip(
                    ("s_per_epoch", "cpu_s_per_epoch", "load"), (*got, load), strict=True
                ):
                    r.setdefault(k, []).append(v)
                print(f"{model} seed {seed} {lib}: {got[0]:.4f} s/epoch wall, {got[1]:.4f} CPU, "
                      f"load {load:.2f}", flush=True)  # fmt: skip
    table = [f"GEN per-epoch time, seeds {args.seeds}, {args.epochs} epochs (mean ± std)", "",
             "| model | ours s/epoch | ours CPU s | pythae s/epoch | pythae CPU s | "
             "wall ours ÷ pythae | CPU ours ÷ pythae | load avg |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for model in args.models:
        o, py = res.get(f"{model}/autoencoding"), res.get(f"{model}/pythae")
        if o is None:
            continue
        cols = [_bench.mean_std(o["s_per_epoch"]), _bench.mean_std(o["cpu_s_per_epoch"])]
        if py:
            ratio = [np.mean(o[k]) / np.mean(py[k]) for k in ("s_per_epoch", "cpu_s_per_epoch")]
            cols += [_bench.mean_std(py["s_per_epoch"]), _bench.mean_std(py["cpu_s_per_epoch"]),
                     f"{ratio[0]:.2f}", f"{ratio[1]:.2f}"]  # fmt: skip
        else:
            cols += ["–"] * 4
        loads = o["load"] + (py["load"] if py else [])
        table.append(f"| {model} | " + " | ".join(cols) + f" | {np.mean(loads):.2f} |")
    _bench.write_result("gen_models_speed",
                        {"seeds": args.seeds, "epochs": args.epochs, "results": res},
                        "\n".join(table))  # fmt: skip


if __name__ == "__main__":
    main()
