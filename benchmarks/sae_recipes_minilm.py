"""Our other SAE recipes at their defaults on protocol SAE's data (shared/BENCHMARKS.md).

Same activations, split, width and run as ``sae_minilm.py`` (MiniLM layer 3, 3072 latents,
4096 tokens per step, 2 epochs), for the recipes that pick their own sparsity or have no
anchor there (default: ``sae-jumprelu``, whose L0 comes from its penalty). Reported per
recipe: FVU, L0 and dead fraction on the eval split, and training seconds. The point is that
the defaults, chosen on toys, also give a healthy SAE on a real model's activations: low FVU,
no dead latents.

    python benchmarks/sae_recipes_minilm.py                       # sae-jumprelu, seed 0
    python benchmarks/sae_recipes_minilm.py --recipes sae-jumprelu sae-relu --seeds 0 1 2

Results: benchmarks/results/sae_recipes_minilm.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "2")
import _bench  # noqa: E402,I001
from sae_minilm import BATCH, LATENTS, open_store  # noqa: E402

from autoencoding.interp import evaluate_sae, train_sae  # noqa: E402


def main(recipes=("sae-jumprelu",), seeds=(0,), epochs=2) -> dict:
    train, held = open_store(None).split(0.9)
    per: dict[str, dict[str, list[float]]] = {}
    for recipe in recipes:
        r = per.setdefault(recipe, {k: [] for k in ("fvu", "l0", "dead", "seconds")})
        for s in seeds:
            sae = train_sae(
                train,
                recipe,
                latents=LATENTS,
                seed=s,
                train={"batch_size": BATCH, "epochs": epochs, "progress": False},
            )
            ev = evaluate_sae(sae.module, held)
            for key in ("fvu", "l0", "dead"):
                r[key].append(ev[key])
            r["seconds"].append(sum(h["seconds"] for h in sae.history))
            print(recipe, s, {k: round(v[-1], 4) for k, v in r.items()}, flush=True)
    lines = [
        f"Seeds {list(seeds)}; MiniLM layer 3, {LATENTS} latents, {BATCH} tokens per step, "
        f"{epochs} epochs, each recipe at its defaults.",
        "",
        "| recipe | FVU | L0 | dead | train s |",
        "|---|---|---|---|---|",
    ]
    for recipe, r in per.items():
        lines.append(f"| {recipe} | " + " | ".join(_bench.mean_std(r[k]) for k in r) + " |")
    _bench.write_result("sae_recipes_minilm", {"per_seed": per}, "\n".join(lines))
    return per


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipes", nargs="+", default=["sae-jumprelu"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args()
    main(tuple(a.recipes), tuple(a.seeds), a.epochs)
