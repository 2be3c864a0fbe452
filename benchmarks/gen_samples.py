"""Protocol GEN-SAMPLES (shared/BENCHMARKS.md): sample quality of generative autoencoders on
digits, ours beside pythae 0.1.2, every library's samples scored by one function.

Data and nets as protocol GEN (digits / 16, stratified 80/20 split, MLP 64-256-256-8,
batch 64); 1000 samples per model and sampler, clipped to [0, 1], scored by
``autoencoding.evaluate.samples.sample_quality`` against the 360 test images: FD in the
fixed classifier's 64-d tanh layer (and on pixels), precision / recall (k = 3, 10 subsets),
copy ratio, class coverage. The "data" row scores 1000 training images (the floor).

Ours: the recipes ``ae``, ``rae``, ``wae``, ``iwae``, ``vamp``, ``vae`` with their defaults,
sampled with the ``gmm`` latent sampler and/or the bottleneck's ``prior``; a recipe or sampler
not registered yet is skipped with a message. pythae: anchors/gen_samples_pythae.py in its
venv (bash benchmarks/setup_anchors.sh pythae), with its own GMM / normal / VAMP samplers;
skipped without the venv. NLL (importance-sampled, 200 proposals) for iwae, vamp and vae.
Per-epoch wall and CPU seconds of both libraries, run one after the other on one thread,
with the load average read before each run. Targets from issue 14 are marked met or not.

    python benchmarks/gen_samples.py --seeds 0 --epochs 100
    python benchmarks/gen_samples.py --seeds 0 1 2 --models ae vae --libs autoencoding
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402
import torch  # noqa: E402

import autoencoding as ae  # noqa: E402
from autoencoding.evaluate.metrics import has_likelihood, importance_nll  # noqa: E402
from autoencoding.evaluate.samples import N_SAMPLES, FeatureSpace, sample_quality  # noqa: E402
from autoencoding.parts.samplers import PRIOR, SAMPLERS  # noqa: E402
from autoencoding.recipes import RECIPES  # noqa: E402

#: model -> samplers scored (ours and pythae alike)
MODELS = {
    "ae": ("gmm",),
    "rae": ("gmm",),
    "wae": ("gmm", "prior"),
    "iwae": ("prior", "gmm"),
    "vamp": ("prior", "gmm"),
    "vae": ("prior", "gmm"),
}
NLL_MODELS = ("iwae", "vamp", "vae")
NETS = {"latent_dim": 8, "encoder": {"name": "mlp", "hidden": [256, 256]}}
FIGURES = ("fd", "fd_pixels", "precision", "recall", "copy_ratio", "class_coverage")
#: issue 14's targets, (model, sampler or None for the model) -> [(figure, op, bound)];
#: "time" is ours ÷ pythae per-epoch seconds
TARGETS = {
    ("ae", "gmm"): [("fd", "<=", 0.13), ("precision", ">=", 0.91), ("recall", ">=", 0.80),
                    ("copy_ratio", ">=", 1.0)],
    ("rae", "gmm"): [("fd", "<=", 0.17)],
    ("wae", "gmm"): [("fd", "<=", 0.19)],
    ("wae", "prior"): [("fd", "<=", 0.5)],
    ("vae", "gmm"): [("fd", "<=", 0.40)],
    ("iwae", "prior"): [("fd", "<=", 0.50)],
    ("iwae", None): [("nll", "<", 23.40)],
    ("vamp", None): [("nll", "<", 23.43)],
    **{(m, "time"): [("wall_ratio", "<=", 0.5), ("cpu_ratio", "<=", 0.5)] for m in MODELS},
}  # fmt: skip


def ours(recipe, seed, epochs, xtr, xte):
    """Samples, NLL and per-epoch times of our recipe, or a reason to skip it."""
    if recipe not in RECIPES:
        return f"recipe {recipe!r} is not registered yet"
    m = ae.fit(recipe, xtr, seed=seed, scaling="none", model=NETS,
               train={"epochs": epochs, "batch_size": 64, "val_fraction": 0,
                      "progress": False})  # fmt: skip
    have = ([PRIOR] if m.module.bottleneck.generative else []) + list(m.module.samplers)
    keyword = "sampler" in inspect.signature(m.sample).parameters
    out = {"s_per_epoch": float(np.mean([h["seconds"] for h in m.history])),
           "cpu_s_per_epoch": float(np.mean([h["cpu_seconds"] for h in m.history])),
           "samples": {}}  # fmt: skip
    for s in MODELS[recipe]:
        if s != PRIOR and s not in SAMPLERS:
            print(f"  [ours] {recipe}: sampler {s!r} is not registered yet; skipped")
        elif s not in have:
            print(f"  [ours] {recipe}: has no sampler {s!r} (it has {have}); skipped")
        elif not keyword and s != m.module.default_sampler():
            print(f"  [ours] {recipe}: sample() takes no sampler=; {s!r} skipped")
        else:
            kw = {"sampler": s} if keyword else {}
            out["samples"][s] = m.sample(N_SAMPLES, seed=seed, **kw).reshape(N_SAMPLES, -1)
    if recipe in NLL_MODELS and has_likelihood(m.module):
        x = torch.as_tensor(xte, dtype=torch.float32)
        out["nll"] = importance_nll(m.module.eval(), x, 200, seed)
    return out


def pythae(model, seed, epochs):
    py = _bench.ROOT / ".venvs" / "pythae" / "bin" / "python"
    if not py.exists():
        return f"no venv at {py} (bash benchmarks/setup_anchors.sh pythae)"
    with tempfile.TemporaryDirectory() as tmp:
        res = Path(tmp) / "result.json"
        cmd = [str(py), str(_bench.ROOT / "anchors" / "gen_samples_pythae.py"), "--model", model,
               "--seed", str(seed), "--epochs", str(epochs), "--out", str(res)]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        meta = json.loads(res.read_text())
        arrays = np.load(res.with_suffix(".npz"))
        out = {"s_per_epoch": meta["s_per_epoch"], "cpu_s_per_epoch": meta["cpu_s_per_epoch"],
               "samples": {k[len("samples_"):]: arrays[k] for k in arrays.files
                           if k.startswith("samples_")}}  # fmt: skip
        if "log_px" in arrays.files:
            out["nll"] = float(-arrays["log_px"].mean())
    return out


def score(samples, xtr, xte, ytr, fs, seed):
    return sample_quality(samples, xtr, xte, ytr, features=fs, value_range=(0.0, 1.0), seed=seed)


def _check(value, op, bound):
    if value is None or not np.isfinite(value):
        return None
    return value <= bound if op == "<=" else value >= bound if op == ">=" else value < bound


def _fmt(v, digits=3):
    return "–" if v is None else f"{v:.{digits}f}"


def _row(model, sampler, lib, f, nll, wall, cpu):
    cells = [model, sampler, lib, _fmt(f["fd"]), _fmt(f["fd_pixels"]), _fmt(f["precision"], 2),
             _fmt(f["recall"], 2), _fmt(f["copy_ratio"], 2), _fmt(f["class_coverage"], 1),
             _fmt(nll, 2), _fmt(wall, 4), _fmt(cpu, 4)]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def summarize(res, args):
    """Mean over seeds per (library, model, sampler) and the markdown table."""

    def mean(lib, model, key, sampler=None):
        runs = res.get(lib, {}).get(model, [])
        vals = [r["figures"][sampler][key] if sampler else r.get(key) for r in runs
                if (sampler is None or sampler in r["figures"]) and
                (sampler or r.get(key) is not None)]  # fmt: skip
        vals = [v for v in vals if v is not None]
        return float(np.mean(vals)) if vals else None

    head = ("| model | sampler | lib | FD | FD pixels | precision | recall | copy ratio | "
            "classes | NLL | s/epoch | CPU s/epoch |")  # fmt: skip
    lines = [f"GEN-SAMPLES, seeds {args.seeds}, {args.epochs} epochs, {N_SAMPLES} samples, "
             "FD in the classifier's tanh-64 space; mean over seeds", "", head,
             "|" + "---|" * 12]  # fmt: skip
    d = res.get("data")
    if d:
        f = {k: float(np.mean([r[k] for r in d])) for k in FIGURES}
        lines.append(_row("data", "1000 train images", "–", f, None, None, None))
    summary, verdicts = {}, []
    for model in args.models:
        for lib in ("autoencoding", "pythae"):
            if not res.get(lib, {}).get(model):
                continue
            nll, wall, cpu = (
                mean(lib, model, k) for k in ("nll", "s_per_epoch", "cpu_s_per_epoch")
            )
            summary[f"{model}/{lib}"] = {"nll": nll, "s_per_epoch": wall, "cpu_s_per_epoch": cpu}
            for s in MODELS[model]:
                f = {k: mean(lib, model, k, s) for k in FIGURES}
                if f["fd"] is None:
                    continue
                summary[f"{model}/{lib}"][s] = f
                name = "ours" if lib == "autoencoding" else "pythae"
                lines.append(_row(model, s, name, f, nll, wall, cpu))
        o, p = summary.get(f"{model}/autoencoding"), summary.get(f"{model}/pythae")
        if o and p:
            o["wall_ratio"] = o["s_per_epoch"] / p["s_per_epoch"]
            o["cpu_ratio"] = o["cpu_s_per_epoch"] / p["cpu_s_per_epoch"]
    lines += ["", "Targets (ours, mean over seeds):", ""]
    for (model, s), checks in TARGETS.items():
        o = summary.get(f"{model}/autoencoding")
        if model not in args.models or not o:
            continue
        got = o if s in (None, "time") else o.get(s)
        if got is None:
            continue
        for key, op, bound in checks:
            ok = _check(got.get(key), op, bound)
            if ok is None:
                continue
            verdicts.append({"model": model, "sampler": s, "figure": key, "value": got[key],
                             "target": f"{op} {bound}", "met": bool(ok)})  # fmt: skip
            where = f"{model} + {s}" if s not in (None, "time") else model
            lines.append(f"- {where}: {key} {got[key]:.3f} {op} {bound}: "
                         f"{'met' if ok else 'NOT met'}")  # fmt: skip
    return summary, verdicts, "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--libs", nargs="+", choices=["autoencoding", "pythae"],
                   default=["autoencoding", "pythae"])  # fmt: skip
    args = p.parse_args()
    xtr, xte, ytr, _ = _bench.gen_digits()
    fs = FeatureSpace.fit(xtr, ytr)
    res: dict = {"data": []}
    for seed in args.seeds:
        pick = np.random.default_rng(seed).choice(len(xtr), N_SAMPLES, replace=False)
        res["data"].append(score(xtr[pick], xtr, xte, ytr, fs, seed))
    for model in args.models:
        for seed in args.seeds:
            for lib in args.libs:
                load = os.getloadavg()[0]
                got = ours(model, seed, args.epochs, xtr, xte) if lib == "autoencoding" \
                    else pythae(model, seed, args.epochs)  # fmt: skip
                if isinstance(got, str):
                    print(f"[{lib}] {model} skipped: {got}", flush=True)
                    continue
                figures = {
                    s: score(x, xtr, xte, ytr, fs, seed) for s, x in got.pop("samples").items()
                }
                run = {**got, "seed": seed, "load": load, "figures": figures}
                res.setdefault(lib, {}).setdefault(model, []).append(run)
                desc = ", ".join(f"{s}: FD {f['fd']:.3f} P {f['precision']:.2f} "
                                 f"R {f['recall']:.2f} copy {f['copy_ratio']:.2f}"
                                 for s, f in figures.items())  # fmt: skip
                nll = f", NLL {got['nll']:.2f}" if got.get("nll") is not None else ""
                times = f"{got['s_per_epoch']:.4f} s/epoch wall, {got['cpu_s_per_epoch']:.4f} CPU"
                print(
                    f"{model} seed {seed} {lib}: {desc}{nll}; {times}, load {load:.2f}", flush=True
                )
    summary, verdicts, table = summarize(res, args)
    loads = [r["load"] for lib in args.libs for runs in res.get(lib, {}).values() for r in runs]
    if loads:
        table += f"\n\nLoad average (1 min) before the runs: {min(loads):.2f}–{max(loads):.2f}"
    _bench.write_result("gen_samples",
                        {"seeds": args.seeds, "epochs": args.epochs, "feature_space": fs.name,
                         "summary": summary, "targets": verdicts, "runs": res},
                        table)  # fmt: skip


if __name__ == "__main__":
    main()
