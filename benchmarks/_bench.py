"""Shared benchmark helpers: thread settings, protocol data, result files.

Import this module before torch: it sets ``OMP_WAIT_POLICY=PASSIVE`` and one thread (tiny
models on this 2-core CPU run many times faster that way) and pins BLAS threads.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
_BLAS = threadpool_limits(1)

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"


def gen_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Protocol GEN data: digits / 16, stratified 80/20 split with random_state 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)


def digits16() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Protocol MASK-IMG-PROBE data: digits / 16 upsampled bilinearly to 16×16 (torch's
    ``interpolate``, align_corners=False), shaped (n, 1, 16, 16), the GEN split
    (``train_test_split(test_size=0.2, random_state=0, stratify=y)``): 1437 / 360."""
    import torch.nn.functional as F

    xtr, xte, ytr, yte = gen_digits()
    up = [F.interpolate(torch.from_numpy(a).view(-1, 1, 8, 8), size=(16, 16), mode="bilinear",
                        align_corners=False).clamp(0, 1).numpy() for a in (xtr, xte)]  # fmt: skip
    return up[0], up[1], ytr, yte


def mnist1d() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Protocol MASK-TS-PROBE data: ``mnist1d.data.make_dataset`` with its default arguments
    (seed 42) and ``num_samples=10000`` (no download): 8000 / 2000 series of length 40,
    returned shaped (n, 1, 40) float32 with their labels. Needs the ``mnist1d`` package."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = 10000
    d = make_dataset(args)
    xtr, xte = (d[k][:, None].astype(np.float32) for k in ("x", "x_test"))
    return xtr, xte, np.asarray(d["y"]), np.asarray(d["y_test"])


def few_labels(y: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` labelled rows of each class (seeded): the label-scarce probe."""
    rng = np.random.default_rng(seed)
    rows = [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    return np.sort(np.concatenate(rows))


def mean_std(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.4g} ± {v.std():.2g}"


#: Reruns write to results/tmp/ (git-ignored) unless asked: the committed figures change only
#: on purpose, with AE_WRITE_RESULTS=1 in the environment.
WRITE_COMMITTED = os.environ.get("AE_WRITE_RESULTS") == "1"


def write_result(name: str, payload: dict, table: str | None = None) -> Path:
    out_dir = RESULTS if WRITE_COMMITTED else RESULTS / "tmp"
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M"),
               "command": "python " + " ".join(sys.argv), **payload}
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    if table:
        (out_dir / f"{name}.md").write_text(table + "\n")
        print(table)
    print(f"wrote {path}")
    return path
