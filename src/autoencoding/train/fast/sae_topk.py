"""Fast step ``sae-topk``: a TopK sparse autoencoder's training step, gradients by hand.

Autograd would carry a TopK SAE's gradients as sparse COO tensors (only the k selected
latents of each row receive one), and PyTorch's sparse machinery on a CPU — coalescing,
sorting, sparse additions, ``embedding_bag``'s backward — costs several times the step's one
dense product. Written by hand, the step has one dense (B, d) × (d, L) product each way in the
encoder's precision (bfloat16 where the hardware runs it natively) and two exact sparse ×
dense products, with the selected latents sorted once per step into a (L, B) CSR matrix Z:

    pre = (s·x − b_dec) W_encᵀ + b_enc        forward, as the encoder "sae"
    codes = topk(pre, k); v = relu(pre[codes]); E = Σ v·D[codes]; x̂ = (E + b_dec) / s
    ∂/∂v    = ⟨D[codes], g_E⟩            ← (g_E Dᵀ) gathered at the codes
    ∂/∂D    = Z g_E                      ← Z holds v
    ∂/∂W_enc = Z′ (s·x − b_dec)          ← Z′: the same sparsity pattern holding ∂/∂pre
    ∂/∂V    = (∂/∂D − D ⊙ ⟨D, ∂/∂D⟩) / ‖V‖   (D = V / ‖V‖ row by row)

plus AuxK on the dead latents (Gao et al. 2024, §A.2), whose products only touch the dead
columns. Same loss terms, statistics and dead-latent tracking as the autograd path; gradients
equal up to the products' precision (``tests/interp/test_sae_manual.py``).

The step keeps its (B, L) pre-activation buffer between steps in itself, never on a module.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ...model import Autoencoder, ModelOutput
from ...parts.sae_nets import FVU, SAEDecoder, SAEEncoder, total_variance
from ...parts.sparse import TopKBottleneck
from . import FAST_STEPS, FastStep


@FAST_STEPS.register("sae-topk")
class TopKSAEStep(FastStep):
    """Forward and backward of a TopK SAE training step; gradients land in ``.grad``."""

    @classmethod
    def why_not(cls, model: nn.Module) -> str | None:
        if not isinstance(model, Autoencoder):
            return f"{type(model).__name__} is not one autoencoder pipeline"
        if type(model.bottleneck) is not TopKBottleneck:
            return f"bottleneck {type(model.bottleneck).__name__} is not TopK"
        if not isinstance(model.encoder, SAEEncoder) or not isinstance(model.decoder, SAEDecoder):
            return "the TopK SAE step needs encoder and decoder 'sae'"
        if not isinstance(model.reconstruction, FVU):
            return "the TopK SAE step needs reconstruction 'fvu'"
        if not model.corruption.identity or len(model.regularizers):
            return "corruption and regularizers need autograd"
        return None

    def __init__(self, model: Autoencoder) -> None:
        super().__init__(model)
        self.pre: torch.Tensor | None = None

    def pre_buffer(self, shape: tuple[int, int], dtype, device) -> torch.Tensor:
        """The (B, L) pre-activation matrix, kept between steps: allocating 25-50 MB afresh
        every step costs the operating system as much time as a matrix product (page
        faults)."""
        buf = self.pre
        if buf is None or buf.shape != shape or buf.dtype != dtype or buf.device != device:
            buf = self.pre = torch.empty(shape, dtype=dtype, device=device)
        return buf

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, step: int) -> ModelOutput:
        return topk_sae_step(self.model, x, self.pre_buffer)


def topk_sae_step(model: Autoencoder, x: torch.Tensor, pre_buffer) -> ModelOutput:
    """The step itself (``pre_buffer(shape, dtype, device)`` lends the (B, L) scratch)."""
    enc: SAEEncoder = model.encoder  # type: ignore[assignment]
    dec: SAEDecoder = model.decoder  # type: ignore[assignment]
    bn: TopKBottleneck = model.bottleneck  # type: ignore[assignment]
    cfg = bn.cfg
    x = x.flatten(1)
    n = x.shape[0]
    low = enc.matmul_dtype(x) or x.dtype

    # -- forward ---------------------------------------------------------------------------
    dec.renormalize_()
    V = dec.weight
    norms = V.norm(dim=1, keepdim=True).clamp_min(1e-12)
    D = V / norms
    s = dec.input_scale
    xc = x * s - dec.bias
    xc_low = xc.to(low)
    shape = (n, enc.weight.shape[0])
    pre = pre_buffer(shape, low, x.device)  # (B, L), overwritten every step
    torch.addmm(enc.bias.to(low), xc_low, enc.weight.to(low).t(), out=pre)
    codes = pre.topk(cfg.k, dim=1, sorted=False).indices
    vals = pre.gather(1, codes).float().clamp_min_(0)
    record = bn.record(pre, None, codes=codes, values=vals)  # statistics, dead tracking
    E = F.embedding_bag(codes, D, per_sample_weights=vals, mode="sum")
    out = (E + dec.bias) / s
    diff = out - x
    T = total_variance(x) * n
    rec = diff.pow(2).sum() / T
    terms = {"reconstruction": rec}
    stats = {**record.stats, "fvu": rec.clone()}
    g_E = diff * (2.0 / T) / s  # ∂rec/∂E

    aux = None
    dead_idx = bn.auxk_dead()
    if dead_idx is not None:
        n_dead = len(dead_idx)
        k_nominal = bn.auxk_k(x.shape[1])
        pre_dead = pre.index_select(1, dead_idx).float()
        # za: the dead latents' values (B, n_dead), zero outside each row's top k_aux; with
        # no more dead latents than k_aux every one of them is used
        if n_dead > k_nominal:
            pos = pre_dead.topk(k_nominal, dim=1, sorted=False).indices
            za = torch.zeros_like(pre_dead).scatter_(1, pos, pre_dead.gather(1, pos))
            za.clamp_min_(0)
        else:
            za = pre_dead.clamp_min_(0)
        D_dead = D.index_select(0, dead_idx)
        e_hat = (za @ D_dead) / s
        r = -diff - e_hat  # the residual x − x̂ that the dead latents should model
        scale = min(n_dead / k_nominal, 1.0)
        auxk = scale * r.pow(2).sum() / T
        terms["auxk"] = cfg.auxk_alpha * auxk
        stats["auxk"] = auxk
        g_Ea = r * (-2.0 * cfg.auxk_alpha * scale / T) / s  # ∂(α·AuxK)/∂(za·D_dead)
        aux = (dead_idx, za, D_dead, g_Ea)

    # -- backward --------------------------------------------------------------------------
    # ∂/∂values: ⟨D[code], g_E⟩ for each selected latent, through the ReLU (the product
    # reuses the pre-activations' storage: they are not needed any more)
    torch.mm(g_E.to(low), D.to(low).t(), out=pre)
    g_vals = pre.gather(1, codes).float().mul_(vals > 0)
    # The selected latents as a sparse (L, B) matrix, rows = latents: ∂/∂D and ∂/∂W_enc are
    # sparse × dense products of B·k·d multiply-adds, exact in float32, instead of dense
    # (L, B) × (B, d) products that are 99% zeros.
    L = shape[1]
    by_latent, order = torch.sort(codes.flatten(), stable=True)
    crow = torch.searchsorted(by_latent, torch.arange(L + 1, device=x.device))
    col = order.div(cfg.k, rounding_mode="floor")  # each entry's row of the batch

    def latents_by_batch(values: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            return torch.sparse_csr_tensor(
                crow, col, values.flatten()[order], (L, n), check_invariants=False
            )

    g_D = latents_by_batch(vals) @ g_E
    torch.mm(latents_by_batch(g_vals), xc, out=enc.weight.grad)
    g_b_enc = torch.zeros(L, dtype=x.dtype, device=x.device)
    g_b_enc.index_add_(0, codes.flatten(), g_vals.flatten())
    if aux is not None:
        dead_idx, za, D_dead, g_Ea = aux
        g_za = (g_Ea @ D_dead.t()).mul_(za > 0)  # only selected, positive dead latents
        g_D.index_add_(0, dead_idx, za.t() @ g_Ea)
        enc.weight.grad.index_add_(0, dead_idx, g_za.t() @ xc)
        g_b_enc.index_add_(0, dead_idx, g_za.sum(0))
    if enc.bias.requires_grad:
        enc.bias.grad.copy_(g_b_enc)
    # b_dec: the decoder's bias term, and the centre subtracted before encoding
    torch.sub(g_E.sum(0), g_b_enc @ enc.weight, out=dec.bias.grad)
    # through D = V / ‖V‖: remove each row's component along its own direction
    g_D.sub_(D * (D * g_D).sum(1, keepdim=True)).div_(norms)
    dec.weight.grad.copy_(g_D)

    loss = sum(terms.values())
    metrics = {**terms, **stats}
    record.pre = None  # its storage is reused by the next step
    return ModelOutput(
        loss=loss, terms=terms, metrics=metrics, out=out.view(n, 1, -1), bottleneck=record
    )
