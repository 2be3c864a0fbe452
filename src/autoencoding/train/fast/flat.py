"""One flat parameter buffer and a fused Adam on it: what every fast step trains with.

A small model's optimizer step costs as much as its backward pass when Adam walks its
tensors one by one; with every parameter a view into one flat buffer (and every gradient a
view into one flat gradient buffer) a single fused kernel call updates them all.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn


class FlatParameters:
    """The given trainable parameters as views into one flat buffer, with its
    ``.grad`` a view into one flat gradient buffer, so an optimizer steps one tensor.

    ``release`` gives every parameter its own storage again (saving a model needs
    unshared tensors)."""

    def __init__(self, params: list[nn.Parameter]) -> None:
        self.params = list(params)
        first = self.params[0]
        n = sum(p.numel() for p in self.params)
        self.flat = nn.Parameter(torch.empty(n, dtype=first.dtype, device=first.device))
        self.flat.grad = torch.zeros_like(self.flat)
        offset = 0
        for p in self.params:
            k = p.numel()
            self.flat.data[offset : offset + k].copy_(p.data.reshape(-1))
            p.data = self.flat.data[offset : offset + k].view_as(p)
            p.grad = self.flat.grad[offset : offset + k].view_as(p)
            offset += k

    def release(self) -> None:
        for p in self.params:
            p.data = p.data.clone()
            p.grad = None


class FlatAdam(torch.optim.Adam):
    """Adam (or AdamW with ``decoupled=True``) on one flat parameter, stepping with a single
    fused kernel call and none of the per-tensor bookkeeping of the general optimizer.
    Its state dict is Adam's, so checkpoints resume exactly."""

    def __init__(self, flat: nn.Parameter, decoupled: bool, **kw: Any) -> None:
        super().__init__([flat], **kw)
        self.decoupled = decoupled
        self._kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_

    def step(self, closure=None):  # type: ignore[override]
        self.update()

    @torch.no_grad()
    def update(self) -> None:
        """One Adam step (the trainer calls this directly: ``step`` carries the general
        optimizer's profiling and hook wrapper, which costs as much as the update here)."""
        group = self.param_groups[0]
        p = group["params"][0]
        st = self.state[p]
        if not st:
            st["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
            st["exp_avg"] = torch.zeros_like(p)
            st["exp_avg_sq"] = torch.zeros_like(p)
        st["step"].add_(1)
        beta1, beta2 = group["betas"]
        self._kernel(
            [p], [p.grad], [st["exp_avg"]], [st["exp_avg_sq"]], [], [st["step"]],
            amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2,
            weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
        )  # fmt: skip


@functools.cache
def fused_kernels_available(device: torch.device) -> bool:
    """The fused Adam kernels exist for this device (CPU since torch 2.4); probed once."""
    try:
        p = torch.zeros(1, device=device)
        s = torch.zeros((), device=device)
        torch._fused_adam_(
            [p], [p.clone()], [p.clone()], [p.clone()], [], [s], amsgrad=False, lr=0.0,
            beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8, maximize=False,
        )  # fmt: skip
        return True
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
