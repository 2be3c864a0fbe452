"""Resumable checkpoints: one safetensors file (weights, optimizer and aux optimizer tensors,
RNG state, the run's tensors: early stopping's best weights and the current epoch's metric
sums) whose metadata holds the JSON training state (step, epoch, batch, best value, patience,
lr, history). Everything a resume needs to continue bitwise, in one file written to a
temporary and renamed, so a crash mid-write never leaves a half-written checkpoint in place
of the last good one.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import AutoencodingError

CHECKPOINT = "checkpoint.safetensors"


def _default_mode() -> int:
    """The mode a plain ``open(..., "w")`` would give a new file under this umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files of ``path`` left by processes that died mid-write (kill -9)."""
    _remove_dead_writers(path.parent.glob(f".{path.name}.tmp-*"))


def remove_stale_temporaries(folder: Path) -> None:
    """Every temporary that :func:`atomic_write` left in ``folder`` from a killed process
    (a run resumed after its last checkpoint write may never rewrite that file)."""
    _remove_dead_writers(Path(folder).glob(".*.tmp-*"))


def _remove_dead_writers(temporaries: Iterable[Path]) -> None:
    for tmp in temporaries:
        pid = tmp.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)  # still running: its write may be in progress
        except ProcessLookupError:
            _remove(tmp)
        except PermissionError:
            pass  # alive, owned by someone else


def _remove(tmp: Path) -> None:
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.unlink(missing_ok=True)


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then atomically rename the temporary file onto ``path``.

    The temporary lives in a private folder ``.<name>.tmp-<pid>/`` beside ``path``: writers
    that stage files of their own (safetensors >= 0.8 writes a ``.tmpXXXXXX`` beside its
    target and renames it) stage them there, so a kill -9 at any moment leaves only that
    folder, which the next write or resume removes. The file gets the usual mode for the
    umask (some writers create 0600 files), is fsynced before the rename and the folder
    after it, so a crash leaves either the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    stage = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    _remove(stage)  # a leftover of this pid's earlier, interrupted write
    stage.mkdir()
    tmp = stage / path.name
    try:
        write(tmp)
        os.chmod(tmp, _default_mode())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        if os.name == "posix":  # make the rename itself durable
            fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    finally:
        _remove(stage)


def _optimizer_tensors(
    optimizer: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor]
) -> str:
    """Put the optimizer's state tensors under ``prefix``; return its param groups as JSON."""
    opt = optimizer.state_dict()
    for pid, pstate in opt["state"].items():
        for name, v in pstate.items():
            t = v if isinstance(v, torch.Tensor) else torch.tensor(v)
            tensors[f"{prefix}.{pid}.{name}"] = t.detach().cpu().contiguous()
    return json.dumps(opt["param_groups"])


def _model_config(model: torch.nn.Module) -> dict[str, Any] | None:
    """The stored config of a single pipeline (None for other modules)."""
    from ..model import Autoencoder

    return model.config_dict() if isinstance(model, Autoencoder) else None


def _summary(cfg: dict[str, Any]) -> str:
    return (
        f"recipe {cfg.get('recipe')!r}, latent {cfg.get('latent_dim')}, input "
        f"{cfg.get('input_shape')}"
    )


def save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    aux_optimizer: torch.optim.Optimizer | None = None,
    groups: dict[str, dict[str, torch.Tensor]] | None = None,
) -> None:
    """Weights, optimizer state (and the aux optimizer's, for parts with an aux loss), RNG
    state, the JSON training state and named ``groups`` of run tensors (the trainer's best
    weights and partial-epoch sums: bitwise, where JSON would round), in one atomically
    written file."""
    tensors: dict[str, torch.Tensor] = {}
    for group, members in (groups or {}).items():
        for k, v in members.items():
            tensors[f"run.{group}.{k}"] = v.detach().to("cpu", copy=True).contiguous()
    for k, v in model.state_dict().items():
        # a copy: during training the parameters may be views of one flat buffer
        tensors[f"model.{k}"] = v.detach().to("cpu", copy=True).contiguous()
    meta = {
        "state": json.dumps(state),
        "param_groups": _optimizer_tensors(optimizer, "optim", tensors),
    }
    saved_config = _model_config(model)
    if saved_config is not None:  # lets a resume with other settings say what differs
        meta["model"] = json.dumps(saved_config)
    if aux_optimizer is not None:
        meta["aux_param_groups"] = _optimizer_tensors(aux_optimizer, "aux_optim", tensors)
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    atomic_write(Path(path), lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def _load_optimizer(
    path: Path,
    optimizer: torch.optim.Optimizer,
    tensors: dict[str, torch.Tensor],
    prefix: str,
    groups: list[dict[str, Any]],
) -> None:
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith(prefix + "."):
            _, pid, name = k.split(".", 2)
            opt_state.setdefault(int(pid), {})[name] = v
    try:
        optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
    except (ValueError, KeyError) as e:
        raise AutoencodingError(
            f"checkpoint {path}: its optimizer state does not match this run's optimizer "
            f"({e}); resume with the settings that wrote it (e.g. the same "
            f"manual_gradients) or delete it to start over"
        ) from None


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    aux_optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, Any]:
    """Restore model, optimizer and RNG state in place; return the JSON training state,
    with the run tensor groups under ``"groups"`` (see :func:`save_checkpoint`)."""
    path = Path(path)
    if not path.exists():
        raise AutoencodingError(f"no checkpoint to resume from at {path}")
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), "pt") as fh:
            meta = fh.metadata() or {}
        state = json.loads(meta["state"])
        groups = json.loads(meta["param_groups"])
    except (SafetensorError, OSError, KeyError, ValueError) as e:
        raise AutoencodingError(
            f"checkpoint {path} is corrupt or truncated ({type(e).__name__}: {e}); "
            f"delete it to start over"
        ) from None
    current = _model_config(model)
    if "model" in meta and current is not None:
        saved = json.loads(meta["model"])
        if saved != current:
            differ = sorted(k for k in {*saved, *current} if saved.get(k) != current.get(k))
            raise AutoencodingError(
                f"checkpoint {path} was written for {_summary(saved)}; this run asks for "
                f"{_summary(current)} (different: {', '.join(differ)}). Resume with the "
                f"settings that wrote it, or train into a new folder"
            )
    model_sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_sd)
    except RuntimeError as e:
        raise AutoencodingError(
            f"checkpoint {path} does not match this model ({str(e).splitlines()[0]})"
        ) from None
    _load_optimizer(path, optimizer, tensors, "optim", groups)
    if aux_optimizer is not None:
        if "aux_param_groups" not in meta:
            raise AutoencodingError(
                f"checkpoint {path} holds no auxiliary optimizer state, but this model trains "
                f"an auxiliary loss; delete it to start over"
            )
        aux_groups = json.loads(meta["aux_param_groups"])
        _load_optimizer(path, aux_optimizer, tensors, "aux_optim", aux_groups)
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    state["groups"] = {}
    for k, v in tensors.items():
        if k.startswith("run."):
            group, name = k[4:].split(".", 1)
            state["groups"].setdefault(group, {})[name] = v
    return state
