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

from ..config import require
from ..errors import AutoencodingError
from .base import BOTTLENECKS
from .quantization import CodeTracker, QuantizedBottleneck


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
    """Re-seed dead codes from random vectors of the current batch."""
    dead_after: int = 2048
    """Window, in training samples (rows): a code unused for this long is dead (restarted when
    restarts is on, counted in dead_codes); codebook_usage counts codes used within it."""
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


def rotate_to(e: torch.Tensor, q: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """λ·R·e with R the rotation taking e's direction to q's and λ = ‖q‖/‖e‖, both held constant.

    The value equals q; the gradient reaching e is λ·Rᵀ·∇_q (Fifty et al., eq. 3–4). With
    û = e/‖e‖, q̂ = q/‖q‖ and r = (û + q̂)/‖û + q̂‖ (all detached),
    R·e = e − 2(r·e)·r + 2(û·e)·q̂ — a Householder reflection and one rank-one term, never a
    d×d matrix. Why: straight-through hands e the gradient at q unchanged, so every e in a
    code's Voronoi cell gets the same push; rotating it preserves the angle between e and
    its gradient, so vectors inside a cell move apart or together depending on where they
    sit, which the paper shows raises codebook usage and lowers quantization error.
    """
    e_norm = e.norm(dim=-1, keepdim=True).clamp_min(eps)
    q_norm = q.norm(dim=-1, keepdim=True).clamp_min(eps)
    u = (e / e_norm).detach()
    q_hat = (q / q_norm).detach()
    r = F.normalize(u + q_hat, dim=-1, eps=eps)
    rotated = e - 2 * (e * r).sum(-1, keepdim=True) * r + 2 * (e * u).sum(-1, keepdim=True) * q_hat
    return rotated * (q_norm / e_norm).detach()


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
    away from the codes faster than the codes can follow. Both terms are means over latent
    entries (as in the reference implementations).

    Why the defaults: codes that no vector picks never move, and the loss-based update of the
    paper leaves most codes unused on small data. k-means on the first batch puts codes where
    the data is, dead-code restarts move any code unused for ``dead_after`` samples onto a
    random current encoder vector, and the rotation trick spreads vectors within a cell —
    together they keep codebook usage near 1.

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
        codebook = torch.randn(g, k, dim)
        if cfg.update == "ema":
            self.register_buffer("codebook", codebook)
            self.register_buffer("ema_count", torch.ones(g, k))
            self.register_buffer("ema_sum", codebook.clone())
        else:
            self.codebook = torch.nn.Parameter(codebook)
        self.register_buffer("initialized", torch.tensor(not cfg.kmeans_init))
        book_of_vector = torch.arange(self.n_vectors) // (self.n_vectors // g)
        self.register_buffer("code_offsets", book_of_vector * k, persistent=False)

    # -- shapes: vectors of a batch grouped by codebook -----------------------------------
    def _by_book(self, e: torch.Tensor) -> torch.Tensor:
        """(B, n, d) → (G, B·n/G, d): the vectors each codebook quantizes."""
        g = self.cfg.n_codebooks
        return e.view(e.shape[0], g, -1, self.dim).transpose(0, 1).reshape(g, -1, self.dim)

    def _from_book(self, idx: torch.Tensor, batch: int) -> torch.Tensor:
        """(G, B·n/G) → (B, n), the inverse of _by_book for indices."""
        return idx.view(self.cfg.n_codebooks, batch, -1).transpose(0, 1).reshape(batch, -1)

    def codewords(self) -> torch.Tensor:
        """The codebook as used for lookup, (G, K, d): l2-normalised for cosine distance."""
        if self.cfg.distance == "cosine":
            return F.normalize(self.codebook, dim=-1)
        return self.codebook

    def _lookup_with(self, codewords: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        flat = codewords.reshape(-1, self.dim)
        return F.embedding(codes + self.code_offsets, flat)  # (B, n, d)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        return self._lookup_with(self.codewords(), codes).reshape(codes.shape[0], -1)

    @staticmethod
    def _nearest(x: torch.Tensor, codewords: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each vector: x (G, N, d), codewords (G, K, d) → (G, N)."""
        # ‖x‖² is the same for every code, so argmin ‖c‖² − 2x·c is the nearest code.
        d = torch.baddbmm(
            codewords.pow(2).sum(-1).unsqueeze(1), x, codewords.transpose(1, 2), alpha=-2.0
        )
        return d.argmin(-1)

    # -- codebook maintenance (training only) ---------------------------------------------
    def _normalize_if_cosine(self, c: torch.Tensor) -> torch.Tensor:
        return F.normalize(c, dim=-1) if self.cfg.distance == "cosine" else c

    def _set_codes(self, mask: torch.Tensor, values: torch.Tensor, counts: torch.Tensor) -> None:
        """Replace the codes in mask (G, K) with values (G, K, d), as if each had been the mean
        of ``counts`` assigned vectors (so EMA statistics agree with the new codes)."""
        m = mask.unsqueeze(-1)
        self.codebook.copy_(torch.where(m, values, self.codebook))
        if self.cfg.update == "ema":
            self.ema_count.copy_(torch.where(mask, counts, self.ema_count))
            self.ema_sum.copy_(torch.where(m, values * counts.unsqueeze(-1), self.ema_sum))
        self.tracker.mark_reset(mask)

    @torch.no_grad()
    def _kmeans_init(self, x: torch.Tensor) -> None:
        """Lloyd's k-means per codebook on x (G, N, d); codes start at the centroids."""
        g, n, _ = x.shape
        k = self.cfg.codebook_size
        # Sampling with replacement when a batch has fewer vectors than codes leaves
        # duplicates; no vector picks them, so dead-code restarts re-seed them later.
        pick = (
            torch.randperm(n, device=x.device)[:k]
            if n >= k
            else torch.randint(n, (k,), device=x.device)
        )
        centroids = x[:, pick]
        counts = torch.zeros(g, k, device=x.device, dtype=x.dtype)
        offsets = (torch.arange(g, device=x.device) * k).unsqueeze(1)
        for _ in range(max(1, self.cfg.kmeans_iters)):
            idx = self._nearest(x, centroids) + offsets  # (G, N) into the flat (G·K) codes
            counts = torch.bincount(idx.reshape(-1), minlength=g * k).view(g, k).to(x.dtype)
            sums = torch.zeros(g * k, self.dim, device=x.device, dtype=x.dtype)
            sums.index_add_(0, idx.reshape(-1), x.reshape(-1, self.dim))
            means = sums.view(g, k, -1) / counts.clamp_min(1).unsqueeze(-1)
            centroids = torch.where(
                counts.unsqueeze(-1) > 0, self._normalize_if_cosine(means), centroids
            )
        everything = torch.ones(g, k, dtype=torch.bool, device=x.device)
        self._set_codes(everything, centroids, counts.clamp_min(1))
        self.initialized.fill_(True)

    @torch.no_grad()
    def _restart_dead(self, x: torch.Tensor) -> None:
        """Move every dead code onto a random vector of this batch, x (G, N, d).

        Written without data-dependent shapes (a candidate is drawn for every code and
        kept only where the code is dead), so it never synchronises with an accelerator.
        """
        g, n, d = x.shape
        pick = torch.randint(n, (g, self.cfg.codebook_size), device=x.device)
        candidates = torch.gather(x, 1, pick.unsqueeze(-1).expand(-1, -1, d))
        ones = torch.ones(g, self.cfg.codebook_size, device=x.device, dtype=x.dtype)
        self._set_codes(self.tracker.dead(), candidates, ones)

    @torch.no_grad()
    def _ema_update(self, x: torch.Tensor, idx: torch.Tensor) -> None:
        """Codes ← EMA of the vectors assigned to them: x (G, N, d), idx (G, N)."""
        g, k, decay = self.cfg.n_codebooks, self.cfg.codebook_size, self.cfg.ema_decay
        flat = (idx + (torch.arange(g, device=x.device) * k).unsqueeze(1)).reshape(-1)
        counts = torch.bincount(flat, minlength=g * k).view(g, k).to(x.dtype)
        sums = torch.zeros(g * k, self.dim, device=x.device, dtype=x.dtype)
        sums.index_add_(0, flat, x.reshape(-1, self.dim))
        self.ema_count.mul_(decay).add_(counts, alpha=1 - decay)
        self.ema_sum.mul_(decay).add_(sums.view(g, k, -1), alpha=1 - decay)
        total = self.ema_count.sum(1, keepdim=True)
        eps = self.cfg.ema_epsilon
        smoothed = (self.ema_count + eps) / (total + k * eps) * total
        self.codebook.copy_(self.ema_sum / smoothed.unsqueeze(-1))

    # -- the forward pass -----------------------------------------------------------------
    def quantize(self, h: torch.Tensor):
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
            idx = self._nearest(x, codewords.detach())
        codes = self._from_book(idx, batch)
        q = self._lookup_with(codewords, codes)
        commitment = (e - q.detach()).pow(2).mean()
        losses = {"commitment": self.cfg.commitment * commitment}
        if self.cfg.update == "loss":
            losses["codebook"] = (e.detach() - q).pow(2).mean()
        if self.training:
            if self.cfg.update == "ema":
                self._ema_update(x, idx)
            if self.cfg.gradient == "rotation":
                z = rotate_to(e, q.detach())
            else:
                z = e + (q - e).detach()
        else:
            z = q
        return codes, z.reshape(batch, -1), losses, commitment
