"""Protocol AD-TYPES (shared/BENCHMARKS.md): is the outlier detector robust to the *kind* of
anomaly? ADBench's four synthetic types (local, global, dependency, clustered; see
``autoencoding.data.anomalies``) planted at 5% into each built-in table, our
``AutoencoderOutlierDetector`` side by side with PyOD's ECOD, IForest, KNN, LOF, AutoEncoder and
VAE at their defaults, on the same arrays, in one invocation.

Data, per table (wine, cancer = breast_cancer, digits, diabetes: the feature tables), kind and
seed 0-4: every row of the table is a normal row (the tables' class labels are not anomaly
labels, and ADBench's "majority class" would drop most of wine and digits); StandardScaler on
the normal rows; ``round(n / 19)`` anomalies (5% of the result) from
``synthetic_anomalies(x, kind, n_a, random_state=seed)``; StandardScaler on the concatenation,
as in protocol AD. Every method fits on all rows and scores them; ROC-AUC with outlier =
positive (``_tabular.ad_metrics``), seed s is every method's random_state.

Target (issue 15, item 5): our mean ROC-AUC >= the best anchor's mean, and in every table x kind
cell >= 0.95 x the best anchor of that cell.

    python benchmarks/ad_types.py                         # 4 tables x 4 kinds x seeds 0-4
    python benchmarks/ad_types.py --seeds 0 --no-anchors  # ours alone, quick

PyOD runs in ``benchmarks/.venvs/pyod`` (``bash benchmarks/setup_tabular_anchors.sh``). Its
scores are cached in ``results/tmp/ad_types_pyod.json`` keyed by a hash of the arrays, so a rerun
on identical data reuses them (``--fresh-anchors`` refits).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001  (threads: must come before torch)

import numpy as np  # noqa: E402
from _tabular import SEEDS, ad_metrics  # noqa: E402

from autoencoding.data.anomalies import KINDS, synthetic_anomalies  # noqa: E402
from autoencoding.estimators import AutoencoderOutlierDetector  # noqa: E402

PYOD = _bench.ROOT / ".venvs" / "pyod" / "bin" / "python"
CACHE = _bench.RESULTS / "tmp" / "ad_types_pyod.json"
TABLES = ("wine", "cancer", "digits", "diabetes")
OURS = "autoencoding"
ANCHORS = ["pyod_ecod", "pyod_iforest", "pyod_knn", "pyod_lof", "pyod_autoencoder", "pyod_vae"]
CONTAMINATION = 0.05


def table(name: str) -> np.ndarray:
    from sklearn import datasets

    loaders = {
        "wine": datasets.load_wine,
        "cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
    }
    if name not in loaders:
        raise ValueError(f"unknown table {name!r}; known: {', '.join(loaders)}")
    return loaders[name]().data.astype(np.float64)


def ad_types_data(name: str, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(X standardized, labels with anomaly = 1) for one table, kind and seed."""
    from sklearn.preprocessing import StandardScaler

    normal = StandardScaler().fit_transform(table(name))
    n_a = round(len(normal) * CONTAMINATION / (1 - CONTAMINATION))
    anomalies = synthetic_anomalies(normal, kind, n_a, random_state=seed)
    x = np.concatenate([normal, anomalies])
    y = np.r_[np.zeros(len(normal), int), np.ones(n_a, int)]
    return StandardScaler().fit_transform(x), y


def run_pyod(data: dict[str, np.ndarray], fresh: bool) -> list[dict]:
    if not PYOD.exists():
        print(f"skipping PyOD: {PYOD} not found (bash benchmarks/setup_tabular_anchors.sh)")
        return []
    h = hashlib.sha256()
    for k in sorted(data):
        h.update(k.encode())
        h.update(np.ascontiguousarray(data[k]).tobytes())
    digest = h.hexdigest()
    if not fresh and CACHE.exists():
        cached = json.loads(CACHE.read_text())
        if cached.get("data_sha256") == digest:
            print(f"PyOD scores reused from {CACHE} (same arrays)")
            return cached["runs"]
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "ad_types.npz", Path(tmp) / "pyod.json"
        np.savez(inp, **data)
        script = _bench.ROOT / "anchors" / "ad_types_pyod.py"
        cmd = [str(PYOD), str(script), "--data", str(inp), "--out", str(out)]
        subprocess.run(cmd, check=True)
        result = json.loads(out.read_text())
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(json.dumps({"data_sha256": digest, **result}))
    return result["runs"]


