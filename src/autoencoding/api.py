"""The Python API: ``fit`` a recipe on data, ``load`` a saved model, use it on NumPy arrays.

import autoencoding as ae
model = ae.fit("vae", "digits", train={"epochs": 20})
z = model.encode(x)            # raw data units in, latents out (scaling applied)
model.save("runs/vae")
model = ae.load("runs/vae")
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import from_dict, to_dict
from .data import Dataset, Scaler, check_array, load_data, split_indices
from .errors import AutoencodingError
from .evaluate.metrics import active_units_from_latents, latents
from .guards import check_array_memory, check_model_memory
from .io import read_folder, save_folder
from .model import Autoencoder, ModelConfig, migrate_model_config
from .recipes import RECIPES, derived_train, get_recipe, resolve
from .train import TrainConfig, Trainer
from .train.batches import ArrayBatches

#: validation rows and scaler-fitting rows kept when the data is streamed from disk
STREAMED_VAL_ROWS = 20_000
STREAMED_SAMPLE_ROWS = 100_000


class PosteriorCollapseWarning(UserWarning):
    """No latent dimension of a VAE carries information about the input."""


@dataclass
class TrainedModel:
    """A trained autoencoder with its scaler: NumPy in, NumPy out, in the data's own units."""

    module: Autoencoder
    scaler: Scaler
    info: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def config(self) -> ModelConfig:
        return self.module.config

    def _device(self) -> torch.device:
        return next(self.module.parameters()).device

    def _prepare(self, x: Any, what: str) -> torch.Tensor:
        arr = check_array(x, what)
        flat_n = int(np.prod(arr.shape[1:]))
        shape = self.module.input_shape
        if None in shape:  # a fully convolutional model: free sizes take the data's own
            if len(arr.shape) - 1 == len(shape) and all(
                s is None or s == n for s, n in zip(shape, arr.shape[1:], strict=True)
            ):
                shape = arr.shape[1:]
            else:
                sizes = ", ".join("any" if s is None else str(s) for s in shape)
                raise AutoencodingError(
                    f"{what}: the model expects samples shaped ({sizes}), got "
                    f"{list(arr.shape[1:])}"
                )
        elif arr.shape[1:] != shape and flat_n != self.module.n_features:
            raise AutoencodingError(
                f"{what}: the model expects {self.module.n_features} features per sample "
                f"(shape {list(self.module.input_shape)}), got {list(arr.shape[1:])}"
            )
        arr = self.scaler.transform(arr.reshape(len(arr), *shape))
        return torch.from_numpy(arr).to(self._device())

    def transform_scaled(self, x: Any) -> torch.Tensor:
        """Validate and scale raw data into the model's input space."""
        return self._prepare(x, "data")

    def encode(self, x: Any, codes: bool = False, pool: str | None = None) -> np.ndarray:
        """Latent codes of raw samples (posterior means for VAEs; indices with ``codes``).
        ``pool`` summarises shaped latents per sample: ``mean`` (the default for token
        latents, e.g. ``mae``, ``patch-mae``: (n, D), or (n, C·D) for C channel-independent
        series channels), ``max``, ``meanmax``, ``cls``, ``tokens`` (n, N, D), ``flatten``,
        ``none``."""
        return self.module.encode(self._prepare(x, "encode"), codes=codes, pool=pool).cpu().numpy()

    def reconstruct(self, x: Any) -> np.ndarray:
        rec = self.module.reconstruct(self._prepare(x, "reconstruct")).cpu().numpy()
        return self.scaler.inverse_transform(rec)

    def compress(self, x: Any) -> bytes:
        """Raw samples as a bitstream (codec recipes such as ``bmshj-hyperprior``):
        :meth:`Autoencoder.compress` after scaling; :meth:`decompress` reverses it."""
        return self.module.compress(self._prepare(x, "compress"))

    def decompress(self, data: bytes) -> np.ndarray:
        """The reconstruction coded in ``data``, in the data's own units."""
        return self.scaler.inverse_transform(self.module.decompress(data).cpu().numpy())

    def decode(self, z: Any) -> np.ndarray:
        arr = np.asarray(z)
        if arr.dtype.kind not in "biuf":
            raise AutoencodingError(
                f"decode: expected numeric latents (or integer codes), got dtype {arr.dtype}"
            )
        z = torch.as_tensor(arr).to(self._device())
        return self.scaler.inverse_transform(self.module.decode(z).cpu().numpy())

    def sample(self, n: int, seed: int = 0, sampler: str | None = None) -> np.ndarray:
        """n generated samples in the data's units. ``sampler``: ``prior`` (a VAE's own), a
        latent sampler fitted after training (``gmm``), or None for the model's default
        (its prior where it has one, else its first fitted sampler)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise AutoencodingError(f"sample: n must be a whole number >= 1, got {n!r}")
        if sampler is not None and not isinstance(sampler, str):
            raise AutoencodingError(f"sample: sampler must be a name, got {sampler!r}")
        # the samples, their float64 unscaling and the result: ~16 bytes per entry
        shape = (int(n), *(s or 1 for s in self.module.input_shape))
        check_array_memory(shape, 16, f"sample: {n} samples")
        g = torch.Generator(device=self._device()).manual_seed(seed)
        out = self.module.sample(int(n), generator=g, sampler=sampler)
        return self.scaler.inverse_transform(out.cpu().numpy())

    def fit_sampler(self, x: Any, sampler: str = "gmm", **options: Any) -> TrainedModel:
        """Fit (or refit) a latent sampler on the codes of raw data ``x`` (normally the
        training data), e.g. for a model trained without one; it is saved with the model.
        ``options`` are the sampler's settings (``components=20``)."""
        from .parts.base import build, normalize_spec
        from .parts.samplers import SAMPLERS

        spec = normalize_spec(SAMPLERS, {"name": sampler, **options})
        xs = self._prepare(x, "fit_sampler")
        part = build(SAMPLERS, spec, latent_shape=self.module.config.latent_shape)
        part.to(self._device())
        part.bind(self.module)
        was = self.module.training
        self.module.eval()
        try:
            part.fit(xs[i : i + 4096] for i in range(0, len(xs), 4096))
        finally:
            self.module.train(was)
        self.module.samplers[spec["name"]] = part
        kept = [s for s in self.module.config.samplers if s["name"] != spec["name"]]
        self.module.config.samplers = [*kept, spec]
        return self

    def save(self, path: str | Path) -> Path:
        return save_folder(
            path,
            self.module,
            {
                "recipe": self.module.config.recipe,
                "model": to_dict(self.module.config),
                "scaler": self.scaler.to_dict(),
                "info": self.info,
            },
        )


