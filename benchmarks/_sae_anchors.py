"""Protocol SAE side by side: run SAELens and sparsify on exactly our batches, evaluate every
library with one function.

Used by benchmarks/sae_minilm.py and benchmarks/claims/sae_toy.py. For each seed the parent
writes the row order of every epoch of *our* batch iterator (``StoreBatches`` for an
activation store, ``InMemoryBatches`` for an in-memory tensor: the same seed rule as our
trainer) to an ``.npy``; each anchor runner (benchmarks/anchors/sae_*.py, run by its own
venv's python) trains its library's TopK SAE at its defaults on those batches, times its
training loop and exports the weights in a common layout (see anchors/_sae_common.py). Our
model is exported to the same layout, and :func:`evaluate_common` computes FVU, L0 and the
dead fraction on the eval split for all of them with one formula.

Venvs come from ``bash benchmarks/setup_sae_anchors.sh``; a missing one is skipped with a
message.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
VENVS = Path(os.environ.get("ANCHOR_VENVS", ROOT / ".venvs"))
TMP = ROOT / "results" / "tmp"

#: anchor name -> (venv, runner script, label in tables)
ANCHORS = {
    "saelens": ("saelens", "sae_saelens.py", "SAELens"),
    "sparsify": ("sparsify", "sae_sparsify.py", "sparsify"),
}


def venv_python(name: str) -> Path:
    return VENVS / ANCHORS[name][0] / "bin" / "python"


def select_anchors(requested: Iterable[str] | None) -> list[str]:
    """The anchors to run: the requested ones (default all) whose venv exists; a missing
    venv is skipped with a message, an unknown name is an error."""
    names = list(requested) if requested is not None else list(ANCHORS)
    unknown = [n for n in names if n not in ANCHORS]
    if unknown:
        raise SystemExit(f"unknown anchor(s) {unknown}; known: {', '.join(ANCHORS)}")
    chosen = []
    for n in names:
        if venv_python(n).exists():
            chosen.append(n)
        else:
            print(
                f"[{n}] skipped: no venv at {venv_python(n).parent.parent} "
                f"(create it with: bash benchmarks/setup_sae_anchors.sh {ANCHORS[n][0]})",
                flush=True,
            )
    return chosen


# ------------------------------------------------------------------------- the batches
class _RowIndexStore:
    """Stands in for an ActivationStore whose rows are their own indices (0 … n−1 of the
    range), so StoreBatches yields the row order it would yield for the real store."""

    def __init__(self, store) -> None:
        self.store = store
        offsets, off = {}, 0
        for s in store.manifest["shards"]:
            offsets[s["file"]] = off
            off += s["tokens"]
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.store)

    def pieces(self):
        return self.store.pieces()

    def _load(self, file: str, a: int, b: int, what: str = "acts") -> np.ndarray:
        rows = np.arange(a, b, dtype=np.int64) + self.offsets[file] - self.store.start
        return rows[:, None]


def store_order(store, batch_size: int, seed: int, epochs: int) -> np.ndarray:
    """(epochs, n) int64: the rows of ``store`` in the order our trainer's StoreBatches
    visits them (checked against the real batches of epoch 0)."""
    from autoencoding.interp import StoreBatches

    if len(store) >= 1 << 24:
        raise SystemExit("store_order: row indices must stay exact in float32 (< 2^24 rows)")
    idx = StoreBatches(_RowIndexStore(store), batch_size, seed=seed)  # type: ignore[arg-type]
    order = np.stack(
        [
            np.concatenate([b.numpy()[:, 0] for b in idx.epoch(e)]).astype(np.int64)
            for e in range(epochs)
        ]
    )
    real = next(iter(StoreBatches(store, batch_size, seed=seed).epoch(0)))
    assert np.array_equal(_rows(store, order[0, : len(real)]), real.numpy()), "order drifted"
    for row in order:
        assert np.array_equal(np.sort(row), np.arange(len(store))), "not a permutation"
    return order


def _rows(store, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` (indices within the store's range) read through its memory maps."""
    out = np.empty((len(idx), store.d), np.float32)
    offset = 0
    for f, a, b in store.pieces():
        sel = np.nonzero((idx >= offset) & (idx < offset + b - a))[0]
        if len(sel):
            out[sel] = store._load(f, a, b)[idx[sel] - offset]
        offset += b - a
    return out


