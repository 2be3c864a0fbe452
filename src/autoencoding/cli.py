"""The ``autoencoding`` command.

    autoencoding train                      # the main job: default recipe (vae) on digits
    autoencoding train vae --data digits --out runs/vae --epochs 50
    autoencoding evaluate runs/vae
    autoencoding encode runs/vae --data digits --out latents.npy
    torchrun --nproc-per-node 2 -m autoencoding.cli train ae --data digits --out runs/ae

Threading is set here, before torch starts (never by importing the library): OpenMP waits
passively, and small models run on one thread, which is several times faster on small CPUs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from .errors import AutoencodingError, TrainingDiverged  # noqa: E402
from .guards import check_output  # noqa: E402

# Commands contributed by other modules: (module, function adding a subparser).
EXTRA_COMMANDS: list[tuple[str, str]] = [
    (".estimators.cli_commands", "add_detect_parser"),
    (".estimators.cli_commands", "add_impute_parser"),
    (".interp.cli", "add_sae_parser"),
    (".codec_cli", "add_compress_parsers"),
]


def _set_threads(spec: str, work: int) -> None:
    import torch

    if spec == "auto":
        # Below ~1M multiply-adds per sample-batch, thread hand-offs cost more than they save.
        n = 1 if work <= 2**22 else max(1, min(os.cpu_count() or 1, 8))
    else:
        try:
            n = int(spec)
        except ValueError:
            raise AutoencodingError(
                f"--threads: expected 'auto' or a number, got {spec!r}"
            ) from None
        if n < 1:
            raise AutoencodingError(f"--threads must be >= 1, got {n}")
    torch.set_num_threads(n)


def _read_config_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    p = Path(path)
    if not p.exists():
        raise AutoencodingError(f"--config: file {path!r} does not exist")
    text = p.read_text()
    try:
        if p.suffix.lower() == ".toml":
            import tomllib

            doc = tomllib.loads(text)
        elif p.suffix.lower() in (".yaml", ".yml"):
            doc = _yaml_load(text) or {}
        else:
            raise AutoencodingError(f"--config: expected a .toml, .yaml or .yml file, got {path!r}")
    except AutoencodingError:
        raise
    except Exception as e:
        raise AutoencodingError(f"--config: cannot parse {path} ({e})") from None
    if not isinstance(doc, dict):
        raise AutoencodingError(f"--config: {path} must hold a mapping of options")
    return {k.replace("-", "_"): v for k, v in doc.items()}


#: YAML 1.1 (PyYAML) reads 1e-3 as text: its float pattern wants a dot. Every float spelling
#: that Python and TOML accept (1e-3, 1E5, .5, 2.) is a number here.
_YAML_FLOAT = r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$"""


def _yaml_load(text: str) -> Any:
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(_YAML_FLOAT, re.X), list("-+0123456789.")
    )
    return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)


#: files a run folder holds: what makes a folder a run that --overwrite may clear
RUN_MARKERS = ("config.json", "model.safetensors", "checkpoint.safetensors", "metrics.jsonl")


def _claim_run_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """Make sure training into ``out`` loses nothing: an existing run is continued only with
    --resume and replaced only with --overwrite (which empties it first, so no file of the
    old run lingers); a folder that is not a run is never emptied."""
    if out.exists() and not out.is_dir():
        raise AutoencodingError(f"--out {out}: is a file; give a folder for the run")
    if resume and overwrite:
        raise AutoencodingError("--resume and --overwrite contradict each other; pick one")
    if resume or not out.exists() or not any(out.iterdir()):
        return
    if not any((out / m).exists() for m in RUN_MARKERS):
        raise AutoencodingError(
            f"--out {out}: the folder is not empty and holds no run; choose a new or empty "
            f"folder"
        )
    if not overwrite:
        raise AutoencodingError(
            f"--out {out}: already holds a run; pass --resume to continue it or --overwrite "
            f"to replace it"
        )
    import shutil

    for child in out.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def _parse_value(text: str) -> Any:
    try:
        return _yaml_load(text)
    except Exception:
        return text