def load(path: str | Path, device: str = "cpu") -> TrainedModel:
    """Load a model folder written by :meth:`TrainedModel.save` (or ``autoencoding train``)."""
    from .io import load_weights
    from .train.trainer import resolve_device

    device = str(resolve_device(device))  # an unknown device is named before any work
    doc, weights = read_folder(path)
    if isinstance(doc["model"], dict):
        doc["model"] = migrate_model_config(doc["model"])  # folders of older releases
        # a default must never stand in for a stored setting (e.g. the likelihood)
        missing = [f.name for f in dataclasses.fields(ModelConfig) if f.name not in doc["model"]]
        if missing:
            raise AutoencodingError(f"{path}/config.json: missing model key(s) {missing}")
    where = f"{Path(path) / 'config.json'}"
    try:
        mcfg = from_dict(ModelConfig, doc["model"], where="model")
        for name in {mcfg.recipe, doc.get("recipe", mcfg.recipe)}:
            if name not in RECIPES:  # an edited or foreign name: say so, do not guess
                get_recipe(name)
        scaler = Scaler.from_dict(doc["scaler"])
        if not isinstance(doc.get("info", {}), dict):
            raise AutoencodingError(f"info: expected a mapping, got {str(doc['info'])[:60]}")
        check_model_memory(mcfg, device, training=False)  # before allocating any weight
        module = Autoencoder(mcfg)
    except AutoencodingError as e:
        raise AutoencodingError(f"{where}: {e}") from None
    load_weights(module, weights, Path(path))
    module.to(device).eval()
    return TrainedModel(module, scaler, doc.get("info", {}))