def array_order(n: int, batch_size: int, seed: int, epochs: int) -> np.ndarray:
    """(epochs, n) int64: the order of our trainer's InMemoryBatches for a tensor of n rows."""
    from autoencoding.train.batches import InMemoryBatches

    batches = InMemoryBatches(torch.zeros(n, 1), batch_size, seed)
    return np.stack([batches.order(e).numpy().astype(np.int64) for e in range(epochs)])


# ------------------------------------------------------------------------------ running
def run_anchor(
    name: str,
    *,
    data: Path,
    rows: int,
    order: np.ndarray,
    batch_size: int,
    latents: int,
    k: int,
    seed: int,
    threads: int,
    tag: str,
    timeout: float | None = None,
) -> dict:
    """Run one anchor runner; returns its result.json plus ``weights`` (common layout)."""
    from safetensors.torch import load_file

    out = TMP / tag / name / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    order_path = out / "order.npy"
    np.save(order_path, order)
    script = ROOT / "anchors" / ANCHORS[name][1]
    cmd = [
        str(venv_python(name)),
        str(script),
        "--data",
        str(data),
        "--rows",
        str(rows),
        "--order",
        str(order_path),
        "--batch-size",
        str(batch_size),
        "--latents",
        str(latents),
        "--k",
        str(k),
        "--seed",
        str(seed),
        "--threads",
        str(threads),
        "--out",
        str(out),
    ]
    t0 = time.perf_counter()
    with open(out / "log.txt", "w") as log:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (out / "log.txt").read_text()[-3000:]
        raise RuntimeError(f"[{name}] runner failed (exit {proc.returncode}):\n{tail}")
    print(f"[{name}] " + proc.stdout.strip(), flush=True)
    res = json.loads((out / "result.json").read_text())
    res["wall_process_s"] = time.perf_counter() - t0
    res["weights"] = load_file(str(out / "sae.safetensors"))
    order_path.unlink()
    return res


# --------------------------------------------------------------------------- evaluation
@torch.no_grad()
def ours_common(module) -> dict[str, torch.Tensor]:
    """Our TopK SAE in the common layout: pre = (s·x − b) Wᵀ + b_e = (x − b/s)(s·W)ᵀ + b_e and
    x̂ = (z U + b)/s = z (U/s) + b/s, with s the stored input scale."""
    dec, enc = module.decoder, module.encoder
    s = float(dec.input_scale)
    return {
        "W_enc": (enc.weight * s).float(),
        "b_enc": enc.bias.float(),
        "W_dec": (dec.directions() / s).float(),
        "b_dec": (dec.bias / s).float(),
        "k": torch.tensor([int(module.bottleneck.cfg.k)]),
    }


@torch.no_grad()
def evaluate_common(w: dict[str, torch.Tensor], chunks: Iterable[torch.Tensor]) -> dict:
    """FVU = Σ‖x − x̂‖² / Σ‖x − x̄‖², mean L0 and the dead fraction (never active) of a
    common-layout TopK SAE, in float32 with float64 sums (the definitions of evaluate_sae)."""
    k = int(w["k"][0])
    W_enc, b_enc, W_dec, b_dec = (w[n].float() for n in ("W_enc", "b_enc", "W_dec", "b_dec"))
    n, sse, s1, s2, l0, fires = 0, 0.0, 0.0, 0.0, 0.0, torch.zeros(len(W_enc), dtype=torch.long)
    for x in chunks:
        x = x.float()
        pre = torch.addmm(b_enc, x - b_dec, W_enc.T)
        top = pre.topk(k, dim=1)
        vals = top.values.relu()
        z = torch.zeros_like(pre).scatter_(1, top.indices, vals)
        xhat = torch.addmm(b_dec, z, W_dec)
        sse += float((xhat - x).double().pow(2).sum())
        s1 = s1 + x.double().sum(0)
        s2 = s2 + x.double().pow(2).sum(0)
        active = z != 0
        l0 += float(active.sum())
        fires += active.sum(0)
        n += len(x)
    tv = float((s2 - s1.pow(2) / n).sum())
    return {"fvu": sse / tv, "l0": l0 / n, "dead": float((fires == 0).float().mean())}


def add_anchors_argument(parser) -> None:
    """``--anchors [NAME ...]``: default every anchor whose venv exists; alone: none."""
    parser.add_argument(
        "--anchors",
        nargs="*",
        default=None,
        metavar="NAME",
        help=f"reference libraries ({', '.join(ANCHORS)}; default: every one whose venv "
        "exists; none: '--anchors' alone)",
    )


def mean_std(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.4g} ± {v.std():.2g}" if len(v) else "–"
