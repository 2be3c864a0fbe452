"""Protocol GEN VAE: how fast can one CPU thread train it at all? The per-epoch floor set by the
matrix products and the optimizer alone, measured side by side with our full step and pythae.

The protocol net (64-256-256-8, mirrored decoder, batch 64, 1437 training rows: 23 steps an
epoch) is small enough that a training step is a handful of dense products and a few dozen
elementwise kernels. This script times, in one process and one run:

- ``floor``: per epoch, only the 17 products one step needs (6 forward, 6 weight gradients,
  5 input gradients: the first layer's input gradient is never needed) with the step's exact
  shapes, plus one fused Adam update of every parameter. No activation, no loss, no noise,
  no bookkeeping: no implementation of this model in fp32 on one thread can be faster.
- ``floor, bf16 products``: the same with the products in bf16 (weights cast every step):
  what mixed precision could buy where the CPU has native bf16 dot products;
- ``ours``: ``autoencoding``'s VAE recipe training the protocol net (its fast step);
- ``pythae``: the anchor, in its own venv (``bash benchmarks/setup_anchors.sh pythae``).

It reports the ratio ``pythae / ours`` and the ceiling ``pythae / floor``: the best ratio any
fp32 single-thread implementation could reach on this machine.

    python benchmarks/gen_vae_floor.py                # 30 epochs, seed 0
    python benchmarks/gen_vae_floor.py --epochs 100 --repeats 3
    # ours and the floor on both cores (pythae stays on one: two make it 2x slower here);
    # GOMP_SPINCOUNT keeps OpenMP's threads awake between the many tiny products
    OMP_NUM_THREADS=2 GOMP_SPINCOUNT=300000 python benchmarks/gen_vae_floor.py
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001


import numpy as np  # noqa: E402
import torch  # noqa: E402

import autoencoding as ae  # noqa: E402
from autoencoding.train.fast import FlatAdam, FlatParameters  # noqa: E402
from autoencoding.train.fast.mlp import THIN_COLUMNS  # noqa: E402
from gen_models_speed import pythae  # noqa: E402

MODEL = {"latent_dim": 8, "encoder": {"name": "mlp", "hidden": [256, 256]}}


def cpu_now() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def floor_epoch_fn(n_rows: int, batch: int, dtype: torch.dtype = torch.float32):
    """One epoch of the products and the optimizer update only, on the protocol net's layer
    shapes taken from the recipe's model (so the floor follows the recipe if it changes).
    With ``dtype=torch.bfloat16`` the products run in bf16 on bf16 copies of the weights
    (mixed precision: one cast of every weight per step, fp32 Adam)."""
    model = ae.Autoencoder(ae.resolve("vae", [64], (0.0, 1.0), MODEL))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    flat = FlatParameters(list(model.parameters()))
    opt = FlatAdam(flat.flat, decoupled=False, lr=1e-3)
    sizes = [batch] * (n_rows // batch) + ([n_rows % batch] if n_rows % batch else [])
    g = torch.Generator().manual_seed(0)
    kw = {"generator": g, "dtype": dtype}
    acts = {b: [torch.rand(b, lin.in_features, **kw) for lin in linears] for b in sizes}
    grads = {b: [torch.rand(b, lin.out_features, **kw) for lin in linears] for b in sizes}
    outs = {b: [torch.empty(b, lin.out_features, dtype=dtype) for lin in linears] for b in sizes}
    gin = {b: [torch.empty(b, lin.in_features, dtype=dtype) for lin in linears] for b in sizes}
    low = dtype != torch.float32
    thin = [lin.in_features <= THIN_COLUMNS for lin in linears]
    wgrad = [
        torch.empty_like(lin.weight, dtype=dtype) if low else lin.weight.grad for lin in linears
    ]

    @torch.no_grad()
    def epoch() -> None:
        for b in sizes:
            a, gr, o, gi = acts[b], grads[b], outs[b], gin[b]
            w = [lin.weight.to(dtype) for lin in linears]  # a no-op in fp32
            bias = [lin.bias.to(dtype) for lin in linears]
            for i in range(len(linears)):  # forward
                torch.addmm(bias[i], a[i], w[i].t(), out=o[i])
            for i in range(len(linears) - 1, -1, -1):  # backward
                if thin[i]:  # the faster transposed form, as the fast step computes it
                    wgrad[i].copy_(a[i].t().mm(gr[i]).t())
                else:
                    torch.mm(gr[i].t(), a[i], out=wgrad[i])
                if low:
                    linears[i].weight.grad.copy_(wgrad[i])
                if i > 0:
                    if thin[i]:
                        gi[i].copy_(w[i].t().mm(gr[i].t()).t())
                    else:
                        torch.mm(gr[i], w[i], out=gi[i])
            opt.update()

    return epoch, len(sizes)


def time_epochs(fn, epochs: int) -> tuple[float, float]:
    fn()  # warm
    w0, c0 = time.perf_counter(), cpu_now()
    for _ in range(epochs):
        fn()
    return (time.perf_counter() - w0) / epochs, (cpu_now() - c0) / epochs


def run_ours(xtr: np.ndarray, epochs: int, seed: int) -> tuple[float, float]:
    m = ae.fit(
        "vae",
        xtr,
        seed=seed,
        scaling="none",
        model=MODEL,
        train={"epochs": epochs, "batch_size": 64, "val_fraction": 0, "progress": False},
    )
    return (
        float(np.mean([h["seconds"] for h in m.history])),
        float(np.mean([h["cpu_seconds"] for h in m.history])),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--repeats", type=int, default=1, help="side-by-side rounds (seeds 0..R-1)")
    args = p.parse_args()
    xtr, *_ = _bench.gen_digits()
    floor, steps = floor_epoch_fn(len(xtr), 64)
    floor_bf16, _ = floor_epoch_fn(len(xtr), 64, torch.bfloat16)
    rows: dict[str, list[tuple[float, float]]] = {
        "floor": [],
        "floor, bf16 products": [],
        "ours": [],
        "pythae": [],
    }
    load0 = os.getloadavg()
    for seed in range(args.repeats):
        rows["floor"].append(time_epochs(floor, args.epochs))
        rows["floor, bf16 products"].append(time_epochs(floor_bf16, args.epochs))
        rows["ours"].append(run_ours(xtr, args.epochs, seed))
        if (got := pythae("vae", seed, args.epochs)) is not None:
            rows["pythae"].append(got)
        print(
            f"round {seed}: "
            + ", ".join(f"{k} {v[-1][0]:.4f} s/epoch" for k, v in rows.items() if v),
            flush=True,
        )
    wall = {k: float(np.mean([w for w, _ in v])) for k, v in rows.items() if v}
    cpu = {k: float(np.mean([c for _, c in v])) for k, v in rows.items() if v}
    lines = [
        f"GEN VAE speed floor: {steps} steps an epoch, {args.epochs} epochs x "
        f"{args.repeats} rounds, {torch.get_num_threads()} thread(s) for ours and the floor "
        f"(pythae: 1), load average before {load0[0]:.2f} / after "
        f"{os.getloadavg()[0]:.2f} (2 cores)",
        "",
        "| what | wall s/epoch | CPU s/epoch | pythae ÷ this (wall) |",
        "|---|---|---|---|",
    ]
    for k in wall:
        r = wall["pythae"] / wall[k] if "pythae" in wall else math.nan
        lines.append(f"| {k} | {wall[k]:.4f} | {cpu[k]:.4f} | {r:.2f} |")
    if "pythae" in wall:
        lines += [
            "",
            f"3x pythae needs {wall['pythae'] / 3:.4f} s/epoch; the products and the "
            f"optimizer alone take {wall['floor']:.4f} "
            f"(ceiling {wall['pythae'] / wall['floor']:.2f}x, "
            f"ours {wall['pythae'] / wall['ours']:.2f}x).",
        ]
    threads = torch.get_num_threads()
    _bench.write_result(
        "gen_vae_floor" if threads == 1 else "gen_vae_floor_threads",
        {
            "threads": threads,
            "epochs": args.epochs,
            "repeats": args.repeats,
            "steps_per_epoch": steps,
            "wall": wall,
            "cpu": cpu,
            "load_before": load0,
            "load_after": os.getloadavg(),
        },
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
