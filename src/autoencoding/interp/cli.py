"""``autoencoding sae cache | train | evaluate | features | steer``: SAEs on transformer
activations.

One process::

    autoencoding sae cache --model minilm --hooks blocks.2.resid_post --out acts
    autoencoding sae train acts/blocks.2.resid_post --recipe sae-topk --k 32 --out runs/sae
    autoencoding sae evaluate runs/sae acts/blocks.2.resid_post --out runs/sae/eval
    autoencoding sae features runs/sae acts/blocks.2.resid_post --model minilm --out browser
    autoencoding sae steer runs/sae --features 12=5.0,40=0 --mode add --text "The cat"

Two CPU processes (DDP; each reads half of every global batch)::

    torchrun --nproc-per-node 2 -m autoencoding.cli sae train acts/blocks.2.resid_post \\
        --out runs/sae

The CLI wires these in with ``add_sae_parser(subparsers)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import AutoencodingError
from ..guards import check_output


def add_sae_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sae",
        help="sparse autoencoders on transformer activations",
        description="Cache activations, train and evaluate sparse autoencoders.",
    )
    sub = p.add_subparsers(
        dest="sae_command", metavar="{cache,train,evaluate,features,steer}", required=True
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
        description="Train an sae-* recipe on a store. The number of epochs (enough for at "
        "least 1000 optimizer steps, at least 2), the learning rate and the dead-latent window "
        "are derived from the store's size, the width and the run length unless given.",
    )
    t.add_argument("store", help="activation store folder (or .npy of embeddings)")
    t.add_argument("--recipe", default="sae-topk", help="sae-topk, sae-batchtopk, sae-relu, ...")
    t.add_argument("--latents", type=int, default=None, help="number of latents (default 8×d)")
    t.add_argument("--k", type=int, default=None, help="active latents per row (TopK family)")
    t.add_argument(
        "--epochs", type=int, default=None, help="passes over the store (default: >= 1000 steps)"
    )
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
        help="FVU, L0, dead / dense latents, frequency histogram and spliced loss of an SAE",
        description="Evaluate a trained SAE on an activation store: FVU, L0, dead and dense "
        "fractions and the histogram of latent firing frequencies; then, when the host model "
        "loads offline (--model, else the store's), the SAE spliced into the model at its "
        "hook point: next-token cross-entropy clean / spliced / zero-ablated, loss recovered "
        "and KL for causal LMs, embedding cosine for encoders.",
    )
    e.add_argument("run", help="SAE run / model folder")
    e.add_argument("store", help="activation store folder")
    e.add_argument("--out", default=None, help="folder for eval.json and activation_frequency.png")
    e.add_argument(
        "--model",
        default=None,
        help="host model folder or alias for the spliced metrics (default: the store's model "
        "if it loads offline)",
    )
    e.add_argument("--no-splice", action="store_true", help="skip the spliced metrics")
    e.add_argument("--hook", default=None, help="hook point of the SAE (default: the store's)")
    e.add_argument(
        "--text", default="builtin", help="'builtin' (protocol SAE corpus), .txt/.jsonl/.parquet"
    )
    e.add_argument("--column", default="text", help="text field of a .jsonl/.parquet file")
    e.add_argument(
        "--max-tokens", type=int, default=20_000, help="tokens of text for the spliced metrics"
    )
    e.add_argument("--window", type=int, default=None, help="tokens per window (default: store's)")
    e.add_argument("--batch-size", type=int, default=8, help="windows per forward pass")
    e.add_argument("--device", default="cpu", help="torch device for the host model")
    e.add_argument("--no-progress", action="store_true", help="no progress bar")
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

    s = sub.add_parser(
        "steer",
        help="steer the host model with SAE features and compare its output",
        description="Run the host model on a text with and without steering (add to or clamp "
        "SAE latents at the SAE's hook point). Causal LMs: the top next-token predictions at "
        "the last position, clean and steered, and their KL; encoders: the cosine between the "
        "clean and steered mean-pooled embeddings. Both: the steered latents, clean and "
        "steered.",
    )
    s.add_argument("run", help="SAE run / model folder")
    s.add_argument(
        "--model", default=None, help="host model folder or alias (default: the run's store's)"
    )
    s.add_argument("--hook", default=None, help="hook point (default: the run's store's)")
    s.add_argument("--features", required=True, help="latents and values, e.g. '12=5.0,40=0'")
    s.add_argument(
        "--mode",
        default="clamp",
        choices=["clamp", "add"],
        help="clamp: set the latents to the values; add: add value × decoder direction",
    )
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", default=None, help="the prompt")
    src.add_argument("--text-file", default=None, help="a file holding the prompt")
    s.add_argument("--top", type=int, default=10, help="next-token predictions shown")
    s.add_argument("--json", action="store_true", help="print the report as JSON")
    s.add_argument("--device", default="cpu", help="torch device for the host model")
    s.set_defaults(func=cmd_steer)
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
    from .models import check_model

    hooks = [h.strip() for h in args.hooks.split(",") if h.strip()]
    check_output(args.out, "folder")
    check_model(args.model)  # a missing or pickled model is named before the text is read
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
    out = check_output(args.out, "folder")
    store = _store(args.store, out)
    if not 0 <= args.eval_fraction < 1:
        raise AutoencodingError(f"--eval-fraction must be in [0, 1), got {args.eval_fraction}")
    train_part, eval_part = (
        store.split(1 - args.eval_fraction) if args.eval_fraction > 0 else (store, None)
    )
    train = {"progress": not args.no_progress}
    given = vars(args)
    train.update({k: given[k] for k in ("epochs", "batch_size", "lr") if given[k] is not None})
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


def _load_sae(run: str):
    from .. import load
    from ..parts.sae_nets import SAEDecoder
    from .external import is_external, load_external

    # SAELens / sparsify folders load with their own maths (interp.external)
    model = load_external(run) if is_external(run) else load(run)
    if not isinstance(model.module.decoder, SAEDecoder):  # features and steering read its rows
        raise AutoencodingError(
            f"{run}: not a sparse autoencoder (its decoder is not a dictionary of unit "
            f"directions: {model.module.config.decoder.get('name')!r})"
        )
    return model


def _host(name: str, what: str):
    from .models import load_model

    try:
        return load_model(name)
    except AutoencodingError as e:
        raise AutoencodingError(f"{what}: {e}") from None


def cmd_evaluate(args, parser=None) -> int:
    from .corpus import read_texts
    from .evaluation import evaluate_splice, frequency_histogram, plot_frequency_histogram
    from .train import sae_statistics

    if args.out:
        check_output(args.out, "folder")
    model = _load_sae(args.run)
    store = _store(args.store)
    if store.d != model.module.n_features:
        raise AutoencodingError(
            f"store {args.store} holds {store.d}-dimensional activations but the SAE at "
            f"{args.run} expects {model.module.n_features}"
        )
    if args.max_tokens < 1:
        raise AutoencodingError(f"--max-tokens must be >= 1, got {args.max_tokens}")
    metrics, frequency = sae_statistics(model.module, store)
    hist = frequency_histogram(frequency, metrics["tokens"])
    metrics["frequency_histogram"] = hist

    recorded = {**model.info.get("store", {}), **store.manifest}
    name = args.model or recorded.get("model")
    if name and not args.no_splice:
        try:
            host, tokenizer = _host(name, "--model" if args.model else "the store's model")
        except AutoencodingError as e:
            if args.model:
                raise
            host = None  # the store's model is only a default: say why it is skipped
            print(f"spliced metrics skipped ({e}); pass --model", file=sys.stderr)
        if host is not None:
            hook = args.hook or recorded.get("hook")
            if not hook:
                raise AutoencodingError("--hook is needed: the store records no hook point")
            texts = read_texts(args.text, column=args.column, max_chars=8 * args.max_tokens)
            splice = evaluate_splice(
                host,
                tokenizer,
                model.module,
                hook,
                texts,
                window=args.window or int(recorded.get("window") or 126),
                max_tokens=args.max_tokens,
                batch_size=args.batch_size,
                progress=not args.no_progress,
                device=args.device,
            )
            metrics["splice"] = {"model": name, "hook": hook, **splice}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "eval.json").write_text(json.dumps(metrics, indent=2))
        title = f"{Path(args.run).name}: activation frequency over {metrics['tokens']} tokens"
        plot_frequency_histogram(hist, out / "activation_frequency.png", title=title)
    print(json.dumps(metrics))
    return 0


def cmd_features(args, parser=None) -> int:
    from .features import write_feature_browser

    check_output(args.out, "folder")
    model = _load_sae(args.run)
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


def cmd_steer(args, parser=None) -> int:
    from .steering import check_features, format_report, parse_features, steer_text

    model = _load_sae(args.run)
    features = parse_features(args.features)
    check_features(features, model.module.config.latent_dim)  # before loading the host
    recorded = model.info.get("store", {})
    name, hook = args.model or recorded.get("model"), args.hook or recorded.get("hook")
    if not name or not hook:
        raise AutoencodingError(
            f"--model and --hook are needed: the run {args.run} records no "
            + ("host model" if not name else "hook point")
        )
    if args.text_file is not None:
        path = Path(args.text_file)
        if not path.is_file():
            raise AutoencodingError(f"--text-file {path} does not exist")
        text = path.read_text(encoding="utf-8").rstrip("\r\n")
    else:
        text = args.text
    if not text.strip():
        raise AutoencodingError("the text to steer on is empty")
    host, tokenizer = _host(name, "--model")
    report = steer_text(
        host,
        tokenizer,
        model.module,
        hook,
        features,
        text,
        mode=args.mode,
        top=args.top,
        device=args.device,
    )
    print(json.dumps(report) if args.json else format_report(report))
    return 0
