"""Claim-check for ``AutoencoderEmbedder`` (Shirmard et al., "Remote sensing framework for
geological mapping via stacked autoencoders and clustering", 2022): clustering a stacked
autoencoder's codes with k-means maps classes better than k-means on PCA components of the same
dimension.

Data: scikit-learn's digits (1797 rows, 64 pixels, 10 classes; labels only for scoring).
Pipelines, all fitted on every row without labels and scored by adjusted Rand index against
the digit classes, seeds 0-4 (the seed of the embedder and of k-means):

- ``Pipeline(AutoencoderEmbedder(latent_dim=10), KMeans(10))`` — stacked MLP autoencoder
  64-256-256-10 (ReLU), our defaults, standardized input;
- ``Pipeline(StandardScaler(), PCA(10), KMeans(10))`` — the linear baseline, same dimension;
- ``Pipeline(StandardScaler(), KMeans(10))`` — no reduction, for reference.

    python benchmarks/claims/embedder_kmeans.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from autoencoding.estimators import AutoencoderEmbedder  # noqa: E402

LATENT = 10


def pipelines(seed: int) -> dict[str, Pipeline]:
    km = KMeans(10, n_init=10, random_state=seed)
    return {
        "autoencoder + k-means": Pipeline(
            [("embed", AutoencoderEmbedder(latent_dim=LATENT, random_state=seed)), ("km", km)]
        ),
        "PCA + k-means": Pipeline(
            [("scale", StandardScaler()), ("pca", PCA(LATENT, random_state=seed)), ("km", km)]
        ),
        "k-means (standardized pixels)": Pipeline([("scale", StandardScaler()), ("km", km)]),
    }


def main(seeds=(0, 1, 2, 3, 4)) -> dict:
    b = load_digits()
    x, y = b.data.astype(np.float64), b.target
    rows: dict[str, dict[str, list[float]]] = {}
    for s in seeds:
        for name, pipe in pipelines(s).items():
            t0 = time.perf_counter()
            labels = pipe.fit_predict(x)
            sec = time.perf_counter() - t0
            r = rows.setdefault(name, {"ari": [], "seconds": []})
            r["ari"].append(float(adjusted_rand_score(y, labels)))
            r["seconds"].append(sec)
    table = [
        f"Digits, 10 clusters, codes of dimension {LATENT}, seeds {', '.join(map(str, seeds))}:",
        "",
        "| pipeline | adjusted Rand (mean ± std) | seconds per fit |",
        "|---|---|---|",
    ]
    for name, r in rows.items():
        table.append(f"| {name} | {_bench.mean_std(r['ari'])} | {np.mean(r['seconds']):.2f} |")
    ours, pca = (np.mean(rows[k]["ari"]) for k in ("autoencoder + k-means", "PCA + k-means"))
    verdict = "holds" if ours > pca else "does not hold"
    table += [
        "",
        f"Claim (autoencoder codes cluster better than PCA): {verdict} ({ours:.3f} vs {pca:.3f}).",
    ]
    payload = {
        "claim": "embedder_kmeans",
        "seeds": list(seeds),
        "latent_dim": LATENT,
        "rows": rows,
        "holds": bool(ours > pca),
    }
    _bench.write_result("claim_embedder_kmeans", payload, "\n".join(table))
    return payload


if __name__ == "__main__":
    main()
