"""Kernels of the fast step ``mlp`` for the generative parts of ``parts/generative.py``.

Registered into :mod:`.mlp`'s tables, so the ``rae``, ``iwae`` and ``vamp`` recipes train
without autograd:

- ``rae`` bottleneck: z = h, loss β·½‖z‖² (batch mean), d/dh = d/dz + (β/B)·h;
- ``decoder-l2`` regularizer: λ·‖θ_dec‖², whose gradient 2λ·θ is added after the backward;
- ``iwae`` bottleneck: k posterior samples per input, decoded as one (k·B)-row batch. The
  gradient of the bound L_k = log (1/k) Σ_i w_i with respect to each log-weight is the
  normalized importance weight w̃_i (a softmax over the k samples), so every decoded row's
  likelihood gradient is scaled by w̃_i / B, and the posterior receives the reparameterized
  gradients of w·(log p(z) − log q(z|x)) × w̃ plus the decoder's. (The logged ``kl`` term
  cancels inside ``iw_gap``: the loss is −L_k alone.)
- ``vamp`` bottleneck: the Gaussian posterior's sample scored against the mixture of the
  pseudo-inputs' posteriors; the pseudo-inputs run through the encoder's kernel in the
  forward, and after the encoder's own backward their gradient is added to the encoder's
  (``BottleneckKernel.finish``) and written into the pseudo-inputs'.

Same noise draws, terms and stats as the parts' ``forward``/``after_decode``; gradients
match autograd (``tests/test_manual_gradients.py``).
"""

from __future__ import annotations

import math

import torch

from ...parts.base import Corrupted
from ...parts.bottlenecks import LOG_2PI
from ...parts.generative import DecoderL2, IWAEBottleneck, RAEBottleneck, VampBottleneck
from .mlp import BOTTLENECKS, NETS, REGULARIZERS, BottleneckKernel

# -- rae -----------------------------------------------------------------------------------


def _rae_forward(part: RAEBottleneck, h: torch.Tensor, step: int | None):
    half_sq = 0.5 * h.pow(2).flatten(1).sum(1).mean()
    stats = {"latent_half_sq_norm": half_sq}
    return h, {"latent_l2": part.cfg.weight * half_sq}, stats, h


def _rae_backward(part: RAEBottleneck, h: torch.Tensor, grad_z: torch.Tensor) -> torch.Tensor:
    return torch.add(grad_z, h, alpha=part.cfg.weight / len(h))


# -- iwae ----------------------------------------------------------------------------------


def _iwae_forward(part: IWAEBottleneck, h: torch.Tensor, step: int | None):
    """The k samples (sample-major, (k·B, d)) and the ELBO's kl term of the part's training
    forward, with the same noise draw."""
    mean, logvar = part.posterior(h)
    k, (n, d) = part.cfg.samples, mean.shape
    std = torch.exp(0.5 * logvar)
    eps = torch.randn((k, n, d), dtype=mean.dtype, device=mean.device)
    z = torch.addcmul(mean, std, eps)  # (k, B, d)
    # log p(z) − log q(z|x): the log 2π of both cancel
    log_ratio = (eps.pow(2) - z.pow(2)).sum(-1).add_(logvar.sum(-1)).mul_(0.5)  # (k, B)
    kl = (0.5 * (mean.pow(2) + std * std - 1.0 - logvar)).sum(-1).mean()
    w = part.kl_weight(step)
    cache = {"t": logvar / 10.0, "std": std, "eps": eps, "z": z, "log_ratio": log_ratio,
             "w": w, "kl": w * kl}  # fmt: skip
    stats = {"kl": kl, "kl_weight": torch.tensor(w)}
    return z.view(k * n, d), {"kl": w * kl}, stats, cache


def _iwae_reduce(part: IWAEBottleneck, cache: dict, per_row: torch.Tensor):
    """The bound from the k·B per-row NLLs: −log p(x|z_i) + w·log p(z_i)/q(z_i|x) per
    sample, a logsumexp over the k samples, and d loss / d NLL_i = w̃_i / B."""
    k, n = cache["log_ratio"].shape
    a = per_row.view(k, n).neg().add_(cache["log_ratio"], alpha=cache["w"])
    bound = torch.logsumexp(a, 0) - math.log(k)
    rec = per_row[:n].mean()  # z_1's reconstruction, as the ELBO terms log it
    gap = -bound.mean() - (rec + cache["kl"])
    cache["wn"] = torch.softmax(a, 0).div_(n)  # w̃ / B, (k, B)
    return rec, {"iw_gap": gap}, {"iw_bound": bound.mean()}, cache["wn"].view(k * n, 1)