def train_config(
    recipe: str,
    train: dict[str, Any] | TrainConfig | None,
    seed: int | None,
    model: ModelConfig | None = None,
    rows: int | None = None,
) -> TrainConfig:
    """The run's TrainConfig: the recipe's ``train`` < what its ``derive_train`` hook derives
    for ``model`` and ``rows`` training rows per epoch (when both are given) < the user's
    ``train`` < ``seed``. A TrainConfig passed as ``train`` is taken as it is."""
    if isinstance(train, TrainConfig):
        cfg = train
    else:
        defaults = get_recipe(recipe).train
        user = {**(train or {}), **({"seed": seed} if seed is not None else {})}
        merged = {**defaults, **user}
        if model is not None and rows is not None:
            full = to_dict(from_dict(TrainConfig, merged, where="train"))
            derived = derived_train(recipe, model, rows, full)
            if "epochs" not in user and derived.get("epochs", full["epochs"]) != full["epochs"]:
                # a budget from the data's size: derive the rest for the run actually taken
                full["epochs"] = derived["epochs"]
                derived = derived_train(recipe, model, rows, full)
            merged = {**defaults, **derived, **user}
        cfg = from_dict(TrainConfig, merged, where="train")
    cfg.validate()
    return cfg


def train_recipe(
    recipe: str,
    input_shape: list[int],
    rows: int,
    batches: Callable[[TrainConfig], Any],
    init_sample: Callable[[], torch.Tensor],
    *,
    scaler: Scaler,
    data_range: tuple[float, float] | None = None,
    model: dict[str, Any] | None = None,
    train: dict[str, Any] | TrainConfig | None = None,
    seed: int | None = None,
    val: torch.Tensor | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    announce: Callable[[ModelConfig], str] | None = None,
) -> tuple[TrainedModel, Trainer]:
    """The training flow that ``fit`` and ``interp.train_sae`` share, once their data is ready.

    ::

        resolve(recipe, input_shape, data_range, model)          the ModelConfig
        train_config(recipe, train, seed, model config, rows)    recipe < derived < user
        under torch.random.fork_rng, seeded with the run's seed:
            Autoencoder, Trainer, init_from_data(init_sample()) unless resuming,
            Trainer.fit(batches(train config), val)

    ``rows`` are the training rows per epoch, ``batches`` builds the trainer's batch source
    for the final TrainConfig, ``init_sample`` gives the rows for data-dependent init (an
    SAE's decoder bias), ``announce`` the line printed on rank 0 when progress is shown.
    Returns the trained model (info: ``n_train``, ``train``) and its trainer; the caller adds
    its own info and saves on rank 0.
    """
    mcfg = resolve(recipe, input_shape, data_range, model)
    cfg = train_config(recipe, train, seed, mcfg, rows)
    from .train.trainer import resolve_device

    check_model_memory(mcfg, resolve_device(cfg.device))  # a size that cannot fit: say so now
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        module = Autoencoder(mcfg)
        trainer = Trainer(module, cfg, out)
        if not resume:
            module.init_from_data(init_sample())  # data-dependent init (e.g. an SAE's bias)
        if announce is not None and trainer.rank == 0 and cfg.progress:
            print(announce(mcfg))
        history = trainer.fit(batches(cfg), val, resume=resume)
    info = {"n_train": int(rows), "train": to_dict(cfg)}
    return TrainedModel(module, scaler, info, history), trainer


