"""What the scikit-learn estimators share: :class:`AutoencoderEstimatorBase` (declared parameter
constraints, standardization, training seeded members), input validation, seeding, thread
limits, and the helpers that resolve a recipe and train it with the library's
:class:`~autoencoding.train.Trainer`.

Why declared constraints: scikit-learn checks a ``_parameter_constraints`` table at the start of
``fit`` (``_fit_context``), so every bad hyper-parameter fails before any training with one
message shape ("The 'epochs' parameter of AutoencoderEmbedder must be an int in the range [1,
inf). Got 0 instead."), scikit-learn's ``check_param_validation`` can test that the table covers
exactly the ``__init__`` parameters (``tests/estimators/test_parameter_validation.py``), and the
parameters the three estimators share are declared once here.

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
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

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


def one_line(e: ValueError) -> ValueError:
    """``e`` with its message on one line (scikit-learn's NaN message runs to a paragraph of
    advice about other estimators): the first line and the first sentence of the next."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    if len(lines) <= 1:
        return e
    if "NaN" not in lines[0]:  # e.g. a 1-D array: keep scikit-learn's "Reshape your data" advice
        return type(e)(" ".join(lines))
    message = f"{lines[0]} {lines[1].split('. ')[0].rstrip('.')}."
    message += " Fill the missing values first, e.g. with MaskedAutoencoderImputer."
    return type(e)(message)


def validate_table(
    est: Any, X: Any, *, reset: bool, allow_nan: bool = False, min_samples: int = 2
) -> np.ndarray:
    """X as a float64 2-D array, checked the scikit-learn way.

    Records ``n_features_in_`` (and ``feature_names_in_`` for DataFrames) when ``reset``,
    and otherwise rejects a different feature count. NaN is allowed only when ``allow_nan``;
    infinity never is.
    """
    try:
        X = _validate_data(
            est,
            X,
            reset=reset,
            dtype=np.float64,
            ensure_all_finite="allow-nan" if allow_nan else True,
            ensure_min_samples=min_samples if reset else 1,
        )
    except ValueError as e:
        raise one_line(e) from None
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


def check_recipe(recipe: str) -> str:
    """``recipe`` if it names a registered recipe; otherwise a ValueError listing the known ones.

    A registry lookup rather than a declared ``StrOptions``: recipes register when their module
    is imported (a user's own recipes too), so a set frozen at class definition would miss some.
    """
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
    """The recipe's model config for samples of ``input_shape`` with the estimator's overrides.
    Estimators embed, score and impute; they fit no latent sampler unless asked to."""
    try:
        return resolve(recipe, list(input_shape), data_range, {"samplers": [], **(overrides or {})})
    except AutoencodingError as e:
        raise ValueError(str(e)) from None


def train_config(
    recipe: str, defaults: dict[str, Any], overrides: dict[str, Any] | None, seed: int
):
    """TrainConfig: recipe defaults < the estimator's defaults < the user's ``train`` dict."""
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
    from ..guards import check_model_memory
    from ..train.trainer import resolve_device

    check_model_memory(config, resolve_device(train.device))  # hidden=[10**9]: refused, named
    x_t = torch.as_tensor(x, dtype=torch.float32)
    val_t = torch.as_tensor(x_val, dtype=torch.float32) if x_val is not None else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train.seed)
        module = Autoencoder(config)
        history = Trainer(module, train).fit(x_t, val_t)
    module.double().eval()
    return module, history


#: An int >= 1 (epochs, rows per batch, code units, ensemble members, neighbours).
POSITIVE_INT = Interval(Integral, 1, None, closed="left")


class AutoencoderEstimatorBase(BaseEstimator):
    """What the autoencoder estimators do the same way: validate, standardize, train members.

    A subclass keeps its own ``__init__`` (scikit-learn reads the parameter names from its
    signature), adds its parameters to the shared constraints and validates in ``fit``::

        _parameter_constraints: dict = {
            **AutoencoderEstimatorBase._parameter_constraints,
            "n_estimators": [POSITIVE_INT],
        }

        @_fit_context(prefer_skip_nested_validation=True)   # runs _validate_params first
        def fit(self, X, y=None): ...

    ``prefer_skip_nested_validation``: no parameter is a user's scikit-learn estimator or
    function, so the estimators used inside ``fit`` (``NearestNeighbors``) only get arguments
    built here, and checking those again would be wasted work.
    """

    _parameter_constraints: dict = {
        "recipe": [str],  # which names exist: check_recipe, in _validate_params
        "latent_dim": [POSITIVE_INT, None],
        "hidden": ["array-like", None],
        "epochs": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        # TrainConfig's own bound, declared so a bad lr fails before any work
        "lr": [Interval(Real, 0, None, closed="neither")],
        "model": [dict, None],
        "train": [dict, None],
        "random_state": ["random_state"],
        # 0 threads means nothing; negative counts back from the CPUs (-1 = all of them)
        "n_jobs": [Interval(Integral, None, -1, closed="right"), POSITIVE_INT, None],
    }

    def _validate_params(self) -> None:
        """The declared constraints, then the recipe name (a registry lookup, see
        :func:`check_recipe`); both raise ValueError naming the parameter."""
        super()._validate_params()
        check_recipe(self.recipe)

    def _fit_standardization(self, x: np.ndarray) -> np.ndarray:
        """Record the columns' ``center_`` and ``scale_``; return x standardized with them."""
        self.center_ = x.mean(0)
        scale = x.std(0)
        scale[scale < 1e-8] = 1.0  # constant columns pass through centred
        self.scale_ = scale
        return (x - self.center_) / self.scale_

    def _train_members(
        self,
        x: np.ndarray,
        config: ModelConfig,
        n_members: int = 1,
        **defaults: Any,
    ) -> tuple[list[Autoencoder], list[list[dict[str, Any]]]]:
        """``n_members`` models of ``config`` trained on x, member i seeded ``seed + i`` where
        ``seed`` is drawn once from ``random_state`` (one member: the seed itself).

        Training settings, later ones winning: the recipe's, the estimator's ``epochs``,
        ``batch_size`` and ``lr`` (where not None), ``defaults``, the user's ``train`` dict.
        """
        seed = seed_from(self.random_state)
        params = self.get_params(deep=False)
        own = {k: params[k] for k in ("epochs", "batch_size", "lr")}
        defaults = {**{k: v for k, v in own.items() if v is not None}, **defaults}
        if "batch_size" in defaults:  # a table smaller than a batch trains on whole-table batches
            defaults["batch_size"] = int(min(defaults["batch_size"], len(x)))
        modules, histories = [], []
        with torch_threads(self.n_jobs):
            for i in range(n_members):
                train = train_config(self.recipe, defaults, self.train, seed + i)
                module, history = fit_module(x, config, train)
                modules.append(module)
                histories.append(history)
        return modules, histories


def as_input(x: np.ndarray) -> torch.Tensor:
    """A float64 tensor for a trained (float64) model."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))


def batched(fn, x: torch.Tensor, size: int = 4096) -> torch.Tensor:
    """``fn`` over row blocks of ``x`` without gradients (bounded memory on large inputs)."""
    with torch.no_grad():
        return torch.cat([fn(x[i : i + size]) for i in range(0, len(x), size)])