def _iwae_backward(part: IWAEBottleneck, cache: dict, grad_z: torch.Tensor) -> torch.Tensor:
    """d loss / d h. With c_i = w·w̃_i / B: d/dz_i = (decoder's) + c_i·z_i (from −log p(z_i));
    d/dmean = Σ_i d/dz_i; d/dlogvar = ½·Σ_i d/dz_i·eps_i·std − ½·Σ_i c_i (from log q's
    logvar), then through the soft clamp."""
    t, std, eps, z = cache["t"], cache["std"], cache["eps"], cache["z"]
    k, n, d = z.shape
    c = cache["wn"].mul(cache["w"]).unsqueeze(-1)  # (k, B, 1)
    g = torch.addcmul(grad_z.view(k, n, d), z, c)
    grad_h = torch.empty((n, 2 * d), dtype=z.dtype, device=z.device)
    torch.sum(g, 0, out=grad_h[:, :d])
    # Σ_i c_i = w / B (the w̃ sum to 1)
    glv = (g * eps).sum(0).mul_(std).sub_(cache["w"] / n).mul_(0.5)
    grad_h[:, d:] = torch.ops.aten.tanh_backward(glv, t)
    return grad_h


# -- vamp ----------------------------------------------------------------------------------


def _vamp_supports(part: VampBottleneck) -> str | None:
    if not part._encoder or type(part._encoder[0]) not in NETS:
        return "the VampPrior's encoder has no kernel"
    return None


def _vamp_forward(part: VampBottleneck, h: torch.Tensor, step: int | None):
    """The part's training forward: one posterior sample per input, and the Monte Carlo KL
    log q(z|x) − log p(z) against the mixture of the pseudo-inputs' posteriors (the
    pseudo-inputs go through the encoder's kernel: its cache serves their backward)."""
    mean, logvar = part.posterior(h)
    std = torch.exp(0.5 * logvar)
    eps = torch.randn_like(mean)
    z = torch.addcmul(mean, std, eps)
    encoder = part._encoder[0]
    h_u, enc_cache = NETS[type(encoder)][1](encoder, Corrupted(part.pseudo_inputs))
    mu, lv = part.posterior(h_u)  # (K, d)
    inv = torch.exp(-lv)
    mu_inv = mu * inv
    d = z.shape[1]
    # log N(z_b; μ_k, σ_k²) as the part's log_mixture expands it, (B, K)
    quad = (z * z).mm(inv.t()).addmm_(z, mu_inv.t(), alpha=-2.0).add_((mu * mu_inv).sum(1))
    log_n = quad.add_(lv.sum(1)).add_(d * LOG_2PI).mul_(-0.5)
    log_mix = torch.logsumexp(log_n, 1) - math.log(len(mu))
    log_q = (eps * eps).add_(logvar).add_(LOG_2PI).sum(1).mul_(-0.5)
    kl = (log_q - log_mix).mean()
    w = part.kl_weight(step)
    cache = {"t": logvar / 10.0, "std": std, "eps": eps, "z": z, "w": w, "mu": mu,
             "t_u": lv / 10.0, "inv": inv, "mu_inv": mu_inv, "resp": torch.softmax(log_n, 1),
             "enc_cache": enc_cache}  # fmt: skip
    return z, {"kl": w * kl}, {"kl": kl, "kl_weight": torch.tensor(w)}, cache


def _vamp_backward(part: VampBottleneck, cache: dict, grad_z: torch.Tensor) -> torch.Tensor:
    """d loss / d h; with r the responsibilities softmax_k log N(z; μ_k, σ_k²) and c = w/B,
    d/dz = (decoder's) + c·(z ⊙ (r·σ⁻²) − r·(μ ⊙ σ⁻²)) (from −log p(z)); the posterior's
    log-variance also gets −½·c from log q(z|x)."""
    t, std, eps, z, w = cache["t"], cache["std"], cache["eps"], cache["z"], cache["w"]
    n, d = z.shape
    c = w / n
    r = cache["resp"]
    pull = (z * r.mm(cache["inv"])).sub_(r.mm(cache["mu_inv"]))
    g = torch.add(grad_z, pull, alpha=c)
    grad_h = torch.empty((n, 2 * d), dtype=z.dtype, device=z.device)
    grad_h[:, :d] = g
    glv = (g * eps).mul_(std).sub_(c).mul_(0.5)
    grad_h[:, d:] = torch.ops.aten.tanh_backward(glv, t)
    return grad_h