def fit(
    recipe: str = "vae",
    data: Any = "digits",
    *,
    model: dict[str, Any] | None = None,
    train: dict[str, Any] | TrainConfig | None = None,
    seed: int | None = None,
    scaling: str = "auto",
    validation: Any = None,
    out: str | Path | None = None,
    resume: bool = False,
) -> TrainedModel:
    """Train ``recipe`` on ``data`` (a built-in name, a file path or an array).

    ``model`` overrides the recipe's model settings (e.g. ``{"latent_dim": 16}``), ``train``
    the training settings (see :class:`TrainConfig`); settings the recipe derives from the
    model and the run length (an SAE's learning rate and warm-up) apply where ``train`` sets
    none. Without ``validation`` a seeded ``val_fraction`` of the data is held out. With
    ``out`` the run folder receives the metrics log, checkpoints and the saved model;
    ``resume`` continues from its checkpoint.
    """
    for name, value, kinds, example in (
        ("model", model, (dict,), "{'latent_dim': 4}"),
        ("train", train, (dict, TrainConfig), "{'epochs': 10}"),
    ):
        if value is not None and not isinstance(value, kinds):
            raise AutoencodingError(
                f"fit: {name} must be a mapping of {name} settings (e.g. {example}), got {value!r}"
            )
    get_recipe(recipe)  # unknown recipe → clear error before any work
    cfg = train_config(recipe, train, seed)  # before derivation: the split's seed and share
    ds = load_data(data)
    x_all = ds.x
    streamed = isinstance(x_all, np.memmap)  # too large for memory: batches read from disk
    if validation is not None:
        tr, va, x_val = np.arange(len(x_all)), None, load_data(validation).x
    elif cfg.val_fraction > 0 and len(x_all) >= 10:
        tr, va = split_indices(len(x_all), cfg.val_fraction, cfg.seed, ds.y)
        if streamed:
            va = va[:STREAMED_VAL_ROWS]
        x_val = x_all[va]
    else:
        tr, va, x_val = np.arange(len(x_all)), None, None
    if len(tr) < 2:
        raise AutoencodingError(f"need at least 2 training samples, got {len(tr)}")
    # Streamed data: scaling and data-dependent init see a seeded sample of the training rows.
    sample_rows = (
        np.sort(
            np.random.default_rng(cfg.seed).choice(
                tr, min(len(tr), STREAMED_SAMPLE_ROWS), replace=False
            )
        )
        if streamed
        else tr
    )
    x_fit = np.asarray(x_all[sample_rows], dtype=np.float32)
    scaler = Scaler.fit(scaling, x_fit, ds.value_range)
    xs = scaler.transform(x_fit)
    data_range = (float(xs.min()), float(xs.max()))
    train_t = torch.from_numpy(xs)

    def batches(cfg: TrainConfig) -> Any:
        if streamed:
            return ArrayBatches(
                x_all, cfg.batch_size, cfg.seed, transform=scaler.transform, rows=tr
            )
        return train_t

    def announce(mcfg: ModelConfig) -> str:
        return (
            f"recipe {recipe}: reconstruction {mcfg.reconstruction['name']!r}, "
            f"latent {mcfg.latent_dim}, {len(tr)} training samples"
            + (" (streamed from disk)" if streamed else "")
        )

    trained, trainer = train_recipe(
        recipe,
        list(xs.shape[1:]),
        len(tr),
        batches,
        lambda: train_t,
        scaler=scaler,
        data_range=data_range,
        model=model,
        train=train,
        seed=seed,
        val=torch.from_numpy(scaler.transform(x_val)) if x_val is not None else None,
        out=out,
        resume=resume,
        announce=announce,
    )
    module = trained.module
    info = trained.info = {"dataset": ds.name, **trained.info, "data_range": list(data_range)}
    if module.bottleneck.has_posterior:
        au = active_units_from_latents(latents(module, train_t.to(trainer.device)))
        info["active_units"] = au
        if au == 0:
            warnings.warn(
                "posterior collapse: no latent unit is active (the encoder ignores the input "
                "and the KL term is ~0). Lower beta, add KL warm-up (model bottleneck "
                "warmup_steps) or free bits (bottleneck free_bits), or use the likelihood that "
                "fits the data (Bernoulli for [0, 1] data, Gaussian with learned variance for "
                "standardized data).",
                PosteriorCollapseWarning,
                stacklevel=2,
            )
    if out is not None and trainer.rank == 0:
        trained.save(out)
    return trained


def dataset(source: Any) -> Dataset:
    """Load a data source as the library sees it (for inspection)."""
    return load_data(source)
