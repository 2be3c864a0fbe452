"""The trainer's manual-gradient path: hand-derived backward passes for MLP autoencoders.

(TopK sparse autoencoders have their own hand-written step: :mod:`..parts.sae_manual`.)

A small MLP autoencoder on a CPU spends most of a training step outside its matrix products:
recording the autograd graph, walking it backward, and the optimizer's per-tensor
bookkeeping. When every part of a model knows its own gradient — MLP encoder and decoder,
identity or Gaussian bottleneck, MSE / Bernoulli / Gaussian reconstruction, any corruption
(it sits before the encoder, so no gradient flows through it) and no regularizer — the
trainer runs this path instead: the same forward computation without a graph, the
backward written out layer by layer straight into one flat gradient buffer, and Adam
updating one flat parameter buffer in a single fused call. The result is the same model
(the same noise draws, the same loss terms, gradients equal to autograd's up to float
rounding: ``tests/test_manual_gradients.py``) about twice as fast on the protocol GEN VAE
(``benchmarks/gen_vae.py``). Anything else — other parts, regularizers, DDP, or
``TrainConfig.manual_gradients = False`` — takes the autograd path.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from ..model import Autoencoder, ModelOutput
from ..parts.sae_manual import topk_sae_step, topk_sae_unsupported
from ..parts.sae_nets import SAEEncoder


def unsupported(model: Autoencoder) -> str | None:
    """Why ``model`` cannot take the manual path (None when it can). A module that is not
    one pipeline (e.g. a group of SAEs) may answer for itself with ``manual_unsupported()``
    and then provide ``manual_step(x, step)``."""
    own = getattr(model, "manual_unsupported", None)
    if own is not None:
        return own()
    if not isinstance(model, Autoencoder):
        return f"{type(model).__name__} is not one autoencoder pipeline"
    if isinstance(model.encoder, SAEEncoder):
        return topk_sae_unsupported(model)
    for role in ("encoder", "bottleneck", "decoder", "reconstruction"):
        part = getattr(model, role)
        if not getattr(part, "manual_gradients", False):
            return f"{role} {type(part).__name__} has no manual gradient"
    if len(model.regularizers):
        return "regularizers need autograd"
    if hasattr(model.bottleneck, "after_decode"):
        return "the bottleneck adds terms after decoding"
    return None


class FlatParameters:
    """Every trainable parameter of ``model`` as a view into one flat buffer, with its
    ``.grad`` a view into one flat gradient buffer, so an optimizer steps one tensor.

    ``release`` gives every parameter its own storage again (saving a model needs
    unshared tensors) and drops the scratch matrices the manual steps kept."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.params = [p for p in model.parameters() if p.requires_grad]
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
        for m in self.model.modules():  # scratch matrices a manual step kept between steps
            for key in [k for k in vars(m) if k.startswith("_manual_")]:
                delattr(m, key)


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


def manual_step(model: Autoencoder, x: torch.Tensor, step: int) -> ModelOutput:
    """One training step's forward and backward without autograd: returns the loss terms
    like ``model(x, step)`` and leaves every parameter's gradient in its ``.grad``."""
    if hasattr(model, "manual_unsupported"):
        return model.manual_step(x, step)  # type: ignore[operator]
    if isinstance(model.encoder, SAEEncoder):
        return topk_sae_step(model, x, step)
    with torch.no_grad():
        x_tilde, where = model.corruption(x)
        h, enc_cache = model.encoder.manual_forward(x_tilde)
        z, losses, stats, b_cache = model.bottleneck.manual_forward(h, step)
        out, dec_cache = model.decoder.manual_forward(z)
        target = x.flatten(1)
        rec, grad_out = model.reconstruction.manual_loss(out, target, where)
        grad_z = model.decoder.manual_backward(dec_cache, grad_out)
        grad_h = model.bottleneck.manual_backward(b_cache, grad_z)
        model.encoder.manual_backward(enc_cache, grad_h, need_input_grad=False)
    terms = {"reconstruction": rec, **losses}
    loss = sum(terms.values())
    metrics = {**terms, **stats}
    return ModelOutput(loss=loss, terms=terms, metrics=metrics, out=out, bottleneck=None)  # type: ignore[arg-type]
