"""The trainer: one loop for every recipe, on one process or under torchrun.

It consumes :class:`~.batches.Batches` (or a tensor, or any sized re-iterable of tensors),
logs every loss term and bottleneck statistic, writes a JSONL metrics log and atomic
resumable checkpoints, and stops on a NaN/inf loss keeping the last good checkpoint.

A run, step by step (each a method below)::

    setup      parts' parameter groups → main optimizer (or the flat fused Adam of a fast
               step, :mod:`.fast`); parts' aux parameters → their own optimizer;
               on_train_start(total steps) for every part
    restore    model, optimizers, RNG and loop state from the checkpoint (resume)
    epochs     train_step per batch (lr schedule, fast step or autograd, clipping, update,
               aux update), end_epoch (metrics record, validation, early stopping,
               checkpoint)
    finish     best weights back (early stopping), eval mode, on_train_end(batches) for
               every part (coding tables, latent samplers)

Python (one process, or every process under ``torchrun --nproc-per-node N script.py``)::

    Trainer(model, TrainConfig(epochs=10), out_dir="runs/x").fit(x_train, x_val)
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import AutoencodingError, TrainingDiverged
from ..parts.base import Part
from .batches import Batches, InMemoryBatches, IterableBatches
from .checkpoint import (
    CHECKPOINT,
    atomic_write,
    load_checkpoint,
    remove_stale_temporaries,
    save_checkpoint,
)
from .config import TrainConfig
from .distributed import world
from .fast import FastStep, FlatAdam, FlatParameters, choose, fused_kernels_available
from .schedules import lr_factor


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise AutoencodingError(
            f"unknown device {name!r}; expected cpu, cuda, cuda:N or auto"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise AutoencodingError(f"device {name!r} requested but CUDA is not available")
    return dev


def _flushing_denormals() -> bool:
    """Whether this thread already flushes denormal floats to zero."""
    return float(torch.tensor([1e-39]) * 1.0) == 0.0


def _fmt(terms: dict[str, torch.Tensor]) -> dict[str, str]:
    return {k: f"{float(v.detach()):.4g}" for k, v in terms.items()}


#: diagnostics shown on the progress bar beside the loss terms, when a part reports them
#: (SAEs: FVU, L0 and the dead fraction; quantizers: codebook usage and perplexity)
BAR_STATS = ("fvu", "l0", "dead", "codebook_usage", "perplexity")


def _postfix(out: Any) -> dict[str, str]:
    shown = _fmt(out.terms)
    for k in BAR_STATS:
        v = out.metrics.get(k)
        if v is not None and k not in shown and v.numel() == 1:
            shown[k] = f"{100 * float(v):.2f}%" if k == "dead" else f"{float(v):.4g}"
    return shown


def as_batches(train: torch.Tensor | Iterable[torch.Tensor], cfg: TrainConfig) -> Batches:
    """What the trainer iterates: a tensor is shuffled in memory, a :class:`Batches` is
    used as it is, any other sized re-iterable is wrapped."""
    if isinstance(train, torch.Tensor):
        return InMemoryBatches(train, cfg.batch_size, cfg.seed)
    if isinstance(train, Batches):
        return train
    return IterableBatches(train)


@dataclass
class RunState:
    """Where a run stands. Every checkpoint holds all of it but ``last_saved`` and the
    clock readings, so a resumed run continues bitwise where the killed one stood: the
    early-stopping state with its best weights, and the current epoch's metric sums (its
    metrics line then averages the whole epoch, not the part after the resume)."""

    step: int = 0
    epoch: int = 0
    batch: int = 0
    """Batches of the current epoch already done (resume starts after them)."""
    best: float = math.inf
    bad_epochs: int = 0
    last_saved: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    n_batches: int = 0
    lr: float = 0.0
    seconds: float = 0.0
    """Wall and CPU seconds the current epoch ran before ``started`` (in a killed process)."""
    cpu_seconds: float = 0.0
    started: tuple[float, float] = (0.0, 0.0)
    """perf_counter and process_time when this process began the current epoch."""

    def accumulate(self, key: str, value: torch.Tensor) -> None:
        """Add a step's metric to the epoch's running sum."""
        self.sums[key] = self.sums[key] + value if key in self.sums else value.clone()

    def begin_epoch(self) -> None:
        self.started = (time.perf_counter(), time.process_time())

    def elapsed(self) -> tuple[float, float]:
        """Wall and CPU seconds of the current epoch so far, across resumes."""
        return (
            self.seconds + time.perf_counter() - self.started[0],
            self.cpu_seconds + time.process_time() - self.started[1],
        )

    def next_epoch(self) -> None:
        self.epoch += 1
        self.batch = 0
        self.sums, self.n_batches = {}, 0
        self.seconds = self.cpu_seconds = 0.0
        self.begin_epoch()

    def checkpoint_state(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        seconds, cpu_seconds = self.elapsed()
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batch": self.batch,
            "best": self.best,
            "bad_epochs": self.bad_epochs,
            "n_batches": self.n_batches,
            "lr": self.lr,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "history": history,
        }

    def checkpoint_tensors(self) -> dict[str, dict[str, torch.Tensor]]:
        groups = {"sums": self.sums}
        if self.best_state is not None:
            groups["best"] = self.best_state
        return groups

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any], device: torch.device) -> RunState:
        groups = saved.get("groups", {})
        best = groups.get("best")
        return cls(
            step=saved["step"],
            epoch=saved["epoch"],
            batch=saved["batch"],
            best=saved["best"],
            bad_epochs=saved["bad_epochs"],
            last_saved=saved["step"],
            best_state={k: v.to(device) for k, v in best.items()} if best else None,
            sums={k: v.to(device) for k, v in groups.get("sums", {}).items()},
            # checkpoints of older versions hold no partial epoch: it restarts its sums
            n_batches=saved.get("n_batches", 0),
            lr=saved.get("lr", 0.0),
            seconds=saved.get("seconds", 0.0),
            cpu_seconds=saved.get("cpu_seconds", 0.0),
        )


class Trainer:
    """Fits an :class:`~autoencoding.model.Autoencoder` (or a
    :class:`~autoencoding.model.PipelineGroup`); ``fit`` returns the per-epoch history."""

    def __init__(
        self, model: nn.Module, config: TrainConfig, out_dir: str | Path | None = None
    ) -> None:
        config.validate()
        self.cfg = config
        self.model = model
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.device = resolve_device(config.device)
        self.rank, self.world = world()
        self.history: list[dict[str, Any]] = []
        self.parts: list[Part] = [m for m in model.modules() if isinstance(m, Part)]

    # -- setup ----------------------------------------------------------------------------
    def _aux_parameters(self) -> list[nn.Parameter]:
        return [p for part in self.parts for p in part.aux_parameters()]

    def _param_groups(self) -> list[dict[str, Any]]:
        """The main optimizer's groups: the parts' own groups (e.g. codebooks without weight
        decay), then every other trainable parameter; aux parameters are left out."""
        taken = {id(p) for p in self._aux_parameters()}
        groups = []
        for part in self.parts:
            for g in part.param_groups():
                params = [p for p in g["params"] if p.requires_grad and id(p) not in taken]
                taken.update(id(p) for p in params)
                if params:
                    groups.append({**g, "params": params})
        rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in taken]
        return [{"params": rest}, *groups]

    def _fast_step(self, groups: list[dict[str, Any]] | None = None) -> type[FastStep] | None:
        """The fast step this run takes (:mod:`.fast`) with these optimizer ``groups`` (the
        parts' groups when not given), or None for autograd."""
        if not self.cfg.manual_gradients or self.world > 1:
            return None
        groups = groups if groups is not None else self._param_groups()
        if len(groups) > 1 and self.cfg.weight_decay > 0:
            return None  # the flat optimizer has one group: per-group settings need autograd
        step = choose(self.model)
        return step if step is not None and fused_kernels_available(self.device) else None

    def _kw(self) -> dict[str, Any]:
        return {
            "lr": self.cfg.lr,
            "weight_decay": self.cfg.weight_decay,
            "betas": (float(self.cfg.betas[0]), float(self.cfg.betas[1])),
        }

    def _optimizer(self, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        cls = torch.optim.AdamW if self.cfg.optimizer == "adamw" else torch.optim.Adam
        groups = [g for g in groups if g["params"]]
        # The fused kernel updates every parameter in one pass: 2-3x faster than the default
        # per-tensor loop on small models, where the optimizer step rivals the backward pass.
        try:
            return cls(groups, **self._kw(), fused=True)
        except (RuntimeError, TypeError):
            return cls(groups, **self._kw(), foreach=True)

    def _aux_optimizer(self) -> torch.optim.Optimizer | None:
        """Aux parameters train on their own Adam at the main lr, no weight decay (e.g. a
        learned codec's CDF parameters, Ballé et al. 2018)."""
        params = self._aux_parameters()
        if not params:
            return None
        return torch.optim.Adam(params, lr=self.cfg.lr)

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / CHECKPOINT if self.out_dir is not None else None

    def _log(self, record: dict[str, Any]) -> None:
        self.history.append(record)
        if self.out_dir is not None and self.rank == 0:
            with open(self.out_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")

    @torch.no_grad()
    def validation_loss(self, x: torch.Tensor) -> dict[str, float]:
        """Mean loss terms over ``x`` in eval mode (no corruption, posterior means)."""
        was = self.model.training
        self.model.eval()
        sums: dict[str, float] = {}
        n = 0
        for i in range(0, len(x), 1024):
            xb = x[i : i + 1024].to(self.device)
            out = self.model(xb)
            for k, v in out.terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(xb)
            sums["loss"] = sums.get("loss", 0.0) + float(out.loss) * len(xb)
            n += len(xb)
        self.model.train(was)
        return {k: v / n for k, v in sums.items()}

    # -- the run --------------------------------------------------------------------------
    def fit(
        self,
        train: torch.Tensor | Iterable[torch.Tensor],
        val: torch.Tensor | None = None,
        resume: bool = False,
    ) -> list[dict[str, Any]]:
        cfg = self.cfg
        if cfg.early_stopping and val is None:
            raise AutoencodingError("early_stopping needs validation data (set val_fraction > 0)")
        self.model.to(self.device)
        batches = as_batches(train, cfg)
        total = cfg.epochs * len(batches)
        groups = self._param_groups()
        fast = self._fast_step(groups)
        flat = FlatParameters([p for g in groups for p in g["params"]]) if fast else None
        try:
            if flat is not None:
                self.opt: torch.optim.Optimizer = FlatAdam(
                    flat.flat, decoupled=cfg.optimizer == "adamw", **self._kw()
                )
                self.run_step = fast(self.model)  # type: ignore[misc]
            else:
                self.opt = self._optimizer(groups)
                self.run_step = None
            self.aux_opt = self._aux_optimizer()
            for part in self.parts:
                part.on_train_start(total)  # e.g. a KL warm-up sized to the run
            self.net: nn.Module = self.model
            if self.world > 1:
                dev = [self.device.index] if self.device.type == "cuda" else None
                self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=dev)
            if self.out_dir is not None:
                self.out_dir.mkdir(parents=True, exist_ok=True)
                if self.rank == 0:
                    remove_stale_temporaries(self.out_dir)  # of a run killed mid-write
            st = self._restore() if resume else self._start()
            self._epochs(batches, val, st, total)
        finally:
            if flat is not None:
                flat.release()  # the caller keeps a model it can save
            # Free the DDP wrapper now: its reducer outliving the process group aborts the
            # process at exit now and then.
            self.net = self.model
        self._finish(batches, st)
        return self.history

    def _start(self) -> RunState:
        if self.out_dir is not None and self.rank == 0:
            (self.out_dir / "metrics.jsonl").write_text("")
        return RunState()

    def _restore(self) -> RunState:
        if self.checkpoint_path is None:
            raise AutoencodingError("resume needs an output folder holding a checkpoint")
        saved = load_checkpoint(self.checkpoint_path, self.model, self.opt, self.aux_opt)
        st = RunState.from_checkpoint(saved, self.device)
        self.history = saved["history"]
        if self.out_dir is not None and self.rank == 0:
            # the log holds exactly what the checkpoint knew
            text = "".join(json.dumps(r) + "\n" for r in self.history)
            atomic_write(self.out_dir / "metrics.jsonl", lambda tmp: tmp.write_text(text))
        return st

    def _save(self, st: RunState) -> None:
        if self.checkpoint_path is None or self.rank != 0:
            return
        # A finite loss can still be followed by an update that sends weights to inf/NaN; such
        # weights must never replace the last good checkpoint (resuming would diverge again).
        with torch.no_grad():
            bad = [n for n, p in self.model.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise TrainingDiverged(
                f"weights became non-finite at step {st.step} (epoch {st.epoch}; {bad[0]}"
                f"{f' and {len(bad) - 1} more' if len(bad) > 1 else ''}); training stopped and "
                f"{self._kept(st)}. Try a lower lr or grad_clip."
            )
        save_checkpoint(
            self.checkpoint_path,
            self.model,
            self.opt,
            st.checkpoint_state(self.history),
            self.aux_opt,
            st.checkpoint_tensors(),
        )
        st.last_saved = st.step

    def _epochs(self, batches: Batches, val: torch.Tensor | None, st: RunState, total: int) -> None:
        cfg = self.cfg
        bar = None
        if cfg.progress and self.rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=st.step, desc="train", unit="step",
                       dynamic_ncols=True, mininterval=0.5)  # fmt: skip
        self.model.train()
        # Adam's first moment of a weight whose gradient stays exactly 0 (a dead ReLU unit)
        # decays geometrically into the denormal range, where CPU arithmetic runs ~10x
        # slower: the optimizer step of a small model then dominates the run. Flushing
        # denormals to zero for the run (and restoring the caller's mode after) avoids it.
        flushed = self.device.type == "cpu" and not _flushing_denormals()
        if flushed:
            torch.set_flush_denormal(True)
        try:
            while st.epoch < cfg.epochs and not self._stopped(st):
                st.begin_epoch()
                for xb in batches.epoch(st.epoch, st.batch, self.rank, self.world):
                    out = self.train_step(xb.to(self.device, non_blocking=True), st, total)
                    if bar is not None:
                        bar.update(1)
                        if st.step % 10 == 0:
                            bar.set_postfix(_postfix(out), refresh=False)
                    if cfg.checkpoint_every and st.step % cfg.checkpoint_every == 0:
                        self._save(st)
                if self.end_epoch(val, st, *st.elapsed()):
                    if bar is not None:
                        bar.write(
                            f"early stopping after epoch {st.epoch}: no better validation "
                            f"loss for {st.bad_epochs} epochs (best {st.best:.4g})"
                        )
                    break
        finally:
            if bar is not None:
                bar.close()
            if flushed:
                torch.set_flush_denormal(False)

    def train_step(self, xb: torch.Tensor, st: RunState, total: int) -> Any:
        """One optimizer step on batch ``xb`` (and one aux step when parts have an aux loss)."""
        cfg = self.cfg
        factor = lr_factor(st.step, total, cfg.schedule, cfg.warmup_steps, cfg.decay_fraction,
                           cfg.min_lr_ratio)  # fmt: skip
        st.lr = cfg.lr * factor
        for g in self.opt.param_groups:
            g["lr"] = st.lr
        if self.run_step is not None:
            out = self.run_step(xb, st.step)
        else:
            out = self.net(xb, step=st.step)
        loss = float(out.loss.detach())
        if not math.isfinite(loss):
            self._diverged(out, st)
        if self.run_step is None:
            self.opt.zero_grad(set_to_none=True)
            out.loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        if isinstance(self.opt, FlatAdam):
            self.opt.update()  # skips the general optimizer's per-step profiling wrapper
        else:
            self.opt.step()
        if self.aux_opt is not None:
            self._aux_step(st)
        for k, v in (*out.metrics.items(), ("loss", out.loss.detach())):
            st.accumulate(k, v)
        st.n_batches += 1
        st.step += 1
        st.batch += 1
        return out

    def _aux_step(self, st: RunState) -> None:
        losses = [part.aux_loss() for part in self.parts]
        total = sum(loss for loss in losses if loss is not None)
        if isinstance(total, torch.Tensor):
            self.aux_opt.zero_grad(set_to_none=True)  # type: ignore[union-attr]
            total.backward()
            self.aux_opt.step()  # type: ignore[union-attr]
            st.accumulate("aux_loss", total.detach())

    def _kept(self, st: RunState) -> str:
        """What a divergence message says about the checkpoint a resume would start from."""
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            where = self.checkpoint_path
            return f"the last good checkpoint (step {st.last_saved}) is kept at {where}"
        return "no checkpoint had been written yet"

    def _diverged(self, out: Any, st: RunState) -> None:
        terms = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in out.terms.items())
        raise TrainingDiverged(
            f"loss became {float(out.loss.detach())} at step {st.step} (epoch {st.epoch}; "
            f"{terms}); training stopped and {self._kept(st)}. Try a lower lr or grad_clip."
        )

    def end_epoch(
        self, val: torch.Tensor | None, st: RunState, seconds: float, cpu_seconds: float
    ) -> bool:
        """Log the epoch's record, validate, checkpoint; True when early stopping ends the
        run."""
        cfg = self.cfg
        record: dict[str, Any] = {
            "epoch": st.epoch + 1,
            "step": st.step,
            "lr": st.lr if st.n_batches else cfg.lr,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
        }
        n = max(1, st.n_batches)
        record.update({f"train/{k}": float(v) / n for k, v in st.sums.items()})
        st.next_epoch()
        if val is not None:
            vl = self.validation_loss(val)
            record.update({f"val/{k}": v for k, v in vl.items()})
            if vl["loss"] < st.best - 1e-6:
                st.best, st.bad_epochs = vl["loss"], 0
                if cfg.early_stopping:
                    st.best_state = {
                        k: v.detach().clone() for k, v in self.model.state_dict().items()
                    }
            else:
                st.bad_epochs += 1
        self._log(record)
        if cfg.checkpoint_every == 0:
            self._save(st)
        return self._stopped(st)

    def _stopped(self, st: RunState) -> bool:
        """Early stopping has ended the run (a run resumed after it trains no further)."""
        return bool(self.cfg.early_stopping and st.bad_epochs >= self.cfg.early_stopping)

    def _finish(self, batches: Batches, st: RunState) -> None:
        if st.best_state is not None:
            self.model.load_state_dict(st.best_state)
        self.model.eval()

        def training_batches() -> Iterator[torch.Tensor]:
            for xb in batches.epoch(0, 0, self.rank, self.world):
                yield xb.to(self.device)

        with torch.no_grad():
            for part in self.parts:
                part.on_train_end(training_batches)
