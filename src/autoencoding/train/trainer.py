"""The trainer: one loop for every recipe, on one process or under torchrun.

It consumes batches (an :class:`InMemoryBatches` or any re-iterable of tensors), logs every
loss term and bottleneck statistic, writes a JSONL metrics log and atomic resumable
checkpoints, and stops on a NaN/inf loss keeping the last good checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import AutoencodingError, TrainingDiverged
from ..model import Autoencoder
from .batches import InMemoryBatches
from .checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .distributed import world
from .manual import FlatAdam, FlatParameters, fused_kernels_available, manual_step, unsupported
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


class Trainer:
    """Fits an :class:`Autoencoder`; ``fit`` returns the per-epoch history."""

    def __init__(
        self, model: Autoencoder, config: TrainConfig, out_dir: str | Path | None = None
    ) -> None:
        config.validate()
        self.cfg = config
        self.model = model
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.device = resolve_device(config.device)
        self.rank, self.world = world()
        self.history: list[dict[str, Any]] = []

    # -- setup ----------------------------------------------------------------------------
    def _manual_path(self) -> bool:
        """Whether this run takes the manual-gradient path (:mod:`.manual`)."""
        if not self.cfg.manual_gradients or self.world > 1 or unsupported(self.model):
            return False
        if self.cfg.weight_decay > 0 and any(
            getattr(p, "no_weight_decay", False) for p in self.model.parameters()
        ):
            return False
        return fused_kernels_available(self.device)

    def _kw(self) -> dict[str, Any]:
        return {
            "lr": self.cfg.lr,
            "weight_decay": self.cfg.weight_decay,
            "betas": (float(self.cfg.betas[0]), float(self.cfg.betas[1])),
        }

    def _optimizer(self) -> torch.optim.Optimizer:
        cls = torch.optim.AdamW if self.cfg.optimizer == "adamw" else torch.optim.Adam
        params = [p for p in self.model.parameters() if p.requires_grad]
        # Parameters a part marks ``no_weight_decay`` (e.g. QLAE's scalar codebooks) are exempt.
        exempt = [p for p in params if getattr(p, "no_weight_decay", False)]
        groups: list[dict[str, Any]] = [
            {"params": [p for p in params if not getattr(p, "no_weight_decay", False)]}
        ]
        if exempt and self.cfg.weight_decay > 0:
            groups.append({"params": exempt, "weight_decay": 0.0})
        else:
            groups[0]["params"] = params
        # The fused kernel updates every parameter in one pass: 2-3x faster than the default
        # per-tensor loop on small models, where the optimizer step rivals the backward pass.
        kw = self._kw()
        try:
            return cls(groups, **kw, fused=True)
        except (RuntimeError, TypeError):
            return cls(groups, **kw, foreach=True)

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

    # -- the loop -------------------------------------------------------------------------
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
        batches = (
            InMemoryBatches(train, cfg.batch_size, cfg.seed)
            if isinstance(train, torch.Tensor)
            else train
        )
        steps_per_epoch = len(batches)  # type: ignore[arg-type]
        total = cfg.epochs * steps_per_epoch
        flat = FlatParameters(self.model) if self._manual_path() else None
        opt = (
            FlatAdam(flat.flat, decoupled=cfg.optimizer == "adamw", **self._kw())
            if flat is not None
            else self._optimizer()
        )
        # FlatAdam.update skips the general optimizer's per-step profiling/hook wrapper
        update = opt.update if isinstance(opt, FlatAdam) else opt.step
        for part in self.model.modules():
            if part is not self.model and hasattr(part, "on_train_start"):
                part.on_train_start(total)  # e.g. a KL warm-up sized to the run
        net: nn.Module = self.model
        if self.world > 1:
            net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )

        step, epoch, start_batch = 0, 0, 0
        best, best_state, bad_epochs = math.inf, None, 0
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            if self.checkpoint_path is None:
                raise AutoencodingError("resume needs an output folder holding a checkpoint")
            try:
                st = load_checkpoint(self.checkpoint_path, self.model, opt)
            except BaseException:
                if flat is not None:
                    flat.release()  # the caller keeps a model it can still save
                raise
            step, epoch, start_batch = st["step"], st["epoch"], st["batch"]
            best, bad_epochs = st["best"], st["bad_epochs"]
            self.history = st["history"]
            if self.out_dir is not None and self.rank == 0:
                # the log holds exactly what the checkpoint knew
                with open(self.out_dir / "metrics.jsonl", "w") as fh:
                    fh.writelines(json.dumps(r) + "\n" for r in self.history)
        elif self.out_dir is not None and self.rank == 0:
            (self.out_dir / "metrics.jsonl").write_text("")

        def save(at_step: int, at_epoch: int, at_batch: int) -> None:
            if self.checkpoint_path is None or self.rank != 0:
                return
            save_checkpoint(
                self.checkpoint_path,
                self.model,
                opt,
                {
                    "step": at_step,
                    "epoch": at_epoch,
                    "batch": at_batch,
                    "best": best,
                    "bad_epochs": bad_epochs,
                    "history": self.history,
                },
            )

        bar = None
        if cfg.progress and self.rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=total,
                initial=step,
                desc="train",
                unit="step",
                dynamic_ncols=True,
                mininterval=0.5,
            )
        self.model.train()
        last_saved = step
        # Adam's first moment of a weight whose gradient stays exactly 0 (a dead ReLU unit)
        # decays geometrically into the denormal range, where CPU arithmetic runs ~10x
        # slower: the optimizer step of a small model then dominates the run. Flushing
        # denormals to zero for the run (and restoring the caller's mode after) avoids it.
        flushed = self.device.type == "cpu" and not _flushing_denormals()
        if flushed:
            torch.set_flush_denormal(True)
        try:
            while epoch < cfg.epochs:
                t0, c0 = time.perf_counter(), time.process_time()
                sums: dict[str, torch.Tensor] = {}
                n_batches = 0
                it = (
                    batches.epoch(epoch, start_batch, self.rank, self.world)
                    if hasattr(batches, "epoch")
                    else iter(batches)
                )
                for xb in it:
                    xb = xb.to(self.device, non_blocking=True)
                    factor = lr_factor(
                        step,
                        total,
                        cfg.schedule,
                        cfg.warmup_steps,
                        cfg.decay_fraction,
                        cfg.min_lr_ratio,
                    )
                    for g in opt.param_groups:
                        g["lr"] = cfg.lr * factor
                    if flat is not None:
                        out = manual_step(self.model, xb, step)
                    else:
                        out = net(xb, step=step)
                    if not math.isfinite(float(out.loss.detach())):
                        where = (
                            f"the last good checkpoint (step {last_saved}) is kept at "
                            f"{self.checkpoint_path}"
                            if self.checkpoint_path is not None and self.checkpoint_path.exists()
                            else "no checkpoint had been written yet"
                        )
                        terms = ", ".join(
                            f"{k}={float(v.detach()):.4g}" for k, v in out.terms.items()
                        )
                        raise TrainingDiverged(
                            f"loss became {float(out.loss.detach())} at step {step} "
                            f"(epoch {epoch}; "
                            f"{terms}); training stopped and {where}. Try a lower lr or "
                            f"grad_clip."
                        )
                    if flat is None:
                        opt.zero_grad(set_to_none=True)
                        out.loss.backward()
                    if cfg.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                    update()
                    for k, v in (*out.metrics.items(), ("loss", out.loss.detach())):
                        sums[k] = sums[k] + v if k in sums else v.clone()
                    n_batches += 1
                    step += 1
                    start_batch += 1
                    if bar is not None:
                        bar.update(1)
                        if step % 10 == 0:
                            bar.set_postfix(_postfix(out), refresh=False)
                    if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                        save(step, epoch, start_batch)
                        last_saved = step
                record: dict[str, Any] = {
                    "epoch": epoch + 1,
                    "step": step,
                    "lr": cfg.lr * factor if n_batches else cfg.lr,
                    "seconds": time.perf_counter() - t0,
                    "cpu_seconds": time.process_time() - c0,
                }
                record.update({f"train/{k}": float(v) / max(1, n_batches) for k, v in sums.items()})
                epoch += 1
                start_batch = 0
                if val is not None:
                    vl = self.validation_loss(val)
                    record.update({f"val/{k}": v for k, v in vl.items()})
                    if vl["loss"] < best - 1e-6:
                        best, bad_epochs = vl["loss"], 0
                        if cfg.early_stopping:
                            best_state = {
                                k: v.detach().clone() for k, v in self.model.state_dict().items()
                            }
                    else:
                        bad_epochs += 1
                self._log(record)
                if cfg.checkpoint_every == 0:
                    save(step, epoch, 0)
                    last_saved = step
                if cfg.early_stopping and bad_epochs >= cfg.early_stopping:
                    if bar is not None:
                        bar.write(
                            f"early stopping after epoch {epoch}: no better validation "
                            f"loss for {bad_epochs} epochs (best {best:.4g})"
                        )
                    break
        finally:
            if bar is not None:
                bar.close()
            if flat is not None:
                flat.release()
            if flushed:
                torch.set_flush_denormal(False)
        if best_state is not None:
            self.model.load_state_dict(best_state)
        self.model.eval()
        return self.history