def ours(seed: int):
    return lambda x: (
        AutoencoderOutlierDetector(contamination=CONTAMINATION, random_state=seed)
        .fit(x)
        .decision_scores_
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--tables", nargs="+", default=list(TABLES))
    p.add_argument("--kinds", nargs="+", default=list(KINDS))
    p.add_argument("--no-anchors", action="store_true", help="skip PyOD")
    p.add_argument("--fresh-anchors", action="store_true", help="refit PyOD, ignore the cache")
    args = p.parse_args()

    data, labels = {}, {}
    for name in args.tables:
        for kind in args.kinds:
            for s in args.seeds:
                data[f"{name}-{kind}_{s}"], labels[(f"{name}-{kind}", s)] = ad_types_data(
                    name, kind, s
                )
    t_start, c_start = time.perf_counter(), time.process_time()
    runs: list[dict] = []
    ours(0)(data[next(iter(data))])  # warm-up (lazy imports, first optimizer), not timed
    for key, x in data.items():
        name, s = key.rsplit("_", 1)
        t0, c0 = time.perf_counter(), time.process_time()
        scores = ours(int(s))(x)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        runs.append(
            {
                "model": OURS,
                "dataset": name,
                "seed": int(s),
                "seconds": seconds,
                "cpu_seconds": cpu,
                "scores": np.asarray(scores).tolist(),
            }
        )
        print(f"{OURS} {name} seed {s}: {seconds:.2f}s", flush=True)
    ours_wall, ours_cpu = time.perf_counter() - t_start, time.process_time() - c_start
    if not args.no_anchors:
        runs += run_pyod(data, args.fresh_anchors)

    for r in runs:
        r.update(ad_metrics(labels[(r["dataset"], r["seed"])], np.asarray(r["scores"])))
        del r["scores"]
    models = [m for m in [OURS, *ANCHORS] if any(r["model"] == m for r in runs)]
    anchors = [m for m in models if m != OURS]
    cells = [f"{n}-{k}" for n in args.tables for k in args.kinds]
    summary: dict = {m: {} for m in models}
    for m in models:
        for c in cells:
            rs = [r for r in runs if r["model"] == m and r["dataset"] == c]
            summary[m][c] = {
                k: [float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs]))]
                for k in ("roc_auc", "ap", "seconds", "cpu_seconds")
            }
        summary[m]["mean_roc_auc"] = float(np.mean([summary[m][c]["roc_auc"][0] for c in cells]))

    extra = " | best anchor | ours / best |" if anchors else " |"
    head = "| table | kind | " + " | ".join(models) + extra
    lines = [
        "ROC-AUC (mean over seeds " + ", ".join(map(str, args.seeds)) + "), "
        f"{round(100 * CONTAMINATION)}% synthetic anomalies:",
        "",
        head,
        "|---" * (head.count("|") - 1) + "|",
    ]
    ratios, failing = {}, []
    for c in cells:
        vals = {m: summary[m][c]["roc_auc"][0] for m in models}
        best = max(vals.values())
        row = [f"**{v:.3f}**" if v == best else f"{v:.3f}" for v in vals.values()]
        if anchors:
            b = max(anchors, key=lambda m: vals[m])
            ratios[c] = vals[OURS] / vals[b]
            if ratios[c] < 0.95:
                failing.append(c)
            row += [b.removeprefix("pyod_"), f"{ratios[c]:.3f}"]
        table_, kind = c.split("-", 1)
        lines.append(f"| {table_} | {kind} | " + " | ".join(row) + " |")
    means = [summary[m]["mean_roc_auc"] for m in models]
    blank = " | | |" if anchors else " |"
    lines.append("| mean | | " + " | ".join(f"{v:.3f}" for v in means) + blank)
    if anchors:
        best_mean = max(anchors, key=lambda m: summary[m]["mean_roc_auc"])
        ok = summary[OURS]["mean_roc_auc"] >= summary[best_mean]["mean_roc_auc"] and not failing
        lines += [
            "",
            f"Best anchor mean: {best_mean} {summary[best_mean]['mean_roc_auc']:.3f}; ours "
            f"{summary[OURS]['mean_roc_auc']:.3f}. Cells below 0.95 x the best anchor: "
            + (", ".join(f"{c} ({ratios[c]:.3f})" for c in failing) or "none")
            + f". Target {'met' if ok else 'NOT met'}.",
        ]
    lines += [
        "",
        "Fit+score seconds per array, wall / CPU (mean over cells and seeds):",
        "",
        "| " + " | ".join(models) + " |",
        "|---" * len(models) + "|",
        "| "
        + " | ".join(
            f"{np.mean([summary[m][c]['seconds'][0] for c in cells]):.2f} / "
            f"{np.mean([summary[m][c]['cpu_seconds'][0] for c in cells]):.2f}"
            for m in models
        )
        + " |",
        "",
        f"Ours in total: {ours_wall:.1f} s wall, {ours_cpu:.1f} s CPU; load average "
        + " ".join(f"{v:.1f}" for v in os.getloadavg())
        + ".",
    ]
    _bench.write_result(
        "ad_types",
        {
            "protocol": "AD-TYPES",
            "seeds": args.seeds,
            "tables": args.tables,
            "kinds": args.kinds,
            "contamination": CONTAMINATION,
            "summary": summary,
            "ratios_to_best_anchor": ratios,
            "runs": runs,
        },
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
