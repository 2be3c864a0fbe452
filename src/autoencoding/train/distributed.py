"""PyTorch DistributedDataParallel under ``torchrun`` (gloo on CPU, NCCL on GPU).

Single process::

    autoencoding train vae --data digits --out runs/vae

Two CPU processes (each takes half of every global batch)::

    torchrun --nproc-per-node 2 -m autoencoding.cli train vae --data digits --out runs/vae
"""

from __future__ import annotations

import atexit
import gc
import os

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: str = "cpu") -> tuple[int, int]:
    """Join the process group torchrun describes in the environment, once."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend)
        # A gloo group still alive when the interpreter tears down aborts the process now and
        # then ("terminate called without an active exception"); leave it cleanly instead.
        atexit.register(shutdown)
        if device.startswith("cuda"):
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return world()


def shutdown() -> None:
    """Leave the process group (a no-op outside torchrun or when already left)."""
    if dist.is_available() and dist.is_initialized():
        # Collect first: a DDP reducer or pending work caught in a reference cycle keeps the
        # group's threads alive, and they abort the process when they need the GIL at exit.
        gc.collect()
        dist.destroy_process_group()


def is_main() -> bool:
    return world()[0] == 0


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()
