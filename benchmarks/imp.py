"""Protocol IMP (shared/BENCHMARKS.md): imputation of values missing completely at random, our
``MaskedAutoencoderImputer`` side by side with scikit-learn's mean, KNN(5), IterativeImputer
(BayesianRidge) and IterativeImputer with ExtraTrees, in one invocation.

Data: standardized breast cancer, wine and diabetes tables; rates 0.2 and 0.5; seeds 0-4 (the
mask and every method's random_state). Metric (one function for all): RMSE on the masked
entries in standardized space. Times: total wall time per table (both rates, all seeds), also
as a ratio to IterativeImputer+ExtraTrees from this run. The methods of one cell run back to
back in one process, so they share the machine's load (``--jobs N`` runs N such tasks at a
time). scikit-learn's imputers run in-process.

    python benchmarks/imp.py                        # everything (the ExtraTrees anchor is slow)
    python benchmarks/imp.py --datasets wine --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001  (threads: must come before torch)

import numpy as np  # noqa: E402
from _tabular import IMP_RATES, IMP_SETS, SEEDS, imp_data, imp_rmse, timed  # noqa: E402
from sklearn.ensemble import ExtraTreesRegressor  # noqa: E402
from sklearn.experimental import enable_iterative_imputer  # noqa: E402,F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer  # noqa: E402

from autoencoding.estimators import MaskedAutoencoderImputer  # noqa: E402

OURS = "autoencoding"
REFERENCE = "iterative_extratrees"


def imputer(name: str, seed: int):
    return {
        OURS: lambda: MaskedAutoencoderImputer(random_state=seed),
        "mean": lambda: SimpleImputer(),
        "knn5": lambda: KNNImputer(n_neighbors=5),
        "iterative": lambda: IterativeImputer(random_state=seed),
        "iterative_extratrees": lambda: IterativeImputer(
            ExtraTreesRegressor(random_state=seed), random_state=seed
        ),
    }[name]()


METHODS = [OURS, "mean", "knn5", "iterative", "iterative_extratrees"]


def run_task(task: tuple[str, float, int, list[str]]) -> list[dict]:
    """Every method on one (dataset, rate, seed), back to back (so they share the load)."""
    name, rate, s, methods = task
    x, mask = imp_data(name, rate, s)
    holes = np.where(mask, np.nan, x)
    runs = []
    for m in methods:
        filled, sec = timed(lambda m=m: imputer(m, s).fit_transform(holes))
        rmse = imp_rmse(x, filled, mask)
        runs.append(
            {
                "method": m,
                "dataset": name,
                "rate": rate,
                "seed": s,
                "rmse": rmse,
                "seconds": sec,
                "observed_kept": bool(np.array_equal(filled[~mask], holes[~mask])),
            }
        )
        print(f"{name} {rate} seed {s} {m}: rmse {rmse:.3f} ({sec:.1f}s)", flush=True)
    return runs


def _keep(rs: list[dict], args: argparse.Namespace) -> list[dict]:
    if args.cache:
        with open(args.cache, "a") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rs)
    return rs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--datasets", nargs="+", default=list(IMP_SETS))
    p.add_argument("--rates", type=float, nargs="+", default=list(IMP_RATES))
    p.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    p.add_argument("--cache", default=None, help="JSONL file of finished tasks (resume)")
    p.add_argument(
        "--summarize-only", action="store_true", help="only tabulate the tasks in --cache"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="worker processes, one task (dataset, rate, seed) each; all methods of a task "
        "run back to back in one worker, so their time ratios stay comparable",
    )
    args = p.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)  # IterativeImputer convergence
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    # warm-up (lazy imports, first optimizer), not timed
    x, mask = imp_data(args.datasets[0], args.rates[0], 0)
    MaskedAutoencoderImputer(epochs=1, n_estimators=1).fit(np.where(mask, np.nan, x))

    tasks = [(n, r, s, args.methods) for n in args.datasets for r in args.rates for s in args.seeds]
    cached: list[dict] = []
    if args.cache:
        # finished tasks are appended to the cache file; a rerun skips them (resume)
        cache = Path(args.cache)
        if cache.exists():
            cached = [json.loads(line) for line in cache.read_text().splitlines() if line]
        done = {(c["dataset"], c["rate"], c["seed"]) for c in cached}
        tasks = [t for t in tasks if (t[0], t[1], t[2]) not in done]
    if args.summarize_only:
        tasks = []
    if args.jobs > 1:
        # workers each run whole tasks: small tables first, then seed by seed, so that an
        # interrupted run (see --cache) has whole tables and both rates of the big one
        import multiprocessing as mp

        order = {n: i for i, n in enumerate(("wine", "diabetes", "cancer"))}
        tasks.sort(key=lambda t: (order.get(t[0], 9), t[2], t[1]))
        with mp.get_context("fork").Pool(args.jobs) as pool:
            runs = [r for rs in pool.imap_unordered(run_task, tasks) for r in _keep(rs, args)]
    else:
        runs = [r for t in tasks for r in _keep(run_task(t), args)]
    runs = cached + runs
    if args.summarize_only:
        # a partial table: only methods and cells present in the cache
        args.datasets = [n for n in args.datasets if any(r["dataset"] == n for r in runs)]
        args.rates = [x for x in args.rates if any(r["rate"] == x for r in runs)]
        args.seeds = sorted({r["seed"] for r in runs})

    methods = [m for m in METHODS if m in args.methods]
    cells = [(n, r) for n in args.datasets for r in args.rates]
    summary: dict = {m: {} for m in methods}
    for m in methods:
        for n, r in cells:
            v = [x["rmse"] for x in runs if (x["method"], x["dataset"], x["rate"]) == (m, n, r)]
            summary[m][f"{n} {r}"] = [float(np.mean(v)), float(np.std(v))]
        for n in args.datasets:
            summary[m][f"{n} seconds"] = float(
                sum(x["seconds"] for x in runs if (x["method"], x["dataset"]) == (m, n))
            )
    lines = [
        "RMSE on the masked entries (standardized), mean ± std over seeds "
        + ", ".join(map(str, args.seeds))
        + "; best per row in bold:",
        "",
        "| cell | " + " | ".join(methods) + " |",
        "|---" * (len(methods) + 1) + "|",
    ]
    for n, r in cells:
        key = f"{n} {r}"
        best = min(summary[m][key][0] for m in methods)
        row = []
        for m in methods:
            mu, sd = summary[m][key]
            cell = f"{mu:.3f} ± {sd:.3f}"
            row.append(f"**{cell}**" if mu == best else cell)
        lines.append(f"| {key} | " + " | ".join(row) + " |")
    ref = REFERENCE if REFERENCE in methods else None
    lines += [
        "",
        "Total seconds per table (all rates and seeds)"
        + (f"; in brackets the ratio to {ref} in this run" if ref else "")
        + ":",
        "",
        "| table | " + " | ".join(methods) + " |",
        "|---" * (len(methods) + 1) + "|",
    ]
    for n in args.datasets:
        row = []
        for m in methods:
            sec = summary[m][f"{n} seconds"]
            ratio = f" ({sec / summary[ref][f'{n} seconds']:.2f}×)" if ref else ""
            row.append(f"{sec:.1f}{ratio}")
        lines.append(f"| {n} | " + " | ".join(row) + " |")
    if OURS in methods:
        kept = all(x["observed_kept"] for x in runs if x["method"] == OURS)
        lines += ["", f"Observed values returned unchanged by {OURS}: {kept}."]
    _bench.write_result(
        "imp",
        {
            "protocol": "IMP",
            "seeds": args.seeds,
            "datasets": args.datasets,
            "rates": args.rates,
            "summary": summary,
            "runs": runs,
        },
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
