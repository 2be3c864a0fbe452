"""Shared helpers for the SAE anchor runners (protocol SAE in shared/BENCHMARKS.md).

Imported by ``sae_saelens.py`` and ``sae_sparsify.py``, which run inside the reference
libraries' own virtual environments (benchmarks/setup_sae_anchors.sh). Depends only on numpy,
torch and safetensors.

The contract with the parent benchmark (benchmarks/_sae_anchors.py):

* ``--data`` is a ``.npy`` of (n, d) activations or one of our activation stores (a folder of
  ``manifest.json`` + ``shard-*.npy``, read here with numpy); the first ``--rows`` rows are the
  training split.
* ``--order`` is an int64 ``.npy`` shaped (epochs, rows): epoch e visits the rows in the order
  ``order[e]``, cut into consecutive batches of ``--batch-size`` (the last one of an epoch may
  be shorter). The parent writes it from our own batch iterator, so every library sees the
  same batches in the same order as ours.
* ``--out DIR`` receives ``result.json`` (timings, versions, settings), ``sae.safetensors``
  in the common layout below, and ``native/`` (the library's own saved SAE).

Common layout (float32, latents L, features d)::

    W_enc (L, d), b_enc (L,), W_dec (L, d), b_dec (d,), k (1,) int64
    pre = (x − b_dec) W_encᵀ + b_enc ;  z = ReLU of the k largest pre per row ;  x̂ = z W_dec + b_dec

Call :func:`setup_process` before importing torch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", required=True, help=".npy of (n, d) activations, or a store folder")
    p.add_argument("--rows", type=int, required=True, help="first ROWS rows are the train split")
    p.add_argument("--order", required=True, help="int64 .npy (epochs, rows): row order per epoch")
    p.add_argument("--batch-size", type=int, required=True, help="tokens per step")
    p.add_argument("--latents", type=int, required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch / BLAS threads (default 1)")
    p.add_argument("--out", required=True, help="output folder")
    return p.parse_args()


def setup_process(threads: int) -> None:
    """Thread and OpenMP settings; must run before torch is imported."""
    if "torch" in sys.modules:
        raise RuntimeError("setup_process() must run before torch is imported")
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ.setdefault("TQDM_DISABLE", "1")  # the libraries' progress bars
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover
        pass


def load_rows(data: str, rows: int):
    """The first ``rows`` rows of a .npy file or of one of our activation stores, as float32."""
    import numpy as np

    p = Path(data)
    if p.suffix == ".npy":
        x = np.load(p, mmap_mode="r")
        if len(x) < rows:
            raise SystemExit(f"{p}: {len(x)} rows, fewer than --rows {rows}")
        return np.array(x[:rows], dtype=np.float32)  # a writable copy
    manifest = json.loads((p / "manifest.json").read_text())
    parts, have = [], 0
    for shard in manifest["shards"]:
        if have >= rows:
            break
        a = np.load(p / shard["file"], mmap_mode="r")[: rows - have]
        parts.append(np.asarray(a, dtype=np.float32))
        have += len(a)
    if have < rows:
        raise SystemExit(f"{p}: store holds {have} rows, fewer than --rows {rows}")
    return np.ascontiguousarray(np.concatenate(parts))


def batch_indices(order, batch_size: int):
    """Per step, the row indices of the batch (epoch by epoch, as the parent's iterator)."""
    for perm in order:
        for i in range(0, len(perm), batch_size):
            yield perm[i : i + batch_size]


def topk_forward(w: dict, x, k: int):
    """The common layout's forward: (dense z, reconstruction)."""
    import torch

    pre = (x - w["b_dec"]) @ w["W_enc"].T + w["b_enc"]
    top = pre.topk(k, dim=1)
    z = torch.zeros_like(pre).scatter_(1, top.indices, top.values.relu())
    return z, z @ w["W_dec"] + w["b_dec"]


def save_common(path: Path, w: dict, k: int, meta: dict) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {
        n: w[n].detach().float().contiguous().cpu() for n in ("W_enc", "b_enc", "W_dec", "b_dec")
    }
    tensors["k"] = torch.tensor([k], dtype=torch.int64)
    save_file(tensors, str(path), metadata={k_: str(v) for k_, v in meta.items()})


class LoopTimer:
    """Wall and process CPU time of the library's training loop."""

    def __init__(self) -> None:
        self.t0 = self.c0 = None
        self.seconds = self.cpu_seconds = None

    def start(self) -> None:
        self.t0, self.c0 = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        if self.seconds is None:  # the first stop counts (e.g. the entry of a final save)
            self.seconds = time.perf_counter() - self.t0
            self.cpu_seconds = time.process_time() - self.c0


def finish(out: Path, args, *, library, version, order, steps, timer, weights, diff, **extra):
    """Save the common-layout weights and write result.json (the keys every runner shares,
    plus the library's own ``extra``)."""
    import torch

    save_common(out / "sae.safetensors", weights, args.k, {"library": library, "version": version})
    total = int(order.shape[0] * order.shape[1])
    meta = {
        "library": library,
        "library_version": version,
        "torch_version": torch.__version__,
        "seed": args.seed,
        "threads": args.threads,
        "rows": args.rows,
        "epochs": int(order.shape[0]),
        "batch_size": args.batch_size,
        "latents": args.latents,
        "k": args.k,
        "steps": steps,
        "tokens": total,
        "seconds": timer.seconds,
        "cpu_seconds": timer.cpu_seconds,
        "train_tokens_per_s": total / timer.seconds,
        "s_per_step": timer.seconds / max(1, steps),
        "export_max_abs_diff": diff,
        **extra,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    print(
        f"{library} {version}: {steps} steps, {meta['train_tokens_per_s']:.0f} train tok/s, "
        f"{meta['s_per_step']:.3f} s/step, export check max |Δx̂| {diff:.2e}"
    )
