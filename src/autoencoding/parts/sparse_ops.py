"""Tensor operations for sparse codes, shared by the sparse-autoencoder parts.

A sparse autoencoder keeps k of L latents per row (k ≪ L, e.g. 32 of 3072). Three dense
products dominate a naive training step — the encoder, the decoder and their backward passes
— but only the encoder's forward product really needs every latent: once the active set is
known, decoding and every gradient touch O(B·k·d) numbers instead of O(B·L·d).

* :func:`sparse_decode` decodes (indices, values) with ``embedding_bag``, forward and
  backward, never forming the dense latents × features product;
* :func:`sparse_grad_affine` is ``(x − center) Wᵀ + b`` whose backward detects a sparse output
  gradient (only active latents receive one) and then costs O(nnz·d) instead of O(B·L·d).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Below this fraction of non-zero output gradients the affine backward takes the sparse path.
SPARSE_GRAD_DENSITY = 0.1


def sparse_decode(codes: torch.Tensor, values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``Σ_j values[:, j] · weight[codes[:, j]]``, shaped (B, d), in O(B·k·d).

    ``codes`` (B, m) are row indices of ``weight`` (L, d); entries < 0 are padding (their
    values must be 0). Gradients reach ``values`` and the used rows of ``weight`` only.
    """
    if codes.numel() and int(codes.min()) < 0:
        codes = codes.clamp_min(0)  # padded slots carry value 0, so any valid row will do
    return F.embedding_bag(codes, weight, per_sample_weights=values.to(weight.dtype), mode="sum")


class _SparseGradAffine(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, center, weight, bias):  # type: ignore[override]
        xc = x - center if center is not None else x
        ctx.save_for_backward(xc, weight)
        ctx.has_center = center is not None
        return torch.addmm(bias, xc, weight.t())

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        xc, weight = ctx.saved_tensors
        need_x, need_c, need_w, need_b = ctx.needs_input_grad
        gx = gc = gw = gb = None
        gb = g.sum(0) if need_b or need_c else None
        sparse = torch.count_nonzero(g) <= SPARSE_GRAD_DENSITY * g.numel()
        if sparse:
            gs = g.to_sparse()
            if need_w:
                gw = torch.sparse.mm(gs.t(), xc)
            if need_x:
                gx = torch.sparse.mm(gs, weight)
        else:
            if need_w:
                gw = g.t() @ xc
            if need_x:
                gx = g @ weight
        if need_c and ctx.has_center:
            # d/dcenter of (x − c)Wᵀ summed over rows: −(Σ_rows g) W, an L×d product, not B×L×d
            gc = -(gb @ weight)
        return gx, gc, gw, gb if need_b else None


def sparse_grad_affine(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, center: torch.Tensor | None = None
) -> torch.Tensor:
    """``(x − center) @ weight.T + bias`` with a backward that exploits sparse gradients.

    When a sparse bottleneck follows, the gradient of the output is non-zero only at the
    active latents; the backward then multiplies a sparse (B, L) matrix instead of a dense
    one. Mathematically identical to the dense expression (checked by ``gradcheck``).
    """
    return _SparseGradAffine.apply(x, center, weight, bias)


def codes_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Indices of the True entries of each row of ``mask`` (B, L), padded with −1 to the
    largest row count: a (B, m) long tensor, indices ascending within a row."""
    rows, cols = mask.nonzero(as_tuple=True)
    n = mask.shape[0]
    counts = torch.bincount(rows, minlength=n)
    m = int(counts.max()) if n and rows.numel() else 0
    codes = torch.full((n, max(m, 1)), -1, dtype=torch.long, device=mask.device)
    if rows.numel():
        starts = torch.cumsum(counts, 0) - counts
        pos = torch.arange(rows.numel(), device=mask.device) - starts[rows]
        codes[rows, pos] = cols
    return codes


def gather_codes(dense: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """The entries of ``dense`` (B, L) at ``codes`` (B, m), 0 at padding (−1)."""
    valid = codes >= 0
    return torch.where(valid, dense.gather(1, codes.clamp_min(0)), dense.new_zeros(()))


@torch.no_grad()
def geometric_median(x: torch.Tensor, iters: int = 50, tol: float = 1e-6) -> torch.Tensor:
    """The point minimising the sum of Euclidean distances to the rows of ``x`` (Weiszfeld's
    algorithm from the mean). Robust to the outlier tokens of transformer activations, which
    is why Gao et al. (2024) start the SAE's decoder bias there."""
    x = x.double()
    y = x.mean(0)
    for _ in range(iters):
        w = 1.0 / (x - y).norm(dim=1).clamp_min(1e-12)
        y_new = (w[:, None] * x).sum(0) / w.sum()
        if (y_new - y).norm() <= tol * (1 + y.norm()):
            y = y_new
            break
        y = y_new
    return y
