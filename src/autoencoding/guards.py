"""Checks made before any work starts, so a run never fails at its end or takes the machine down.

- :func:`check_output`: an output path that can be written (not a file where a folder is
  expected or the reverse, no file among its parents, a writable folder to create it in);
  commands call it before loading or fitting anything, so no work is lost to a bad ``--out``.
- :func:`check_model_memory` / :func:`check_array_memory`: an estimate of what a model (built
  on the ``meta`` device: no memory, no random numbers drawn) or an output array needs,
  refused with the figure when it exceeds the memory available, instead of an allocator
  error, an hour of swapping or the out-of-memory killer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import AutoencodingError

GiB = 2**30


def check_output(path: str | Path, kind: str = "file", flag: str = "--out") -> Path:
    """``path`` as a ``kind`` ("file" or "folder") this process can create or replace: a
    folder where a file is asked for (or the reverse), a file among its parents or a parent
    folder that cannot be written is refused, naming ``flag``. Missing parents are fine (they
    are created when the output is written) as long as the nearest existing one is a
    writable folder."""
    p = Path(path)
    if kind == "file" and p.is_dir():
        raise AutoencodingError(f"{flag} {path}: is a folder; give a file name")
    if kind == "folder" and p.exists() and not p.is_dir():
        raise AutoencodingError(f"{flag} {path}: is a file; give a folder")
    ancestor = p.absolute().parent if kind == "file" or not p.exists() else p.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise AutoencodingError(
            f"{flag} {path}: {ancestor} is a file, so nothing can be written under it"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise AutoencodingError(f"{flag} {path}: the folder {ancestor} is not writable")
    return p


def available_memory(device: Any = "cpu") -> int | None:
    """Bytes free on ``device``: CUDA's own count on a GPU; on the CPU psutil's available
    memory, else MemAvailable of /proc/meminfo, else None (unknown)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(dev)[0])
        except Exception:
            return None
    if dev.type != "cpu":
        return None
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _refuse_if_too_big(need: int, what: str, device: Any, advice: str) -> None:
    free = available_memory(device)
    if free is not None and need > free:
        where = "this machine" if str(device) == "cpu" else str(device)
        raise AutoencodingError(
            f"{what} needs about {need / GiB:.1f} GiB, more than the {free / GiB:.1f} GiB "
            f"available on {where}; {advice}"
        )


def model_bytes(config: Any, training: bool = True) -> tuple[int, int]:
    """(parameters, bytes) of an Autoencoder of ``config``, counted on the meta device:
    weights and buffers, and for training also gradients and Adam's two moments (×4 for the
    parameters). Activations come on top."""
    import torch

    from .model import Autoencoder

    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            module = Autoencoder(config)
    except (RuntimeError, OverflowError) as e:
        if "overflow" not in str(e):
            raise
        raise AutoencodingError(
            "the model's sizes overflow a 64-bit count of its weights; lower latent_dim or "
            "the hidden sizes"
        ) from None
    n = sum(p.numel() for p in module.parameters())
    weights = sum(p.numel() * p.element_size() for p in module.parameters())
    buffers = sum(b.numel() * b.element_size() for b in module.buffers())
    return n, weights * (4 if training else 1) + buffers


def check_model_memory(config: Any, device: Any = "cpu", training: bool = True) -> None:
    """Refuse a model whose weights (and, for ``training``, gradients and Adam state) alone
    exceed the memory available on ``device``, naming the figures."""
    n, need = model_bytes(config, training)
    what = f"a model of {n:.3g} parameters" + (
        " (weights, gradients and Adam's two moments)" if training else ""
    )
    _refuse_if_too_big(need, what, device, "lower latent_dim or the hidden sizes")


def check_array_memory(shape: tuple[int, ...], bytes_per_entry: int, what: str) -> None:
    """Refuse an output array of ``shape`` that, at ``bytes_per_entry`` (all the copies made
    on its way out), exceeds the CPU memory available."""
    need = bytes_per_entry
    for s in shape:
        need *= int(s)
    _refuse_if_too_big(need, f"{what} ({' × '.join(map(str, shape))})", "cpu", "ask for fewer")
