"""What the scikit-learn estimators share: input validation, seeding, thread limits, and one
helper that resolves a recipe and trains it with the library's :class:`~autoencoding.train.Trainer`.

Why a thread limit: the models behind these estimators are tiny (a few thousand weights). With
several OpenMP threads each matrix product is too small to split, and the threads spin-wait
between products, which made small fits 14-20x slower on a 2-core machine. One thread is the
fastest setting for them, so ``n_jobs=None`` means one torch thread during ``fit`` and
prediction; the previous setting is restored afterwards.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state

from ..config import from_dict
from ..errors import AutoencodingError
from ..model import Autoencoder, ModelConfig
from ..recipes import get_recipe, resolve
from ..train import TrainConfig, Trainer

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(est, X="no_validation", y="no_validation", reset=True, **kw):
        if "ensure_all_finite" in kw:
            kw["force_all_finite"] = kw.pop("ensure_all_finite")
        return est._validate_data(X, y, reset=reset, **kw)


def validate_table(
    est: Any, X: Any, *, reset: bool, allow_nan: bool = False, min_samples: int = 2
) -> np.ndarray:
    """X as a float64 2-D array, checked the scikit-learn way.

    Records ``n_features_in_`` (and ``feature_names_in_`` for DataFrames) when ``reset``,
    and otherwise rejects a different feature count. NaN is allowed only when ``allow_nan``;
    infinity never is.
    """
    X = _validate_data(
        est,
        X,
        reset=reset,
        dtype=np.float64,
        ensure_all_finite="allow-nan" if allow_nan else True,
        ensure_min_samples=min_samples if reset else 1,
    )
    if allow_nan and np.isinf(X).any():
        row, col = np.argwhere(np.isinf(X))[0]
        raise ValueError(
            f"Input X contains infinity (first at row {row}, column {col}); only NaN marks a "
            f"missing value"
        )
    return np.asarray(X, dtype=np.float64)


def seed_from(random_state: Any) -> int:
    """One integer seed from a scikit-learn ``random_state`` (None, int or RandomState)."""
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def n_threads(n_jobs: int | None) -> int:
    """Torch threads for ``n_jobs`` (None → 1: fastest for the small models used here)."""
    if n_jobs is None:
        return 1
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None, a positive int or -1, got {n_jobs!r}")
    cpus = os.cpu_count() or 1
    return int(n_jobs) if n_jobs > 0 else max(1, cpus + 1 + int(n_jobs))


@contextlib.contextmanager
def torch_threads(n_jobs: int | None) -> Iterator[None]:
    """Run the block with ``n_threads(n_jobs)`` torch threads, then restore the old count."""
    want, old = n_threads(n_jobs), torch.get_num_threads()
    if want != old:
        torch.set_num_threads(want)
    try:
        yield
    finally:
        if want != old:
            torch.set_num_threads(old)


def check_recipe(recipe: Any) -> str:
    if not isinstance(recipe, str):
        raise ValueError(f"recipe must be a recipe name (str), got {recipe!r}")
    try:
        get_recipe(recipe)
    except AutoencodingError as e:
        raise ValueError(str(e)) from None
    return recipe


def model_config(
    recipe: str,
    input_shape: list[int],
    data_range: tuple[float, float],
    overrides: dict[str, Any] | None,
) -> ModelConfig:
    """The recipe's model config for samples of ``input_shape`` with the estimator's overrides."""
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError(f"model must be a dict of model-config overrides, got {overrides!r}")
    try:
        return resolve(recipe, list(input_shape), data_range, overrides)
    except AutoencodingError as e:
        raise ValueError(str(e)) from None


def train_config(
    recipe: str, defaults: dict[str, Any], overrides: dict[str, Any] | None, seed: int
):
    """TrainConfig: recipe defaults < the estimator's defaults < the user's ``train`` dict."""
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError(f"train must be a dict of training settings, got {overrides!r}")
    merged = {
        **get_recipe(recipe).train,
        **defaults,
        "progress": False,
        **(overrides or {}),
        "seed": seed,
    }
    try:
        cfg = from_dict(TrainConfig, merged, where="train")
        cfg.validate()
    except AutoencodingError as e:
        raise ValueError(str(e)) from None
    return cfg


def fit_module(
    x: np.ndarray | torch.Tensor,
    config: ModelConfig | dict[str, Any],
    train: TrainConfig,
    x_val: np.ndarray | None = None,
) -> tuple[Autoencoder, list[dict[str, Any]]]:
    """Build and train one model on scaled data ``x``, seeded from ``train.seed``.

    The weights are initialised and trained inside ``torch.random.fork_rng`` seeded from
    ``train.seed``, so no global random state is read or changed: the same seed and data give
    the same weights.

    The trained model is returned in float64: predictions then do not depend on how rows
    are batched (float32 matrix products round differently for different batch sizes, which
    breaks scikit-learn's "a subset gives the same answers" contract), and on small tables
    the cost is negligible.
    """
    x_t = torch.as_tensor(x, dtype=torch.float32)
    val_t = torch.as_tensor(x_val, dtype=torch.float32) if x_val is not None else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train.seed)
        module = Autoencoder(config)
        history = Trainer(module, train).fit(x_t, val_t)
    module.double().eval()
    return module, history


def as_input(x: np.ndarray) -> torch.Tensor:
    """A float64 tensor for a trained (float64) model."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))


def batched(fn, x: torch.Tensor, size: int = 4096) -> torch.Tensor:
    """``fn`` over row blocks of ``x`` without gradients (bounded memory on large inputs)."""
    with torch.no_grad():
        return torch.cat([fn(x[i : i + size]) for i in range(0, len(x), size)])
