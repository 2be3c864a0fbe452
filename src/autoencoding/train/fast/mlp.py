"""Fast step ``mlp``: hand-derived backward passes for MLP autoencoders and VAEs.

A small MLP autoencoder on a CPU spends most of a training step outside its matrix products:
recording the autograd graph, walking it backward, and the optimizer's per-tensor
bookkeeping. When every part of a model has a kernel here — MLP encoder and decoder,
identity or Gaussian bottleneck, MSE / Bernoulli / Gaussian reconstruction, any corruption
(it sits before the encoder, so no gradient flows through it), any regularizer with a
kernel — this step runs the same forward computation without a graph and writes the
backward out layer by layer straight into the flat gradient buffer. Same noise draws, same
loss terms, gradients equal to autograd's up to float rounding
(``tests/test_manual_gradients.py``); about twice as fast on the protocol GEN VAE
(``benchmarks/gen_vae.py``).

Kernels are registered per part type (``NETS``, ``BOTTLENECKS``, ``LOSSES``,
``REGULARIZERS``; the generative parts' in :mod:`.mlp_generative`); each says whether it
supports a given part's settings (e.g. an MLP with GELU has no kernel).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ...model import Autoencoder, ModelOutput
from ...parts.base import Bottleneck, overrides
from ...parts.bottlenecks import GaussianBottleneck, IdentityBottleneck
from ...parts.nets import MANUAL_ACTIVATIONS, MLPDecoder, MLPEncoder, linears
from ...parts.reconstruction import LOG_2PI, MSE, Bernoulli, Gaussian
from . import FAST_STEPS, FastStep

# -- nets ----------------------------------------------------------------------------------


def mlp_forward(
    net: nn.Sequential, activation: str, x: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Forward pass of an MLP stack without an autograd graph: the output and the input of
    every linear layer (what the backward needs)."""
    layers = linears(net)
    inputs = []
    a = x
    for i, lin in enumerate(layers):
        inputs.append(a)
        a = torch.addmm(lin.bias, a, lin.weight.t())
        if i < len(layers) - 1:
            if activation == "relu":
                a.clamp_min_(0)
            elif activation == "tanh":
                a.tanh_()
            else:
                a.sigmoid_()
    return a, inputs


#: widest layer input treated as thin in :func:`mlp_backward`
THIN_COLUMNS = 8


def mlp_backward(
    net: nn.Sequential,
    activation: str,
    inputs: list[torch.Tensor],
    grad_out: torch.Tensor,
    need_input_grad: bool,
    accumulate: bool = False,
) -> torch.Tensor | None:
    """Backward pass matching :func:`mlp_forward`: writes every weight and bias gradient
    into the parameter's existing ``.grad`` tensor (overwriting it, or adding to it with
    ``accumulate``: a second pass through the same net) and returns the gradient with
    respect to the input when asked."""
    layers = linears(net)
    g = grad_out
    for i in range(len(layers) - 1, -1, -1):
        lin, a = layers[i], inputs[i]
        # A product whose right operand is a contiguous matrix of <= 8 columns (a layer
        # fed by a small latent) takes a slow BLAS path on CPU (3-4x, measured with
        # MKL/oneDNN on one thread); its transpose, (Bᵀ·Aᵀ)ᵀ, does not.
        thin = lin.in_features <= THIN_COLUMNS
        if accumulate:
            if thin:
                lin.weight.grad.add_(a.t().mm(g).t())
            else:
                lin.weight.grad.addmm_(g.t(), a)
            lin.bias.grad.add_(g.sum(0))
        else:
            if thin:
                lin.weight.grad.copy_(a.t().mm(g).t())
            else:
                torch.mm(g.t(), a, out=lin.weight.grad)
            torch.sum(g, 0, out=lin.bias.grad)
        if i == 0 and not need_input_grad:
            return None
        g = lin.weight.t().mm(g.t()).t() if thin else g.mm(lin.weight)
        if i > 0:  # through the activation that produced this layer's input
            if activation == "relu":
                g = torch.ops.aten.threshold_backward(g, a, 0)
            elif activation == "tanh":
                g = torch.ops.aten.tanh_backward(g, a)
            else:
                g = torch.ops.aten.sigmoid_backward(g, a)
    return g


