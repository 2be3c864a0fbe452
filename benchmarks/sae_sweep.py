"""Sweep of training settings for `sae-topk` on protocol SAE (MiniLM layer 3) and the toy.

How the sae-topk defaults (learning-rate rule, warm-up, Adam betas, AuxK weight, dead window,
encoder init scale) were chosen: each entry of a sweep file is ``[name, train overrides,
model overrides, seeds]``; ``lrx`` in the train overrides multiplies the derived learning
rate. Every run trains on protocol SAE's data (first 90% of the cached activations, 4096
tokens per step, 2 epochs, 3072 latents, k = 32) and reports FVU / L0 / dead on the last
10%; ``--toy FILE`` runs the toy superposition (512 latents, k = 10, batch 1024, 5 epochs)
and reports MMCS. Results append to ``--out`` (JSON lines).

The sweep in results/sae_sweep.md ran on a lent GPU (H200) — 3 s a run instead of minutes;
the chosen defaults were then measured on this CPU by ``sae_minilm.py`` and
``claims/sae_toy.py``::

    python benchmarks/sae_sweep.py benchmarks/sweeps/sae_1.json --device cuda
    python benchmarks/sae_sweep.py benchmarks/sweeps/none.json --toy benchmarks/sweeps/toy_8.json

``--model`` / ``--corpus`` point at a copy of MiniLM and of the built-in corpus (JSON list of
strings) on machines without the package or with another Python's standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001

import torch  # noqa: E402

from autoencoding.interp import ActivationStore, ToySuperposition, builtin_corpus  # noqa: E402
from autoencoding.interp import cache_activations, evaluate_sae, mmcs, train_sae  # noqa: E402
from autoencoding.recipes.sae import sae_train_defaults  # noqa: E402

HOOK = "blocks.2.resid_post"


def _train(tr: dict, base: dict, latents: int, tokens: int) -> dict:
    out = {**base, **{k: v for k, v in tr.items() if k != "lrx"}}
    if "lrx" in tr:
        out["lr"] = sae_train_defaults(latents, tokens, base["batch_size"])["lr"] * tr["lrx"]
    return out


def minilm_runs(configs, args) -> None:
    cache = Path(args.cache)
    if not (cache / HOOK / "manifest.json").exists():
        if args.model:
            from autoencoding.interp.models import _transformers

            tf = _transformers()
            model = tf.AutoModel.from_pretrained(args.model, local_files_only=True).float()
            tok = tf.AutoTokenizer.from_pretrained(args.model, local_files_only=True)
            source = (model.eval(), tok)
        else:
            source = "minilm"
        texts = json.load(open(args.corpus)) if args.corpus else builtin_corpus()
        cache_activations(
            source,
            texts,
            [HOOK],
            cache,
            window=126,
            batch_size=64,
            dtype="float32",
            progress=False,
            device=args.device,
        )
    store = ActivationStore.open(cache / HOOK)
    train, held = store.split(0.9)
    heldx = torch.cat(list(held.iter_chunks(65536))).float().to(args.device)
    base = {"batch_size": 4096, "epochs": 2, "progress": False, "device": args.device}
    for name, tr, mo, seeds in configs:
        for seed in seeds:
            t0 = time.time()
            cfg = _train(tr, base, 3072, 2 * len(train))
            sae = train_sae(train, "sae-topk", latents=3072, k=32, seed=seed, train=cfg, model=mo)
            ev = evaluate_sae(sae.module, heldx)
            _emit(
                args,
                {
                    "name": name,
                    "seed": seed,
                    "fvu": ev["fvu"],
                    "l0": ev["l0"],
                    "dead": ev["dead"],
                    "lr": sae.info["train"]["lr"],
                    "secs": round(time.time() - t0, 1),
                    "train_s_per_step": sum(h["seconds"] for h in sae.history)
                    / max(1, sae.history[-1]["step"]),
                },
            )


def toy_runs(configs, args) -> None:
    toy = ToySuperposition(d=64, n_features=512, p=0.02, seed=0)
    xt, xe = toy.data(400_000, seed=1).to(args.device), toy.data(50_000, seed=2).to(args.device)
    base = {"batch_size": 1024, "epochs": 5, "progress": False, "device": args.device}
    for name, tr, mo, seeds in configs:
        for seed in seeds:
            t0 = time.time()
            cfg = _train(tr, base, 512, 5 * 400_000)
            sae = train_sae(xt, "sae-topk", latents=512, k=10, seed=seed, train=cfg, model=mo)
            ev = evaluate_sae(sae.module, xe)
            dirs = sae.module.decoder.directions().detach().cpu()
            _emit(
                args,
                {
                    "toy": name,
                    "seed": seed,
                    "mmcs": mmcs(toy.features, dirs),
                    "fvu": ev["fvu"],
                    "dead": ev["dead"],
                    "lr": sae.info["train"]["lr"],
                    "secs": round(time.time() - t0, 1),
                },
            )


def _emit(args, record: dict) -> None:
    print(json.dumps(record), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("configs", help="JSON list of [name, train, model, seeds] (MiniLM runs)")
    ap.add_argument("--toy", default=None, help="JSON list of the same shape (toy runs)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cache", default=str(_bench.RESULTS / "cache" / "minilm"))
    ap.add_argument("--model", default=None, help="local MiniLM folder (default: the package)")
    ap.add_argument("--corpus", default=None, help="JSON list of texts (default: built-in)")
    out_dir = os.environ.get("OUT", str(_bench.RESULTS))
    ap.add_argument("--out", default=out_dir + "/sae_sweep.jsonl", help="JSON-lines results")
    args = ap.parse_args()
    configs = json.load(open(args.configs))
    if configs:
        minilm_runs(configs, args)
    if args.toy:
        toy_runs(json.load(open(args.toy)), args)


if __name__ == "__main__":
    main()
