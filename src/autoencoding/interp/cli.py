"""``autoencoding sae cache | train | evaluate | features``: SAEs on transformer activations.

One process::

    autoencoding sae cache --model minilm --hooks blocks.2.resid_post --out acts
    autoencoding sae train acts/blocks.2.resid_post --recipe sae-topk --k 32 --out runs/sae
    autoencoding sae evaluate runs/sae acts/blocks.2.resid_post
    autoencoding sae features runs/sae acts/blocks.2.resid_post --model minilm --out browser

Two CPU processes (DDP; each reads half of every global batch)::

    torchrun --nproc-per-node 2 -m autoencoding.cli sae train acts/blocks.2.resid_post \\
        --out runs/sae

The CLI wires these in with ``add_sae_parser(subparsers)``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import AutoencodingError


def add_sae_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sae",
        help="sparse autoencoders on transformer activations",
        description="Cache activations, train and evaluate sparse autoencoders.",
    )
    sub = p.add_subparsers(
        dest="sae_command", metavar="{cache,train,evaluate,features}", required=True
    )

    c = sub.add_parser(
        "cache",
        help="write a model's activations to activation stores",
        description="Run a local Hugging Face model over text and store the activations at "
        "the given hook points (special and padding tokens dropped), one store per hook.",
    )
    c.add_argument("--model", required=True, help="local model folder, or 'minilm'")
    c.add_argument(
        "--hooks", required=True, help="comma-separated hook points, e.g. blocks.2.resid_post"
    )
    c.add_argument(
        "--text", default="builtin", help="'builtin' (protocol SAE corpus), .txt/.jsonl/.parquet"
    )
    c.add_argument("--column", default="text", help="text field of a .jsonl/.parquet file")
    c.add_argument("--out", required=True, help="folder receiving one store per hook point")
    c.add_argument("--window", type=int, default=126, help="tokens per window (plus specials)")
    c.add_argument("--batch-size", type=int, default=32, help="windows per forward pass")
    c.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    c.add_argument("--max-tokens", type=int, default=None, help="stop after this many tokens")
    c.add_argument("--device", default="cpu", help="torch device for the model")
    c.set_defaults(func=cmd_cache)

    t = sub.add_parser(
        "train",
        help="train an SAE on an activation store",
        description="Train an sae-* recipe on a store. The learning rate and dead-latent "
        "window are derived from the width and the run length unless given.",
    )
    t.add_argument("store", help="activation store folder (or .npy of embeddings)")
    t.add_argument("--recipe", default="sae-topk", help="sae-topk, sae-batchtopk, sae-relu, ...")
    t.add_argument("--latents", type=int, default=None, help="number of latents (default 8×d)")
    t.add_argument("--k", type=int, default=None, help="active latents per row (TopK family)")
    t.add_argument("--epochs", type=int, default=None, help="passes over the store")
    t.add_argument("--batch-size", type=int, default=None, help="tokens per step")
    t.add_argument("--lr", type=float, default=None, help="learning rate (default: derived)")
    t.add_argument("--seed", type=int, default=0, help="seed")
    t.add_argument(
        "--eval-fraction",
        type=float,
        default=0.1,
        help="last fraction of the store held out and evaluated (0 = none)",
    )
    t.add_argument("--out", required=True, help="run folder (model, metrics, checkpoint)")
    t.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser(
        "evaluate",
        help="FVU, L0, dead and dense fractions of an SAE on a store",
        description="Evaluate a trained SAE on an activation store.",
    )
    e.add_argument("run", help="SAE run / model folder")
    e.add_argument("store", help="activation store folder")
    e.set_defaults(func=cmd_evaluate)

    f = sub.add_parser(
        "features",
        help="write a static HTML feature browser",
        description="Top-activating contexts, density and promoted tokens of every latent, "
        "as offline HTML (index.html + one page per latent).",
    )
    f.add_argument("run", help="SAE run / model folder")
    f.add_argument("store", help="activation store folder (with token ids)")
    f.add_argument("--model", default=None, help="host model folder or alias, for tokens")
    f.add_argument("--out", required=True, help="output folder")
    f.add_argument("--top", type=int, default=10, help="contexts per latent")
    f.add_argument("--latents", default=None, help="comma-separated latents (default: all)")
    f.set_defaults(func=cmd_features)
    return p


def _store(path: str, out: Path | None = None):
    from .store import ActivationStore, store_from_array

    p = Path(path)
    if p.suffix in (".npy", ".parquet") and p.is_file():
        if out is None:
            raise AutoencodingError(f"{p}: embeddings files need an output folder")
        return store_from_array(p, out / "store")
    return ActivationStore.open(p)


def cmd_cache(args, parser=None) -> int:
    from .cache import cache_activations
    from .corpus import read_texts

    hooks = [h.strip() for h in args.hooks.split(",") if h.strip()]
    texts = read_texts(args.text, column=args.column)
    stores = cache_activations(
        args.model,
        texts,
        hooks,
        args.out,
        window=args.window,
        batch_size=args.batch_size,
        dtype=args.dtype,
        max_tokens=args.max_tokens,
        device=args.device,
    )
    for hook, store in stores.items():
        print(f"{hook}: {len(store)} tokens × {store.d} → {store.path}")
    return 0


def cmd_train(args, parser=None) -> int:
    from ..train.distributed import init_from_env, is_main
    from .train import evaluate_sae, train_sae

    init_from_env("cpu")
    out = Path(args.out)
    store = _store(args.store, out)
    if not 0 <= args.eval_fraction < 1:
        raise AutoencodingError(f"--eval-fraction must be in [0, 1), got {args.eval_fraction}")
    train_part, eval_part = (
        store.split(1 - args.eval_fraction) if args.eval_fraction > 0 else (store, None)
    )
    train = {"progress": not args.no_progress}
    for key in ("epochs", "batch_size", "lr"):
        if getattr(args, key) is not None:
            train[key] = getattr(args, key)
    sae = train_sae(
        train_part,
        args.recipe,
        latents=args.latents,
        k=args.k,
        train=train,
        seed=args.seed,
        out=out,
        resume=args.resume,
    )
    if eval_part is not None and is_main():
        metrics = evaluate_sae(sae.module, eval_part)
        (out / "eval.json").write_text(json.dumps(metrics, indent=2))
        print(json.dumps(metrics))
    return 0


def cmd_evaluate(args, parser=None) -> int:
    from .. import load
    from .train import evaluate_sae

    model = load(args.run)
    if model.module.config.encoder.get("name") != "sae":
        raise AutoencodingError(f"{args.run}: not a sparse autoencoder (encoder is not 'sae')")
    store = _store(args.store)
    if store.d != model.module.n_features:
        raise AutoencodingError(
            f"store {args.store} holds {store.d}-dimensional activations but the SAE at "
            f"{args.run} expects {model.module.n_features}"
        )
    print(json.dumps(evaluate_sae(model.module, store)))
    return 0


def cmd_features(args, parser=None) -> int:
    from .. import load
    from .features import write_feature_browser

    model = load(args.run)
    store = _store(args.store)
    tokenizer = unembedding = None
    if args.model is not None:
        from .models import load_model

        host, tokenizer = load_model(args.model)
        emb = host.get_output_embeddings() if hasattr(host, "get_output_embeddings") else None
        unembedding = emb.weight if emb is not None else None
    latents = [int(i) for i in args.latents.split(",")] if args.latents else None
    out = write_feature_browser(
        model.module, store, args.out, tokenizer, unembedding, top=args.top, latents=latents
    )
    print(f"wrote {out / 'index.html'}")
    return 0