def _mlp_supports(part: MLPEncoder | MLPDecoder) -> str | None:
    if part.cfg.activation not in MANUAL_ACTIVATIONS:
        return f"activation {part.cfg.activation!r} has no hand-written derivative"
    return None


def _mlp_backward(part: MLPEncoder | MLPDecoder, cache, g, need, accumulate=False):
    return mlp_backward(part.net, part.cfg.activation, cache, g, need, accumulate)


#: net kernels by part type: (supports, forward, backward). An encoder's forward reads the
#: corruption record (``MLPEncoder.net_input``: x̃, and the visibility flags with
#: ``mask_input``), a decoder's the latents; backward(part, cache, grad, need_input_grad,
#: accumulate=False) as :func:`mlp_backward`.
NETS: dict[type, tuple[Callable, Callable, Callable]] = {
    MLPEncoder: (
        _mlp_supports,
        lambda part, c: mlp_forward(part.net, part.cfg.activation, part.net_input(c)),
        _mlp_backward,
    ),
    MLPDecoder: (
        _mlp_supports,
        lambda part, z: mlp_forward(part.net, part.cfg.activation, z.flatten(1)),
        _mlp_backward,
    ),
}

# -- bottlenecks ---------------------------------------------------------------------------


def _identity_forward(part: IdentityBottleneck, h: torch.Tensor, step: int | None):
    return h, {}, {}, None


def _gaussian_forward(part: GaussianBottleneck, h: torch.Tensor, step: int | None):
    """The Gaussian bottleneck's training forward without a graph: the same posterior, the
    same noise draw and the same loss terms; returns (z, losses, stats, cache)."""
    n = h.shape[0]
    mean, logvar = part.posterior(h)
    t = logvar / 10.0  # the soft clamp's tanh, for its derivative in the backward
    std = torch.exp(0.5 * logvar)
    eps = torch.randn_like(mean)
    z = torch.addcmul(mean, std, eps)
    var = std * std
    kl_dim = 0.5 * (mean.pow(2) + var - 1.0 - logvar)
    kl = kl_dim.sum() / n
    keep = None
    if part.cfg.free_bits > 0:
        per_dim = kl_dim.mean(0)
        keep = (per_dim >= part.cfg.free_bits).to(h.dtype)  # where the clamp passes grads
        penalised = torch.clamp(per_dim, min=part.cfg.free_bits).sum()
    else:
        penalised = kl
    w = part.kl_weight(step)
    stats = {"kl": kl, "kl_weight": torch.tensor(w)}
    return z, {"kl": w * penalised}, stats, (mean, t, std, eps, var, w, keep)


def _gaussian_backward(part: GaussianBottleneck, cache, grad_z: torch.Tensor) -> torch.Tensor:
    """d loss / d h: the reparameterized sample's gradient plus the weighted KL's, through
    the soft clamp of the log-variance."""
    mean, t, std, eps, var, w, keep = cache
    n = mean.shape[0]
    d = part.latent_dim
    grad_h = torch.empty((n, 2 * d), dtype=mean.dtype, device=mean.device)
    c = w / n
    if keep is not None:
        c = keep * c  # per latent dimension: 0 where free bits hold the KL at the floor
        torch.addcmul(grad_z, mean, c, out=grad_h[:, :d])  # d/dmean: dz + c·mean
    else:
        torch.add(grad_z, mean, alpha=c, out=grad_h[:, :d])
    # d/dlogvar = ½·dz·eps·std + ½·c·(var − 1); logvar = 10·tanh(raw / 10), so
    # d logvar / d raw = 1 − tanh²
    glv = (grad_z * eps).mul_(std).add_((var - 1.0).mul_(c)).mul_(0.5)
    grad_h[:, d:] = torch.ops.aten.tanh_backward(glv, t)
    return grad_h


