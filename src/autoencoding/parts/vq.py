"""The vector quantizer (VQ-VAE bottleneck), with the update rules that keep codebooks alive.

van den Oord et al., "Neural Discrete Representation Learning" (NeurIPS 2017); EMA updates
from its appendix and Razavi et al., "Generating Diverse High-Fidelity Images with VQ-VAE-2"
(2019); dead-code restarts from Dhariwal et al., "Jukebox" (2020); cosine codebooks from
Yu et al., "Vector-quantized Image Modeling with Improved VQGAN" (ICLR 2022); the rotation
trick from Fifty et al., "Restructuring Vector Quantization with the Rotation Trick"
(ICLR 2025, arXiv 2410.06424).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from ..errors import AutoencodingError
from .base import BOTTLENECKS
from .quantization import (
    CodeTracker,
    Quantized,
    QuantizedBottleneck,
    all_reduce_sum,
    broadcast,
    sq_distance,
    straight_through,
)


@dataclass
class VQConfig:
    codebook_size: int = 512
    """K: codes per codebook."""
    dim: int | None = None
    """Size of each quantized vector; latent_dim must be a multiple of it (latent_dim / dim
    vectors per sample). None = latent_dim (one vector per sample)."""
    n_codebooks: int = 1
    """Codebooks; the vectors of a sample are split into this many contiguous groups, each with
    its own codebook (1 = one codebook shared by every vector)."""
    distance: Literal["euclidean", "cosine"] = "euclidean"
    """Nearest-code distance; cosine l2-normalises vectors and codes (z lies on the sphere)."""
    gradient: Literal["rotation", "straight_through"] = "rotation"
    """How gradients cross the quantizer to the encoder: the rotation trick or the
    straight-through copy."""
    update: Literal["ema", "loss"] = "ema"
    """How codes move: exponential moving averages of their assigned vectors, or gradient
    descent on the codebook loss ‖sg[e] − q‖²."""
    commitment: float = 0.25
    """β: weight of the commitment loss ‖e − sg[q]‖² that keeps encoder outputs near codes."""
    ema_decay: float = 0.99
    """Decay of the EMA code statistics (update 'ema')."""
    ema_epsilon: float = 1e-5
    """Laplace smoothing of the EMA code counts (update 'ema'); keeps unused codes finite."""
    kmeans_init: bool = True
    """Initialise the codebook by k-means on the first training batch's vectors."""
    kmeans_iters: int = 10
    """Lloyd iterations of the k-means initialisation."""
    restarts: bool = True
    """Re-seed dead codes on vectors of the current batch (favouring poorly quantized ones)."""
    dead_after: int = 1024
    """Window, in training samples (rows): a code unused for this long is dead (restarted when
    restarts is on, counted in dead_codes); codebook_usage counts codes used within it."""
    affine: bool = True
    """Pass quantized vectors through a learned affine map (dim → dim, shared by every vector
    and code, default linear-layer init) before the decoder; codes stay in the encoder's
    space."""
    prior: Literal["empirical", "uniform"] = "empirical"
    """Code distribution for sampling: decayed empirical frequencies per position, or uniform."""

    def validate(self) -> None:
        w = "bottleneck 'vq'"
        require(
            self.codebook_size >= 1, f"{w}: codebook_size must be >= 1, got {self.codebook_size}"
        )
        require(self.dim is None or self.dim >= 1, f"{w}: dim must be >= 1, got {self.dim}")
        require(self.n_codebooks >= 1, f"{w}: n_codebooks must be >= 1, got {self.n_codebooks}")
        require(self.commitment >= 0, f"{w}: commitment must be >= 0, got {self.commitment}")
        require(0 <= self.ema_decay < 1, f"{w}: ema_decay must be in [0, 1), got {self.ema_decay}")
        require(self.ema_epsilon > 0, f"{w}: ema_epsilon must be > 0, got {self.ema_epsilon}")
        require(self.kmeans_iters >= 0, f"{w}: kmeans_iters must be >= 0, got {self.kmeans_iters}")
        require(
            self.dead_after >= 1, f"{w}: dead_after must be >= 1 samples, got {self.dead_after}"
        )


