"""Protocol AD (shared/BENCHMARKS.md): unsupervised outlier detection on three tables, our
``AutoencoderOutlierDetector`` side by side with PyOD (AutoEncoder, VAE, IForest, ECOD, KNN)
and scikit-learn's IsolationForest, in one invocation.

Same data, seeds 0-4 (outlier draw and every method's random_state), one metric function
(ROC-AUC and average precision of the training rows' scores), fit+score wall time reported as
a ratio to PyOD's AutoEncoder from this run. PyOD runs in its own venv
(``bash benchmarks/setup_tabular_anchors.sh``); without it its columns are skipped.

    python benchmarks/ad.py                      # all datasets, seeds 0-4
    python benchmarks/ad.py --seeds 0 --no-anchors
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001  (threads: must come before torch)

import numpy as np  # noqa: E402
from _tabular import AD_SETS, SEEDS, ad_data, ad_metrics, timed  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402

from autoencoding.estimators import AutoencoderOutlierDetector  # noqa: E402

PYOD = _bench.ROOT / ".venvs" / "pyod" / "bin" / "python"
OURS = "autoencoding"
REFERENCE = "pyod_autoencoder"
ORDER = [
    OURS,
    "pyod_autoencoder",
    "pyod_vae",
    "pyod_iforest",
    "pyod_ecod",
    "pyod_knn",
    "sklearn_iforest",
]


def in_process(name: str, seed: int):
    """(fit+score callable) for the methods that run in this process; scores high = outlier."""
    if name == OURS:
        return lambda x: AutoencoderOutlierDetector(random_state=seed).fit(x).decision_scores_
    if name == "sklearn_iforest":
        return lambda x: -IsolationForest(random_state=seed).fit(x).score_samples(x)
    raise KeyError(name)


def run_pyod(data: dict[str, np.ndarray]) -> list[dict]:
    if not PYOD.exists():
        print(f"skipping PyOD: {PYOD} not found (bash benchmarks/setup_tabular_anchors.sh)")
        return []
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "ad.npz", Path(tmp) / "pyod.json"
        np.savez(inp, **data)
        subprocess.run(
            [
                str(PYOD),
                str(_bench.ROOT / "anchors" / "ad_pyod.py"),
                "--data",
                str(inp),
                "--out",
                str(out),
            ],
            check=True,
        )
        return json.loads(out.read_text())["runs"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--datasets", nargs="+", default=list(AD_SETS))
    p.add_argument("--no-anchors", action="store_true", help="skip PyOD")
    args = p.parse_args()

    data, labels = {}, {}
    for name in args.datasets:
        for s in args.seeds:
            data[f"{name}_{s}"], labels[(name, s)] = ad_data(name, s)

    runs: list[dict] = []
    # warm-up (lazy imports, first optimizer), not timed
    warm = data[next(iter(data))]
    for m in (OURS, "sklearn_iforest"):
        in_process(m, 0)(warm)
    for key, x in data.items():
        name, s = key.rsplit("_", 1)
        for m in (OURS, "sklearn_iforest"):
            scores, seconds = timed(lambda m=m, x=x, s=s: in_process(m, int(s))(x))
            runs.append(
                {
                    "model": m,
                    "dataset": name,
                    "seed": int(s),
                    "seconds": seconds,
                    "scores": np.asarray(scores).tolist(),
                }
            )
            print(f"{m} {name} seed {s}: {seconds:.2f}s", flush=True)
    if not args.no_anchors:
        runs += run_pyod(data)

    for r in runs:
        r.update(ad_metrics(labels[(r["dataset"], r["seed"])], np.asarray(r["scores"])))
        del r["scores"]
    models = [m for m in ORDER if any(r["model"] == m for r in runs)]
    summary: dict = {}
    for m in models:
        summary[m] = {}
        for name in args.datasets:
            rs = [r for r in runs if r["model"] == m and r["dataset"] == name]
            summary[m][name] = {
                k: [float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs]))]
                for k in ("roc_auc", "ap", "seconds")
            }
        summary[m]["mean_roc_auc"] = float(
            np.mean([summary[m][n]["roc_auc"][0] for n in args.datasets])
        )
    ref = REFERENCE if REFERENCE in summary else None
    lines = [
        "ROC-AUC (mean ± std over seeds " + ", ".join(map(str, args.seeds)) + "):",
        "",
        "| dataset | " + " | ".join(models) + " |",
        "|---" * (len(models) + 1) + "|",
    ]
    for name in args.datasets:
        best = max(summary[m][name]["roc_auc"][0] for m in models)
        cells = []
        for m in models:
            mu, sd = summary[m][name]["roc_auc"]
            cell = f"{mu:.3f} ± {sd:.3f}"
            cells.append(f"**{cell}**" if mu == best else cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(
        "| mean | " + " | ".join(f"{summary[m]['mean_roc_auc']:.3f}" for m in models) + " |"
    )
    lines += [
        "",
        "Average precision:",
        "",
        "| dataset | " + " | ".join(models) + " |",
        "|---" * (len(models) + 1) + "|",
    ]
    for name in args.datasets:
        lines.append(
            f"| {name} | "
            + " | ".join(
                f"{summary[m][name]['ap'][0]:.3f} ± {summary[m][name]['ap'][1]:.3f}" for m in models
            )
            + " |"
        )
    lines += [
        "",
        "Fit+score seconds (mean over seeds)"
        + (f"; in brackets the ratio to {ref} in this run" if ref else "")
        + ":",
        "",
        "| dataset | " + " | ".join(models) + " |",
        "|---" * (len(models) + 1) + "|",
    ]
    for name in args.datasets:
        cells = []
        for m in models:
            sec = summary[m][name]["seconds"][0]
            ratio = f" ({sec / summary[ref][name]['seconds'][0]:.2f}×)" if ref else ""
            cells.append(f"{sec:.2f}{ratio}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    _bench.write_result(
        "ad",
        {
            "protocol": "AD",
            "seeds": args.seeds,
            "datasets": args.datasets,
            "summary": summary,
            "runs": runs,
        },
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