def _set_nested(target: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        target = target.setdefault(k, {})
        if not isinstance(target, dict):
            raise AutoencodingError(f"--set {dotted}: {k!r} is not a group of options")
    target[keys[-1]] = value


TRAIN_FLAGS = (
    "epochs",
    "batch_size",
    "lr",
    "seed",
    "device",
    "optimizer",
    "schedule",
    "early_stopping",
    "checkpoint_every",
)

SPLIT_FILE = "split.json"  # in the run folder: the held-out test rows and how they were drawn


def _merge_options(
    args: argparse.Namespace, parser: argparse.ArgumentParser, file_opts: dict[str, Any]
) -> dict[str, Any]:
    """File options under command-line flags: a flag given explicitly always wins."""
    opts = dict(file_opts)
    known = {a.dest for a in parser._actions} | {"model", "train"}
    unknown = sorted(set(opts) - known)
    if unknown:
        raise AutoencodingError(
            f"--config: unknown option(s) {unknown}; known: {sorted(known - {'help', 'config'})}"
        )
    for key, value in vars(args).items():
        if key in ("func", "config"):
            continue
        if value != parser.get_default(key) or key not in opts:
            opts[key] = value
    return opts


# -- train ------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import numpy as np

    from . import api
    from .data import load_data, split_indices
    from .recipes import get_recipe
    from .train.distributed import init_from_env

    opts = _merge_options(args, parser, _read_config_file(args.config))
    init_from_env(str(opts.get("device") or "cpu"))
    recipe = opts["recipe"] or "vae"
    get_recipe(recipe)
    model: dict[str, Any] = dict(opts.get("model") or {})
    train: dict[str, Any] = dict(opts.get("train") or {})
    if opts.get("latent_dim") is not None:
        model["latent_dim"] = opts["latent_dim"]
    if opts.get("net"):
        model["encoder"] = {"name": opts["net"]}
    for flag in TRAIN_FLAGS:
        if opts.get(flag) is not None:
            train[flag] = opts[flag]
    train["progress"] = not opts.get("quiet", False)
    for item in opts.get("set") or []:
        if "=" not in item:
            raise AutoencodingError(f"--set: expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        group, _, rest = key.partition(".")
        if group not in ("model", "train") or not rest:
            raise AutoencodingError(f"--set {key}: keys start with 'model.' or 'train.'")
        _set_nested(model if group == "model" else train, rest, _parse_value(value))
    columns = opts["columns"].split(",") if opts.get("columns") else None
    check_output(opts["out"] or "runs/x", "folder")  # before the data is read
    ds = load_data(opts["data"], columns=columns, label=opts.get("label"))
    test_fraction = float(opts["test_fraction"])
    # The test split has its own fixed seed, never the training seed: runs with different
    # --seed then score on the same rows, and no seed trains on another seed's test rows.
    split_seed = int(opts["split_seed"])
    tr, te = split_indices(len(ds.x), test_fraction, split_seed, ds.y)
    out = Path(opts["out"] or f"runs/{recipe}-{Path(str(opts['data'])).stem}")
    _claim_run_folder(out, resume=bool(opts["resume"]), overwrite=bool(opts.get("overwrite")))
    from .data import Dataset

    train_ds = Dataset(
        ds.x[tr], ds.y[tr] if ds.y is not None else None, ds.name, ds.feature_names, ds.value_range
    )
    batch = int(train.get("batch_size", get_recipe(recipe).train.get("batch_size", 64)))
    _set_threads(opts["threads"], int(np.prod(ds.sample_shape)) * batch * 256)
    trained = api.fit(
        recipe,
        train_ds,
        model=model,
        train=train,
        scaling=opts["scaling"],
        out=out,
        resume=opts["resume"],
    )
    if not _is_main():
        return 0
    trained.info["split"] = {
        "data": str(opts["data"]),
        "test_fraction": test_fraction,
        "split_seed": split_seed,
        "columns": columns,
        "label": opts.get("label"),
        "file": SPLIT_FILE,
    }
    trained.save(out)
    _write_split(out, trained.info["split"], len(ds.x), te)
    if len(te):
        metrics = _evaluate_and_report(
            trained,
            out,
            ds.x[te],
            ds.y[te] if ds.y is not None else None,
            ds.x[tr],
            ds.y[tr] if ds.y is not None else None,
        )
        print(f"test metrics ({len(te)} samples):")
        _print_metrics(metrics)
    print(f"run folder: {out}")
    return 0


def _print_metrics(metrics: dict[str, Any], prefix: str = "") -> None:
    """One metric a line; nested groups (sample quality per sampler) as prefixed names."""
    for k, v in metrics.items():
        if isinstance(v, dict):
            _print_metrics(v, f"{prefix}{k}/")
        else:
            name = f"{prefix}{k}"
            print(f"  {name:28s} {v:.6g}" if isinstance(v, float) else f"  {name:28s} {v}")


def _write_split(out: Path, record: dict[str, Any], n_rows: int, test_rows) -> None:
    """The held-out rows themselves, so evaluation never has to re-draw them."""
    doc = {k: v for k, v in record.items() if k != "file"}
    doc |= {"n_rows": int(n_rows), "test_indices": [int(i) for i in test_rows]}
    (Path(out) / SPLIT_FILE).write_text(json.dumps(doc, indent=1) + "\n")


def _read_split(run: str | Path) -> dict[str, Any] | None:
    path = Path(run) / SPLIT_FILE
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
        doc["test_indices"] = [int(i) for i in doc["test_indices"]]
        doc["n_rows"] = int(doc["n_rows"])
    except (ValueError, KeyError, TypeError) as e:
        raise AutoencodingError(f"{path}: not a readable split file ({e})") from None
    return doc


def _test_split(run: str | Path, split: dict[str, Any], ds):
    """(train rows, test rows) of ``ds`` as the run held them out.

    The run folder's split.json gives the rows; a run written before it existed records only
    the seed of its split (``seed``, which was the training seed), so its split is re-drawn.
    """
    import numpy as np

    from .data import split_indices

    n = len(ds.x)
    stored = _read_split(run)
    if stored is None:
        seed = split["split_seed"] if "split_seed" in split else split["seed"]
        return split_indices(n, split["test_fraction"], seed, ds.y)
    path = Path(run) / SPLIT_FILE
    if stored["n_rows"] != n:
        raise AutoencodingError(
            f"{path}: the test split was drawn from {stored['n_rows']} rows of "
            f"{stored.get('data')!r}, but it now has {n} rows; pass --data to evaluate on "
            "other data"
        )
    te = np.asarray(stored["test_indices"], dtype=np.int64)
    if len(te) and (te.min() < 0 or te.max() >= n or len(np.unique(te)) != len(te)):
        raise AutoencodingError(f"{path}: test indices must be distinct rows in [0, {n})")
    return np.setdiff1d(np.arange(n), te), te


def _is_main() -> bool:
    from .train.distributed import is_main

    return is_main()


def _evaluate_and_report(
    trained, out: Path, x, y, x_train=None, y_train=None, name: str = "metrics.json"
) -> dict[str, Any]:
    import numpy as np

    from . import report
    from .evaluate import evaluate_model

    xt = trained.transform_scaled(x)
    xtr = trained.transform_scaled(x_train) if x_train is not None else None
    metrics = evaluate_model(trained.module, xt, y, xtr, y_train)
    if "active_units" in metrics and metrics["active_units"] == 0:
        print(
            "warning: posterior collapse — no active latent units; lower beta, add KL "
            "warm-up or free bits, or use the likelihood that fits the data",
            file=sys.stderr,
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)  # only now: a refused input leaves no folder
    sample_figures: list[Path] = []
    if xtr is not None:  # sample quality needs the training data (features, copy ratio)
        from .evaluate.samples import evaluate_samples

        samples, sample_figures = evaluate_samples(trained.module, xt, xtr, y_train, out)
        if samples:
            metrics["samples"] = samples
    (out / name).write_text(json.dumps(metrics, indent=2))
    figures = []
    if trained.history:
        figures.append(report.loss_curve(trained.history, out / "loss_curve.png"))
    if len(trained.module.input_shape) == 3:
        n = min(10, len(x))
        rec = trained.module.reconstruct(xt[:n]).cpu().numpy()
        rows, labels = [xt[:n].cpu().numpy(), rec], ["data", "reconstruction"]
        if trained.module.default_sampler() is not None:
            import torch

            g = torch.Generator().manual_seed(0)
            rows.append(trained.module.sample(n, generator=g).cpu().numpy())
            labels.append(f"samples ({trained.module.default_sampler()})")
        # image grids show the scaled data, which lies in [0, 1] for images by default
        figures.append(
            report.image_grid([np.asarray(r) for r in rows], labels, out / "reconstructions.png")
        )
    report.write_html(
        out,
        f"autoencoding run: {trained.config.recipe}",
        metrics,
        {"model": trained.module.config_dict(), "info": trained.info},
        figures + sample_figures,
    )
    return metrics


# -- use a trained model ----------------------------------------------------------------------
def _load_x(spec: str, model_info: dict[str, Any], columns: str | None):
    from .data import load_data

    table = Path(spec).suffix.lower() in (".csv", ".parquet", ".pq")
    split = model_info.get("split") or {}
    cols = columns.split(",") if columns else (split.get("columns") if table else None)
    label = split.get("label") if table else None
    try:
        return load_data(spec, columns=cols, label=label)
    except AutoencodingError:
        if label is None:
            raise
        return load_data(spec, columns=cols)


def cmd_evaluate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from . import api
    from .data import load_data

    if args.out and not args.data:
        raise AutoencodingError("--out is for evaluations on --data; the test split's go to RUN")
    if args.out:
        check_output(args.out, "folder")
    trained = api.load(args.run)
    split = trained.info.get("split") or _read_split(args.run) or {}
    out = Path(args.run)
    if args.data:
        # other data never writes over the training report: its own folder
        out = Path(args.out or Path(args.run) / f"eval-{Path(str(args.data)).stem}")
        if out.exists() and not out.is_dir():
            raise AutoencodingError(f"--out {out}: is a file; give a folder")
        if out.resolve() == Path(args.run).resolve():
            raise AutoencodingError("--out: give a folder other than the run's own")
        ds = _load_x(args.data, trained.info, args.columns)
        x, y, xtr, ytr = ds.x, ds.y, None, None
    elif split:
        ds = load_data(split["data"], columns=split.get("columns"), label=split.get("label"))
        tr, te = _test_split(args.run, split, ds)
        y = ds.y[te] if ds.y is not None else None
        ytr = ds.y[tr] if ds.y is not None else None
        x, xtr = ds.x[te], ds.x[tr]
    else:
        raise AutoencodingError(f"{args.run}: no --data given and the run records no test split")
    metrics = _evaluate_and_report(trained, out, x, y, xtr, ytr)
    print(json.dumps(metrics, indent=2))
    return 0


#: what --out may name for arrays, by suffix (written exactly where asked)
ARRAY_SUFFIXES = (".npy", ".csv", ".parquet", ".pq")


def _check_out(path: str) -> Path:
    """The --out path for an array, checked before any work starts."""
    p = Path(path)
    if p.suffix.lower() not in ARRAY_SUFFIXES:
        raise AutoencodingError(
            f"--out {path}: unknown file type {p.suffix or '(none)'!r}; expected a name ending "
            f"in {', '.join(ARRAY_SUFFIXES)}"
        )
    return check_output(p, "file")


def _write_array(path: str, arr) -> None:
    import numpy as np

    p = _check_out(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    flat = arr.reshape(len(arr), -1)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        np.savetxt(p, flat, delimiter=",", fmt="%.7g")
    elif suffix == ".npy":
        with open(p, "wb") as fh:  # a file handle: np.save would append .npy to other names
            np.save(fh, arr)
    else:
        import pandas as pd

        pd.DataFrame(flat, columns=[f"c{i}" for i in range(flat.shape[1])]).to_parquet(p)
    print(f"wrote {arr.shape} to {p}")


def cmd_encode(args, parser) -> int:
    from . import api

    _check_out(args.out)
    trained = api.load(args.run)
    x = _load_x(args.data, trained.info, args.columns).x
    _write_array(args.out, trained.encode(x, codes=args.codes, pool=args.pool))
    return 0


def cmd_reconstruct(args, parser) -> int:
    from . import api

    _check_out(args.out)
    trained = api.load(args.run)
    x = _load_x(args.data, trained.info, args.columns).x
    _write_array(args.out, trained.reconstruct(x))
    return 0


def cmd_sample(args, parser) -> int:
    from . import api

    if args.n < 1:
        raise AutoencodingError(f"-n must be >= 1, got {args.n}")
    _check_out(args.out)
    trained = api.load(args.run)
    _write_array(args.out, trained.sample(args.n, seed=args.seed, sampler=args.sampler))
    return 0


def cmd_recipes(args, parser) -> int:
    from .recipes import RECIPES

    for name in RECIPES.names():
        r = RECIPES.get(name)
        print(f"{name:16s} {r.summary}\n{'':16s} paper: {r.paper}")
    return 0


def cmd_datasets(args, parser) -> int:
    from .data import describe_datasets

    for name, doc in describe_datasets().items():
        print(f"{name:20s} {doc}")
    print("\nAlso: any .npy, .csv or .parquet file (numeric columns; --columns to choose).")
    return 0


# -- parser -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="autoencoding",
        description="Train, evaluate and use autoencoders. `autoencoding train` with no "
        "arguments trains the default recipe (vae) on the built-in digits.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train a recipe on data and write a run folder",
        description="Train RECIPE on --data; hold out a test split (drawn with "
        "--split-seed, not --seed), evaluate on it and write the run folder (model, "
        "split.json, metrics, figures, report.html).",
    )
    t.add_argument(
        "recipe",
        nargs="?",
        default=None,
        help="recipe name (default vae); see `autoencoding recipes`",
    )
    t.add_argument(
        "--data",
        default="digits",
        help="built-in dataset, synthetic:NAME, or a .npy/.csv/.parquet file (default digits)",
    )
    t.add_argument("--out", default=None, help="run folder (default runs/RECIPE-DATA)")
    t.add_argument(
        "--config",
        default=None,
        help="TOML or YAML file giving any of these options (plus model: and train: tables)",
    )
    t.add_argument("--columns", default=None, help="comma-separated columns of a CSV/Parquet")
    t.add_argument("--label", default=None, help="label column of a CSV/Parquet (for probes)")
    t.add_argument("--latent-dim", type=int, default=None, help="size of the latent code")
    t.add_argument("--net", default=None, help="encoder/decoder: mlp or conv2d")
    t.add_argument("--epochs", type=int, default=None, help="training epochs")
    t.add_argument("--batch-size", type=int, default=None, help="samples per step")
    t.add_argument("--lr", type=float, default=None, help="peak learning rate")
    t.add_argument("--optimizer", default=None, help="adam or adamw")
    t.add_argument("--schedule", default=None, help="constant, cosine or wsd")
    t.add_argument(
        "--early-stopping",
        type=int,
        default=None,
        help="patience in epochs on the validation loss (0 = off)",
    )
    t.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help="steps between checkpoints (0 = every epoch)",
    )
    t.add_argument(
        "--seed",
        type=int,
        default=None,
        help="training seed: initialisation, batch order, validation rows (default 0)",
    )
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto")
    t.add_argument(
        "--scaling",
        default="auto",
        help="auto, none, standard, minmax or range (fitted on the training split)",
    )
    t.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="fraction held out for test metrics (default 0.2)",
    )
    t.add_argument(
        "--split-seed",
        type=int,
        default=0,
        help="seed of the test split (default 0); the split does not move with --seed, so "
        "runs of different seeds score on the same test rows (stored in split.json)",
    )
    t.add_argument("--threads", default="auto", help="torch threads (auto: 1 for small models)")
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any model or training option, e.g. model.bottleneck.beta=4 or "
        "train.grad_clip=1 (repeatable)",
    )
    t.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    t.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (its files are removed first)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser(
        "evaluate",
        help="metrics of a trained model",
        description="Evaluate a run folder on its recorded test split (the rows in its "
        "split.json), or on --data.",
    )
    e.add_argument("run", help="run / model folder")
    e.add_argument("--data", default=None, help="data to evaluate on (default: the test split)")
    e.add_argument(
        "--out",
        default=None,
        help="folder for an evaluation on --data (default RUN/eval-DATA; never the run's own "
        "report)",
    )
    e.add_argument("--columns", default=None, help="comma-separated columns of a CSV/Parquet")
    e.set_defaults(func=cmd_evaluate)

    for name, fn, helptext in (
        ("encode", cmd_encode, "write latent codes"),
        ("reconstruct", cmd_reconstruct, "write reconstructions"),
    ):
        c = sub.add_parser(name, help=helptext, description=f"{helptext} of --data.")
        c.add_argument("run", help="run / model folder")
        c.add_argument("--data", required=True, help="data source (as for train)")
        c.add_argument(
            "--out",
            required=True,
            help="output file: .npy, .csv or .parquet (written exactly there)",
        )
        c.add_argument("--columns", default=None, help="comma-separated columns")
        if name == "encode":
            c.add_argument(
                "--codes", action="store_true", help="write integer codes (quantized bottlenecks)"
            )
            c.add_argument(
                "--pool",
                default=None,
                choices=["mean", "max", "meanmax", "cls", "tokens", "flatten", "none"],
                help="features per sample from shaped latents: mean (default for token "
                "latents: masked autoencoders), max, meanmax, cls, tokens (n, N, D), flatten; "
                "none = the "
                "latent as it is (the default for every other model)",
            )
        c.set_defaults(func=fn)

    s = sub.add_parser(
        "sample",
        help="draw samples from a generative model",
        description="Decode N latents drawn from a model's prior (a VAE's N(0, I)) or from a "
        "latent sampler fitted on its training codes after training (gmm).",
    )
    s.add_argument("run", help="run / model folder")
    s.add_argument("-n", type=int, default=16, help="number of samples")
    s.add_argument(
        "--out",
        default="samples.npy",
        help="output file: .npy, .csv or .parquet (written exactly there)",
    )
    s.add_argument("--seed", type=int, default=0, help="seed of the draws")
    s.add_argument(
        "--sampler",
        default=None,
        help="where latents come from: prior, or a fitted sampler such as gmm (default: the "
        "prior where the model has one, else its first fitted sampler)",
    )
    s.set_defaults(func=cmd_sample)

    sub.add_parser(
        "recipes", help="list the recipes", description="List the recipes with their papers."
    ).set_defaults(func=cmd_recipes)
    sub.add_parser(
        "datasets",
        help="list the built-in datasets",
        description="List built-in and synthetic datasets.",
    ).set_defaults(func=cmd_datasets)

    import importlib

    for module, fn in EXTRA_COMMANDS:
        getattr(importlib.import_module(module, __package__), fn)(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if vars(args).get("func") is None:
        args = parser.parse_args(["train", *(argv or [])])
    sub = parser._subparsers._group_actions[0].choices[args.command]  # type: ignore[union-attr]
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return args.func(args, sub) or 0
    except AutoencodingError as e:
        print(f"autoencoding {args.command}: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"autoencoding {args.command}: training diverged: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted; `--resume` continues from the last checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