class _RotationTrick(torch.autograd.Function):
    """Forward: q exactly. Backward: the gradient at q, rotated and rescaled onto e.

    With û = e/‖e‖, q̂ = q/‖q‖, r = (û + q̂)/‖û + q̂‖ and λ = ‖q‖/‖e‖, the rotation taking û
    to q̂ is R = I − 2rrᵀ + 2q̂ûᵀ (a Householder reflection plus one rank-one term), and
    q = λ·R·e. Treating λ and R as constants (Fifty et al., eq. 3–4), the gradient reaching e
    is λ·Rᵀ·g = λ·(g − 2(r·g)·r + 2(q̂·g)·û) — no d×d matrix is ever formed.
    """

    @staticmethod
    def forward(ctx, e: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        e_norm = e.norm(dim=-1, keepdim=True).clamp_min(EPS)
        q_norm = q.norm(dim=-1, keepdim=True).clamp_min(EPS)
        u, q_hat = e / e_norm, q / q_norm
        r = F.normalize(u + q_hat, dim=-1, eps=EPS)
        ctx.save_for_backward(u, q_hat, r, q_norm / e_norm)
        return q.clone()

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        u, q_hat, r, scale = ctx.saved_tensors
        dot = torch.stack([(g * r).sum(-1), (g * q_hat).sum(-1)], -1)
        rotated = g - 2 * dot[..., :1] * r + 2 * dot[..., 1:] * u
        return scale * rotated, None


def rotation_trick(e: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """q in value; the encoder output e receives λ·Rᵀ·∇_q (see :class:`_RotationTrick`).

    Why: straight-through hands every e in a code's Voronoi cell the same gradient, the one
    at q. Rotating it instead preserves the angle between e and its gradient, so vectors in
    one cell are pushed apart or together depending on where they sit relative to the code;
    Fifty et al. show this raises codebook usage and lowers quantization and reconstruction
    error.
    """
    return _RotationTrick.apply(e, q.detach())


GRADIENTS = {"rotation": rotation_trick, "straight_through": straight_through}
EPS = 1e-8


@BOTTLENECKS.register("vq")
class VectorQuantizer(QuantizedBottleneck):
    """Vector quantization: each of the n = latent_dim / dim vectors snaps to its nearest code.

    ::

        h (B, n·d) ─ split ─▶ e (B, n, d) ─ nearest code ─▶ codes (B, n) ─ lookup ─▶ q (B, n, d)
        z = q in value; gradients reach e by the rotation trick or straight through
        loss += β‖e − sg[q]‖²  (+ ‖sg[e] − q‖² when update = 'loss')

    Why the extra terms: the quantizer has no gradient, so the codebook must learn another
    way — by the codebook loss, or (default, faster and steadier) as an exponential moving
    average of the encoder vectors assigned to each code, with Laplace smoothing so rarely
    used codes do not divide by zero. The commitment loss stops encoder outputs from drifting
    away from the codes faster than the codes can follow. Both terms are summed over a
    sample's latent entries and averaged over the batch, like the likelihoods and the VAE's
    KL (reference implementations average over entries instead: with a 64-dim latent their
    β = 0.25 is our 0.25/64). The ``quant_error`` statistic is per latent entry.

    Why the defaults: codes that no vector picks never move. k-means++ on the first batch
    puts codes where the data is, and dead-code restarts move any code unused for
    ``dead_after`` samples onto a current encoder vector that its code serves badly, so
    usage stays near 1 whatever the update rule — also where the commitment is too weak to
    hold encoder outputs near the codes, the regime in which loss-based updates lose most of
    the codebook (GEN with β/64: usage 0.13 loss-based, 1.0 with EMA + k-means + restarts;
    benchmarks/claims/vq_updates.py). The affine output map ``z = A·q + b``
    (shared by all codes; related to the affine reparameterization of Huh et al., "Straightening
    Out the Straight-Through Estimator", ICML 2023) lets gradient descent move the decoder's
    view of every code at once while EMA and restarts move codes one by one; on protocol GEN
    it lowered test MSE from ~0.0148 to ~0.0127 (an identity start did not: ~0.0145). With
    it the rotation trick beat straight-through (MSE 0.0124 vs 0.0129, 10× lower
    quantization error); without it the rotation trick was worse (0.017 vs 0.0148) — see
    benchmarks/claims/vq_rotation.py.

    Codes: ``codes[b, i]`` indexes the codebook of vector i's group. In eval mode z is exactly
    the looked-up code, so ``decode(encode(x, codes=True)) == reconstruct(x)``. Buffers
    (codebook under EMA, EMA statistics, usage clocks, the empirical prior) are saved with
    the model.
    """

    Config = VQConfig

    def __init__(self, cfg: VQConfig, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.cfg = cfg
        dim = cfg.dim or latent_dim
        if latent_dim % dim:
            raise AutoencodingError(
                f"bottleneck 'vq': latent_dim {latent_dim} is not a multiple of the vector dim "
                f"{dim}; use latent_dim = n_vectors × dim"
            )
        self.dim, self.n_vectors = dim, latent_dim // dim
        if self.n_vectors % cfg.n_codebooks:
            raise AutoencodingError(
                f"bottleneck 'vq': {self.n_vectors} vector(s) per sample cannot be split into "
                f"{cfg.n_codebooks} codebooks; n_codebooks must divide latent_dim / dim"
            )
        g, k = cfg.n_codebooks, cfg.codebook_size
        self.prior = cfg.prior
        self.tracker = CodeTracker(self.n_vectors, g, k, cfg.dead_after)
        # Until k-means replaces it (or for good without kmeans_init): the reference init,
        # uniform in ±1/K, so codes start near the origin where fresh encoders put vectors.
        codebook = torch.empty(g, k, dim).uniform_(-1.0 / k, 1.0 / k)
        if cfg.update == "ema":
            self.register_buffer("codebook", codebook)
            self.register_buffer("ema_count", torch.ones(g, k))
            self.register_buffer("ema_sum", codebook.clone())
        else:
            self.codebook = torch.nn.Parameter(codebook)
        self.register_buffer("initialized", torch.tensor(not cfg.kmeans_init))
        self.affine = None
        if cfg.affine:
            self.affine = nn.Linear(dim, dim)
        book_of_vector = torch.arange(self.n_vectors) // (self.n_vectors // g)
        self.register_buffer("code_offsets", book_of_vector * k, persistent=False)
        self.register_buffer("book_offsets", torch.arange(g).unsqueeze(1) * k, persistent=False)

    # -- shapes: the vectors of a batch grouped by codebook -------------------------------
    def _by_book(self, e: torch.Tensor) -> torch.Tensor:
        """(B, n, d) → (G, B·n/G, d): the vectors each codebook quantizes."""
        g = self.cfg.n_codebooks
        return e.view(e.shape[0], g, -1, self.dim).transpose(0, 1).reshape(g, -1, self.dim)

    def _from_book(self, idx: torch.Tensor, batch: int) -> torch.Tensor:
        """(G, B·n/G) → (B, n), the inverse of _by_book for indices."""
        return idx.view(self.cfg.n_codebooks, batch, -1).transpose(0, 1).reshape(batch, -1)

    def codewords(self) -> torch.Tensor:
        """The codebook as used for lookup, (G, K, d): l2-normalised for cosine distance."""
        return self._normalize_if_cosine(self.codebook)

    def _normalize_if_cosine(self, c: torch.Tensor) -> torch.Tensor:
        return F.normalize(c, dim=-1) if self.cfg.distance == "cosine" else c

    def _lookup_with(self, codewords: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        flat = codewords.reshape(-1, self.dim)
        return F.embedding(codes + self.code_offsets, flat)  # (B, n, d)

    def _to_latent(self, q: torch.Tensor) -> torch.Tensor:
        """Quantized vectors (B, n, d) → the decoder's latent (B, n·d)."""
        if self.affine is not None:
            q = self.affine(q)
        return q.reshape(q.shape[0], -1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        return self._to_latent(self._lookup_with(self.codewords(), codes))

    @staticmethod
    def _nearest(x: torch.Tensor, codewords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest code for each vector and its squared distance: x (G, N, d), codewords
        (G, K, d) → indices (G, N), distances (G, N)."""
        # ‖x‖² is the same for every code, so argmin ‖c‖² − 2x·c is the nearest code
        # (and min().indices is about twice as fast as argmin() on CPU).
        c2 = codewords.pow(2).sum(-1).unsqueeze(1)
        gap, idx = torch.baddbmm(c2, x, codewords.transpose(1, 2), alpha=-2.0).min(-1)
        return idx, gap + x.pow(2).sum(-1)

    # -- codebook maintenance (training only) ---------------------------------------------
    def _set_codes(self, mask: torch.Tensor, values: torch.Tensor, counts: torch.Tensor) -> None:
        """Replace the codes in mask (G, K) with values (G, K, d), as if each were the mean of
        ``counts`` assigned vectors (so the EMA statistics agree with the new codes); the
        result is rank 0's under torchrun, so every process keeps the same codebook."""
        m = mask.unsqueeze(-1)
        self.codebook.copy_(torch.where(m, values, self.codebook))
        broadcast(self.codebook)
        if self.cfg.update == "ema":
            self.ema_count.copy_(torch.where(mask, counts, self.ema_count))
            self.ema_sum.copy_(torch.where(m, self.codebook * counts.unsqueeze(-1), self.ema_sum))
            broadcast(self.ema_count)
            broadcast(self.ema_sum)
        self.tracker.mark_reset(mask)

    def _kmeans_plus_plus(self, x: torch.Tensor) -> torch.Tensor:
        """k-means++ seeds (G, K, d) from x (G, N, d): each next seed drawn with probability
        ∝ squared distance to the nearest seed so far, so no cluster is left without one.
        With fewer vectors than codes the surplus seeds duplicate vectors; no vector picks a
        duplicate, so dead-code restarts re-seed them once more data has been seen."""
        g, n, d = x.shape
        pick = torch.randint(n, (g, 1), device=x.device)
        seeds = [torch.gather(x, 1, pick.unsqueeze(-1).expand(-1, -1, d))]
        d2 = (x - seeds[0]).pow(2).sum(-1)
        for _ in range(1, self.cfg.codebook_size):
            pick = torch.multinomial(d2 + 1e-20, 1)  # (tiny floor: all-zero rows stay valid)
            seeds.append(torch.gather(x, 1, pick.unsqueeze(-1).expand(-1, -1, d)))
            d2 = torch.minimum(d2, (x - seeds[-1]).pow(2).sum(-1))
        return torch.cat(seeds, 1)

    @torch.no_grad()
    def _kmeans_init(self, x: torch.Tensor) -> None:
        """k-means per codebook on x (G, N, d) (k-means++ seeds, then Lloyd iterations);
        codes start at the centroids."""
        g, n, _ = x.shape
        k = self.cfg.codebook_size
        centroids = self._kmeans_plus_plus(x)
        counts = torch.ones(g, k, device=x.device, dtype=x.dtype)
        for _ in range(self.cfg.kmeans_iters):
            idx = (self._nearest(x, centroids)[0] + self.book_offsets).reshape(-1)
            counts = torch.bincount(idx, minlength=g * k).view(g, k).to(x.dtype)
            sums = torch.zeros(g * k, self.dim, device=x.device, dtype=x.dtype)
            sums.index_add_(0, idx, x.reshape(-1, self.dim))
            means = self._normalize_if_cosine(sums.view(g, k, -1) / counts.clamp_min(1)[..., None])
            centroids = torch.where(counts.unsqueeze(-1) > 0, means, centroids)
        everything = torch.ones(g, k, dtype=torch.bool, device=x.device)
        self._set_codes(everything, centroids, counts.clamp_min(1))
        self.initialized.fill_(True)

    @torch.no_grad()
    def _restart_dead(self, x: torch.Tensor) -> None:
        """Move every dead code onto a vector of this batch, x (G, N, d), drawn with
        probability ∝ its squared distance to its nearest code.

        Why not uniformly: a restarted code is most useful where the codebook serves the
        data worst, so — as in k-means++ seeding — far-from-any-code vectors are favoured.
        """
        dead = self.tracker.dead()
        if not dead.any():
            return
        g, n, d = x.shape
        _, dist = self._nearest(x, self.codewords())
        pick = torch.multinomial(dist.clamp_min(0) + 1e-20, self.cfg.codebook_size, True)
        candidates = torch.gather(x, 1, pick.unsqueeze(-1).expand(-1, -1, d))
        self._set_codes(dead, candidates, torch.ones_like(dead, dtype=x.dtype))

    @torch.no_grad()
    def update_codebook(self, out: Quantized, counts: torch.Tensor) -> None:
        """EMA update: every code moves toward the mean of the vectors assigned to it.

        N ← γN + (1−γ)n,  m ← γm + (1−γ)Σx,  code = m / N̂ with N̂ the Laplace-smoothed counts
        (N + ε)/(ΣN + Kε)·ΣN, so a code nobody picks keeps a finite value. Counts and sums
        are summed over processes under torchrun.
        """
        if self.cfg.update != "ema":
            return
        x, idx = out.state
        g, k, decay = self.cfg.n_codebooks, self.cfg.codebook_size, self.cfg.ema_decay
        flat = (idx + self.book_offsets).reshape(-1)
        sums = torch.zeros(g * k, self.dim, device=x.device, dtype=x.dtype)
        sums.index_add_(0, flat, x.reshape(-1, self.dim))
        all_reduce_sum(sums)
        self.ema_count.mul_(decay).add_(self.tracker.book_counts(counts), alpha=1 - decay)
        self.ema_sum.mul_(decay).add_(sums.view(g, k, -1), alpha=1 - decay)
        total = self.ema_count.sum(1, keepdim=True)
        eps = self.cfg.ema_epsilon
        smoothed = (self.ema_count + eps) * (total / (total + k * eps))
        torch.div(self.ema_sum, smoothed.unsqueeze(-1), out=self.codebook)

    # -- the forward pass -----------------------------------------------------------------
    def quantize(self, h: torch.Tensor) -> Quantized:
        batch = h.shape[0]
        e = h.view(batch, self.n_vectors, self.dim)
        if self.cfg.distance == "cosine":
            e = F.normalize(e, dim=-1)
        x = self._by_book(e.detach())
        if self.training:
            if not bool(self.initialized):
                self._kmeans_init(x)
            if self.cfg.restarts:
                self._restart_dead(x)
        codewords = self.codewords()
        with torch.no_grad():
            idx = self._nearest(x, codewords.detach())[0]
        codes = self._from_book(idx, batch)
        q = self._lookup_with(codewords, codes)
        commitment = sq_distance(e, q.detach())
        losses = {"commitment": self.cfg.commitment * commitment}
        if self.cfg.update == "loss":
            losses["codebook"] = sq_distance(e.detach(), q)
        quant_error = commitment.detach() / self.latent_dim
        z = GRADIENTS[self.cfg.gradient](e, q) if self.training else q
        return Quantized(codes, self._to_latent(z), losses, quant_error, state=(x, idx))