class BottleneckKernel(NamedTuple):
    """A bottleneck's training forward and backward without a graph."""

    forward: Callable
    """(part, h, step) -> (z, losses, stats, cache): the part's ``forward`` in training
    mode. z may hold k rows per input, sample-major ((k·B, d): rows i·B … i·B + B − 1 are
    the i-th sample of every input); the decoder and the loss then run on all k·B rows."""
    backward: Callable
    """(part, cache, grad_z) -> d loss / d h."""
    reduce: Callable | None = None
    """For a bottleneck that scores the decoded rows itself (its ``after_decode``): (part,
    cache, per-row loss (k·B,)) -> (reconstruction, terms, stats, row weights): the
    reconstruction term, the terms and stats ``after_decode`` adds, and d loss / d per-row
    loss ((k·B, 1)); it may keep what its backward needs in ``cache``. None: the loss is
    the batch mean (row weights 1/B)."""
    finish: Callable | None = None
    """(part, cache) -> None, called after the encoder's backward: gradients the bottleneck
    sends into parameters outside the data path (the VampPrior's pseudo-inputs through the
    encoder), added to what the backward wrote."""
    supports: Callable | None = None
    """(part) -> why the kernel cannot run this part's settings, or None."""


#: bottleneck kernels by part type
BOTTLENECKS: dict[type, BottleneckKernel] = {
    IdentityBottleneck: BottleneckKernel(_identity_forward, lambda part, cache, g: g),
    GaussianBottleneck: BottleneckKernel(_gaussian_forward, _gaussian_backward),
}

# -- reconstruction losses -----------------------------------------------------------------


def entry_weights(
    where: torch.Tensor | None, like: torch.Tensor, mean: bool
) -> torch.Tensor | float:
    """d(per-sample loss) / d(per-entry loss): each entry's weight in its row's loss (a
    scalar when every entry counts the same). ``mean``: the per-sample loss averages its
    entries (MSE) rather than summing them (likelihoods)."""
    if where is None:
        return 1.0 / like[0].numel() if mean else 1.0
    w = where.flatten(1).to(like.dtype)
    if mean:
        return w / w.sum(1, keepdim=True).clamp_min(1.0)
    return w


def _row_sum(per_entry: torch.Tensor, w: torch.Tensor | float) -> torch.Tensor:
    """The per-sample loss: each row's entries, weighted by ``w``, summed."""
    if isinstance(w, float):
        return per_entry.sum(1).mul_(w)
    return (per_entry * w).sum(1)


# A loss kernel returns (per-sample loss (n,), grad) for flat tensors; ``grad(row_w)`` is
# the gradient with respect to ``out`` of Σ_rows row_w · per-sample loss (row_w: 1/n for
# the batch mean, or an (n, 1) tensor), called once: it may reuse the forward's buffers.


def _mse_loss(part: MSE, out, x, where):
    diff = out - x
    w = entry_weights(where, diff, mean=True)
    return _row_sum(diff.pow(2), w), lambda row_w: diff.mul_(w * row_w * 2.0)


def _bernoulli_loss(part: Bernoulli, out, x, where):
    w = entry_weights(where, out, mean=False)
    # BCE with logits = softplus(out) − x·out, entry by entry
    per_entry = F.softplus(out).sub_(x * out)
    return _row_sum(per_entry, w), lambda row_w: torch.sigmoid(out).sub_(x).mul_(w * row_w)


def _gaussian_loss(part: Gaussian, out, x, where):
    """A learned variance gets its gradient written into ``log_sigma.grad``."""
    floor = math.log(part.cfg.min_sigma)
    learned = part.cfg.variance == "learned"
    if learned:
        raw = part.log_sigma.detach()
        log_sigma = (floor + F.softplus(raw - floor)).view(1, *out.shape[1:])
    else:
        log_sigma = torch.full_like(out[:1], math.log(part.cfg.sigma))
    inv_var = torch.exp(-2.0 * log_sigma)
    diff = out - x
    sq = diff.pow(2).mul_(inv_var)  # ((x − mean) / σ)²
    w = entry_weights(where, out, mean=False)

    def grad(row_w):
        s = w * row_w
        if learned:
            # d nll / d log σ = 1 − ((x − mean) / σ)²; softplus' derivative is the sigmoid
            g_ls = ((1.0 - sq) * s).sum(0)
            torch.mul(g_ls, torch.sigmoid(raw - floor), out=part.log_sigma.grad)
        return diff.mul_(inv_var).mul_(s)

    return _row_sum(0.5 * sq + log_sigma + 0.5 * LOG_2PI, w), grad


def _gaussian_supports(part: Gaussian) -> str | None:
    if part.cfg.variance == "decoder":
        return "a decoder-predicted variance has no hand-written gradient"
    return None


