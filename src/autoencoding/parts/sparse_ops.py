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
    """Its backward accepts a sparse COO output gradient (see :func:`sparse_gather`)."""

    @staticmethod
    def forward(ctx, x, center, weight, bias, matmul_dtype, keep_low):  # type: ignore[override]
        xc = x - center if center is not None else x
        ctx.save_for_backward(xc, weight)
        ctx.has_center = center is not None
        if matmul_dtype is not None and matmul_dtype != xc.dtype:
            low = torch.addmm(
                bias.to(matmul_dtype), xc.to(matmul_dtype), weight.to(matmul_dtype).t()
            )
            # keep_low: the consumer only selects and gathers a few entries per row (TopK), so
            # the (B, L) output stays in the product's dtype — converting it would cost as
            # much as a third of the selection itself
            return low if keep_low else low.to(xc.dtype)
        return torch.addmm(bias, xc, weight.t())

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        xc, weight = ctx.saved_tensors
        if g.dtype != xc.dtype:
            g = g.to(xc.dtype)  # a low-precision output's gradient; every product runs in fp32
        need_x, need_c, need_w, need_b = ctx.needs_input_grad[:4]
        gx = gc = gw = gb = None
        if g.is_sparse:
            # from sparse_gather: only the selected latents have a gradient, no dense (B, L)
            gs = g.coalesce()
            idx, vals = gs.indices(), gs.values()
            gb = torch.zeros(g.shape[1], dtype=vals.dtype, device=vals.device)
            gb.index_add_(0, idx[1], vals)
            sparse = True
        else:
            gb = g.sum(0) if need_b or need_c else None
            sparse = bool(torch.count_nonzero(g) <= SPARSE_GRAD_DENSITY * g.numel())
            gs = g.to_sparse() if sparse else None
        if sparse:
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
        return gx, gc, gw, gb if need_b else None, None, None


def sparse_grad_affine(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    center: torch.Tensor | None = None,
    matmul_dtype: torch.dtype | None = None,
    keep_low: bool = False,
) -> torch.Tensor:
    """``(x − center) @ weight.T + bias`` with a backward that exploits sparse gradients.

    When a sparse bottleneck follows, the gradient of the output is non-zero only at the
    active latents; the backward then multiplies a sparse (B, L) matrix instead of a dense
    one. Mathematically identical to the dense expression (checked by ``gradcheck``).
    ``matmul_dtype=torch.bfloat16`` runs the forward product in bfloat16 (output and every
    gradient stay in the input's dtype): mixed precision for the one dense product;
    ``keep_low=True`` then returns the output in bfloat16 too (for consumers that only
    select and gather from it; its gradient is computed in the input's dtype).
    """
    return _SparseGradAffine.apply(x, center, weight, bias, matmul_dtype, keep_low)


def bf16_matmul_is_fast(device: torch.device) -> bool:
    """Whether bfloat16 products run natively (AMX / AVX512-BF16 CPUs, bf16 GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:  # private probes: a torch without them answers "not fast"
            return bool(
                torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
            )
        except (AttributeError, RuntimeError):
            return False
    return False


class _SparseGather(torch.autograd.Function):
    @staticmethod
    def forward(ctx, dense, codes):  # type: ignore[override]
        ctx.save_for_backward(codes)
        ctx.shape = dense.shape
        return gather_codes(dense, codes)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (codes,) = ctx.saved_tensors
        valid = codes >= 0
        rows = torch.arange(codes.shape[0], device=codes.device)[:, None].expand_as(codes)
        index = torch.stack([rows[valid], codes[valid]])
        return torch.sparse_coo_tensor(index, g[valid], ctx.shape, check_invariants=False), None


#: the autograd node name of _SparseGradAffine (how sparse_gather recognises its producer)
_SPARSE_AFFINE_BACKWARD = "_SparseGradAffineBackward"


def sparse_gather(dense: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """:func:`gather_codes` whose gradient stays sparse when ``dense`` comes straight from
    :func:`sparse_grad_affine`: the backward then never fills a dense (B, L) gradient. With
    any other producer the gradient is the usual dense one."""
    fn = dense.grad_fn
    if dense.requires_grad and fn is not None and fn.name() == _SPARSE_AFFINE_BACKWARD:
        return _SparseGather.apply(dense, codes)
    return gather_codes(dense, codes)


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


def scatter_codes(
    like: torch.Tensor, codes: torch.Tensor, values: torch.Tensor, width: int | None = None
) -> torch.Tensor:
    """Dense (B, L) latents, zero but ``values`` at ``codes`` (padding −1 ignored); L is
    ``like``'s width, or ``width`` when given."""
    shape = (like.shape[0], width if width is not None else like.shape[1])
    z = like.new_zeros(shape, dtype=values.dtype)
    if codes.numel() and int(codes.min()) < 0:
        valid = codes >= 0
        rows = torch.arange(codes.shape[0], device=codes.device)[:, None].expand_as(codes)
        return z.index_put((rows[valid], codes[valid]), values[valid])
    return z.scatter_(1, codes, values)


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