def _vamp_finish(part: VampBottleneck, cache: dict) -> None:
    """The mixture's components: d loss / d μ_k = −c·σ_k⁻² ⊙ (Σ_b r_bk z_b − μ_k Σ_b r_bk),
    d loss / d log σ_k² = −½·c·(σ_k⁻² ⊙ Σ_b r_bk (z_b − μ_k)² − Σ_b r_bk); then back
    through the soft clamp and the encoder (adding to its gradients) into the
    pseudo-inputs."""
    z, mu, inv, r = cache["z"], cache["mu"], cache["inv"], cache["resp"]
    c = cache["w"] / len(z)
    k, d = mu.shape
    mass = r.sum(0).unsqueeze(1)  # (K, 1)
    rz = r.t().mm(z)  # (K, d)
    spread = r.t().mm(z * z).addcmul_(mu, rz, value=-2.0).addcmul_(mu * mu, mass)
    grad_hu = torch.empty((k, 2 * d), dtype=z.dtype, device=z.device)
    grad_hu[:, :d] = rz.addcmul_(mu, mass, value=-1.0).mul_(inv).mul_(-c)
    glv = spread.mul_(inv).sub_(mass).mul_(-0.5 * c)
    grad_hu[:, d:] = torch.ops.aten.tanh_backward(glv, cache["t_u"])
    encoder = part._encoder[0]
    g_in = NETS[type(encoder)][2](encoder, cache["enc_cache"], grad_hu, True, accumulate=True)
    u = part.pseudo_inputs
    part.pseudo_inputs.grad.copy_(g_in[:, : u[0].numel()].view_as(u))


# -- decoder-l2 ----------------------------------------------------------------------------


def _decoder_l2_supports(part: DecoderL2) -> str | None:
    return None if part._decoder else "decoder-l2 is not part of a model"


def contiguous_span(tensors: list[torch.Tensor]) -> torch.Tensor | None:
    """One 1-D view over ``tensors`` when they lie end to end in one storage (as a part's
    parameters and their gradients do in the flat buffer of ``fast/flat.py``), else None."""
    first = tensors[0]
    storage, size = first.untyped_storage().data_ptr(), first.element_size()
    end = first.data_ptr()
    for t in tensors:
        if t.untyped_storage().data_ptr() != storage or t.data_ptr() != end:
            return None
        if not t.is_contiguous():
            return None
        end += t.numel() * size
    return first.as_strided(((end - first.data_ptr()) // size,), (1,), first.storage_offset())


def _decoder_l2(part: DecoderL2) -> dict[str, torch.Tensor]:
    """λ·‖θ_dec‖², and 2λ·θ added to the gradients: one dot product and one axpy over the
    decoder's span of the flat buffer (a per-tensor loop where the span is broken)."""
    params = list(part._decoder[0].parameters())
    lam = part.cfg.weight
    flat, grad = contiguous_span(params), contiguous_span([p.grad for p in params])
    if flat is not None and grad is not None:
        grad.add_(flat, alpha=2.0 * lam)
        return {"decoder_l2": lam * torch.dot(flat, flat)}
    sq = torch.stack([torch.dot(p.reshape(-1), p.reshape(-1)) for p in params]).sum()
    torch._foreach_add_([p.grad for p in params], params, alpha=2.0 * lam)
    return {"decoder_l2": lam * sq}


BOTTLENECKS[RAEBottleneck] = BottleneckKernel(_rae_forward, _rae_backward)
BOTTLENECKS[IWAEBottleneck] = BottleneckKernel(_iwae_forward, _iwae_backward, _iwae_reduce)
BOTTLENECKS[VampBottleneck] = BottleneckKernel(
    _vamp_forward, _vamp_backward, finish=_vamp_finish, supports=_vamp_supports
)
REGULARIZERS[DecoderL2] = (_decoder_l2_supports, _decoder_l2)