#: loss kernels by part type: (supports, loss); loss(part, out, x, where) -> (per-sample
#: loss, grad) as above
LOSSES: dict[type, tuple[Callable, Callable]] = {
    MSE: (lambda part: None, _mse_loss),
    Bernoulli: (lambda part: None, _bernoulli_loss),
    Gaussian: (_gaussian_supports, _gaussian_loss),
}


# -- regularizers --------------------------------------------------------------------------

#: regularizer kernels by part type: (supports, apply); apply(part) returns the part's loss
#: terms and adds their gradient into the parameters' ``.grad`` (after the backward)
REGULARIZERS: dict[type, tuple[Callable, Callable]] = {}


# -- the step ------------------------------------------------------------------------------


@FAST_STEPS.register("mlp")
class MLPStep(FastStep):
    """Forward and backward of an MLP autoencoder's training step, without autograd."""

    @classmethod
    def why_not(cls, model: nn.Module) -> str | None:
        if not isinstance(model, Autoencoder):
            return f"{type(model).__name__} is not one autoencoder pipeline"
        for role, part in (("encoder", model.encoder), ("decoder", model.decoder)):
            kernel = NETS.get(type(part))
            if kernel is None:
                return f"{role} {type(part).__name__} has no kernel"
            if (why := kernel[0](part)) is not None:
                return f"{role}: {why}"
        bottleneck = BOTTLENECKS.get(type(model.bottleneck))
        if bottleneck is None:
            return f"bottleneck {type(model.bottleneck).__name__} has no kernel"
        if bottleneck.supports is not None and (why := bottleneck.supports(model.bottleneck)):
            return f"bottleneck: {why}"
        loss = LOSSES.get(type(model.reconstruction))
        if loss is None:
            return f"reconstruction {type(model.reconstruction).__name__} has no kernel"
        if (why := loss[0](model.reconstruction)) is not None:
            return f"reconstruction: {why}"
        for reg in model.regularizers:
            kernel = REGULARIZERS.get(type(reg))
            if kernel is None:
                return f"regularizer {type(reg).__name__} has no kernel"
            if (why := kernel[0](reg)) is not None:
                return f"regularizer: {why}"
        if bottleneck.reduce is None and overrides(model.bottleneck, Bottleneck, "after_decode"):
            return "the bottleneck adds terms after decoding"
        return None

    def __init__(self, model: Autoencoder) -> None:
        super().__init__(model)
        self.enc = NETS[type(model.encoder)]
        self.dec = NETS[type(model.decoder)]
        self.bn = BOTTLENECKS[type(model.bottleneck)]
        self.loss = LOSSES[type(model.reconstruction)][1]

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, step: int) -> ModelOutput:
        m: Any = self.model
        record = m.corruption(x)
        h, enc_cache = self.enc[1](m.encoder, record)
        z, losses, stats, b_cache = self.bn.forward(m.bottleneck, h, step)
        out, dec_cache = self.dec[1](m.decoder, z)
        n, k = len(x), len(z) // len(x)  # k samples decoded per input
        target = (x if record.target is None else record.target).flatten(1)
        where = None if record.where is None else record.where.flatten(1)
        if k > 1:
            target = target.repeat(k, 1)
            where = None if where is None else where.repeat(k, 1)
        per_row, grad_of = self.loss(m.reconstruction, out, target, where)
        if self.bn.reduce is None:
            rec, more, more_stats, row_w = per_row.mean(), {}, {}, 1.0 / n
        else:
            rec, more, more_stats, row_w = self.bn.reduce(m.bottleneck, b_cache, per_row)
        grad_z = self.dec[2](m.decoder, dec_cache, grad_of(row_w), True)
        grad_h = self.bn.backward(m.bottleneck, b_cache, grad_z)
        self.enc[2](m.encoder, enc_cache, grad_h, False)
        if self.bn.finish is not None:
            self.bn.finish(m.bottleneck, b_cache)
        terms = {"reconstruction": rec, **losses, **more}
        for reg in m.regularizers:  # after the backward, which overwrites .grad
            terms.update(REGULARIZERS[type(reg)][1](reg))
        return ModelOutput(
            loss=sum(terms.values()),
            terms=terms,
            metrics={**terms, **stats, **more_stats},
            out=out[:n].view(n, 1, *record.x.shape[1:]),
            bottleneck=None,
        )
