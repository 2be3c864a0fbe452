"""Residual vector quantization of fixed-length vectors: M codebooks of up to 256 codes, so a
vector compresses to exactly M bytes (one ``uint8`` code per stage).

Residual quantization (RQ; Juang & Gray 1982, Chen et al., "Approximate Nearest Neighbor
Search by Residual Vector Quantization", Sensors 2010) approximates a vector by a sum of one
codeword per stage, each stage quantizing what the previous ones left::

    x ─(−μ)─► r₀ ─► nearest c₁[i₁] ─► r₁ = r₀ − c₁[i₁] ─► … ─► codes (i₁ … i_M)  (M bytes)
    codes ─► x̂ = μ + c₁[i₁] + c₂[i₂] + … + c_M[i_M]  (─► x̂/‖x̂‖ with ``normalize_output``)

What makes it learned rather than plain k-means RQ:

- **beam search encoding** (Babenko & Lempitsky, "Additive Quantization for Extreme Vector
  Compression", CVPR 2014; the RQ beam of Martinez et al., LSQ++, ECCV 2018 and Huijben et
  al., QINCo, ICML 2024): keep the ``beam`` best partial code sequences per stage instead of
  the greedy one; a greedy early choice is often not the best first term of the sum;
- **joint codebook refinement** (the codebook update of additive quantization): after the
  greedy k-means initialisation every codebook is re-fitted to the final codes with the
  other stages fixed (block-coordinate least squares, closed form: the mean residual per
  code), alternating with re-encoding, so earlier stages stop ignoring later ones;
- **end-to-end fine-tuning**: the codebooks are parameters, and the training loss
  (reconstruction of ``x`` from the summed codewords) moves them by gradient descent.

QINCo's implicit codebooks (an MLP adapting each stage's codebook to the partial
reconstruction) are not implemented here: on a CPU their encoder costs K MLP evaluations per
stage and vector, far beyond the 50 µs/vector budget of protocol CODEC-VEC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from ..errors import AutoencodingError
from .base import BOTTLENECKS, DECODERS, ENCODERS, Decoder, Encoder, NoOptions
from .quantization import CodeTracker, Quantized, QuantizedBottleneck, straight_through


def kmeans(
    x: torch.Tensor, k: int, iters: int, generator: torch.Generator, shrinkage: float = 0.0
) -> torch.Tensor:
    """Lloyd's k-means from k random rows; empty clusters re-seed on random rows. With
    ``shrinkage`` λ each centroid is Σ x / (n + λ), pulled towards 0 (see ResidualVQConfig)."""
    c = x[torch.randperm(len(x), generator=generator)[:k]].clone()
    if len(c) < k:  # fewer rows than codes: repeat rows (the duplicates stay unused)
        c = c[torch.arange(k) % len(c)].clone()
    for _ in range(iters):
        a = nearest(x, c)
        s = torch.zeros_like(c).index_add_(0, a, x)
        n = torch.bincount(a, minlength=k).to(x.dtype)
        fresh = x[torch.randint(len(x), (k,), generator=generator)]
        c = torch.where((n > 0)[:, None], s / (n + shrinkage).clamp_min(1e-12)[:, None], fresh)
    return c


def nearest(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Index of the nearest row of ``c`` for each row of ``x``."""
    return ((c * c).sum(1) - 2 * x @ c.T).argmin(1)


def beam_encode(x: torch.Tensor, books: torch.Tensor, beam: int) -> torch.Tensor:
    """Codes (N, M) of x (N, D) under residual codebooks (M, K, D) by beam search.

    Each stage extends every one of the ``beam`` kept partial sums by every codeword and keeps
    the ``beam`` extensions with the smallest squared error ‖x − partial‖²; ``beam = 1`` is the
    greedy residual encoder. The error is updated exactly: ‖r − c‖² = ‖r‖² − 2 r·c + ‖c‖².
    """
    n, d = x.shape
    m_count, k, _ = books.shape
    norms = (books * books).sum(2)
    r = x[:, None, :]  # (N, b, D) residuals of the kept partial sums
    err = (x * x).sum(1, keepdim=True)  # (N, b)
    codes = x.new_zeros((n, 1, 0), dtype=torch.int64)
    for m in range(m_count):
        b = r.shape[1]
        dist = err[:, :, None] - 2 * (r.reshape(-1, d) @ books[m].T).view(n, b, k) + norms[m]
        err, idx = dist.reshape(n, b * k).topk(min(beam, b * k), dim=1, largest=False)
        src, code = idx // k, idx % k
        codes = torch.cat([codes.gather(1, src[..., None].expand(-1, -1, m)), code[..., None]], 2)
        r = r.gather(1, src[..., None].expand(-1, -1, d)) - books[m][code]
    return codes[:, 0]


def decode_sum(codes: torch.Tensor, books: torch.Tensor) -> torch.Tensor:
    """Σ_m books[m, codes[:, m]]: the residual quantizer's reconstruction (without the mean)."""
    return books[torch.arange(books.shape[0], device=codes.device), codes].sum(1)


@torch.no_grad()
def refine_codebooks(
    x: torch.Tensor, codes: torch.Tensor, books: torch.Tensor, shrinkage: float = 0.0
) -> None:
    """One block-coordinate least-squares sweep: each codebook in turn becomes, per code, the
    mean of what the other stages leave of the vectors using it (unused codes keep their value).
    Every step lowers ‖x − Σ books‖² + λ‖books‖² for fixed codes (λ = ``shrinkage``)."""
    m_count, k, d = books.shape
    recon = decode_sum(codes, books)
    for m in range(m_count):
        rest = x - recon + books[m][codes[:, m]]
        s = torch.zeros(k, d, dtype=x.dtype, device=x.device).index_add_(0, codes[:, m], rest)
        n = torch.bincount(codes[:, m], minlength=k).to(x.dtype)
        new = torch.where((n > 0)[:, None], s / (n + shrinkage).clamp_min(1e-12)[:, None], books[m])
        recon = recon + new[codes[:, m]] - books[m][codes[:, m]]
        books[m] = new


@dataclass
class ResidualVQConfig:
    n_codebooks: int = 16
    """M: stages, one code each; with codebook_size ≤ 256 that is M bytes per vector."""
    codebook_size: int = 256
    """K: codes per stage (≤ 256, so each code is one byte)."""
    beam: int = 4
    """Partial code sequences kept per stage when encoding (1 = greedy residual encoding)."""
    kmeans_iters: int = 15
    """Lloyd iterations of each stage's k-means initialisation."""
    refine_sweeps: int = 3
    """Rounds of (beam re-encoding + joint codebook least squares) after the k-means init."""
    shrinkage: float = 3.0
    """λ: ridge pull of every codeword towards 0, codeword = Σ assigned residuals / (n + λ).
    Why: with 256 codes per stage a codeword is the mean of a few dozen residuals, and the
    later stages' residuals are mostly noise; unshrunk means memorise it (on 5,000 MiniLM
    vectors at 8 bytes, λ = 3 lowers held-out error 0.54 -> 0.44 and raises 10-recall@10
    0.44 -> 0.58). It is the MAP codeword under a zero-mean Gaussian prior."""
    center: bool = True
    """Subtract the training mean before quantizing (stored; added back when decoding)."""
    normalize_output: bool = False
    """Scale decoded vectors to unit L2 norm (for L2-normalised embeddings: the norm is known,
    so spending no bits on it and restoring it exactly lowers the error of inner products)."""
    seed: int = 0
    """Seed of the k-means initialisation."""

    def validate(self) -> None:
        w = "bottleneck 'residual_vq'"
        require(self.n_codebooks >= 1, f"{w}: n_codebooks must be >= 1, got {self.n_codebooks}")
        require(
            1 <= self.codebook_size <= 256,
            f"{w}: codebook_size must be in [1, 256] (one byte per code), got {self.codebook_size}",
        )
        require(self.beam >= 1, f"{w}: beam must be >= 1, got {self.beam}")
        require(self.kmeans_iters >= 0, f"{w}: kmeans_iters must be >= 0, got {self.kmeans_iters}")
        require(self.refine_sweeps >= 0, f"{w}: refine_sweeps must be >= 0")
        require(self.shrinkage >= 0, f"{w}: shrinkage must be >= 0, got {self.shrinkage}")


@BOTTLENECKS.register("residual_vq")
class ResidualVQ(QuantizedBottleneck):
    """Residual vector quantizer with beam search and jointly refined codebooks (see the
    module docstring); codes (B, M), one byte each. The codebooks are fitted in
    ``init_from_data`` (greedy k-means per stage, then ``refine_sweeps`` of beam encoding +
    least squares) and fine-tuned by the training loss through the summed codewords."""

    Config = ResidualVQConfig
    prior = "empirical"

    def __init__(self, cfg: ResidualVQConfig, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.cfg = cfg
        self.books = nn.Parameter(torch.zeros(cfg.n_codebooks, cfg.codebook_size, latent_dim))
        self.register_buffer("mean", torch.zeros(latent_dim))
        self.tracker = CodeTracker(cfg.n_codebooks, cfg.n_codebooks, cfg.codebook_size, 4096)

    @property
    def bytes_per_vector(self) -> int:
        """Fixed code size: one byte per stage."""
        return self.cfg.n_codebooks

    @torch.no_grad()
    def fit(self, h: torch.Tensor) -> None:
        """Fit the codebooks to encoder outputs ``h`` (N, latent_dim)."""
        h = h.detach().flatten(1).to(self.books.dtype)
        g = torch.Generator(device=h.device).manual_seed(self.cfg.seed)
        self.mean.copy_(h.mean(0) if self.cfg.center else torch.zeros_like(self.mean))
        x = h - self.mean
        r = x.clone()
        cfg = self.cfg
        for m in range(cfg.n_codebooks):  # greedy RQ: k-means on what is left
            self.books[m] = kmeans(r, cfg.codebook_size, cfg.kmeans_iters, g, cfg.shrinkage)
            r -= self.books[m][nearest(r, self.books[m])]
        for _ in range(cfg.refine_sweeps):
            codes = beam_encode(x, self.books, cfg.beam)
            refine_codebooks(x, codes, self.books.data, cfg.shrinkage)

    def init_from_data(self, x: torch.Tensor) -> None:
        """The model hands raw inputs; the codebooks live in the encoder's output space."""
        model = self._model[0] if getattr(self, "_model", None) else None
        self.fit(model.encoder(x) if model is not None else x.flatten(1))

    def bind(self, model: nn.Module) -> None:
        self._model = [model]  # a list, not an attribute: no submodule cycle

    def encode_codes(self, h: torch.Tensor) -> torch.Tensor:
        """Codes (B, M) of encoder outputs ``h`` (B, latent_dim) by beam search."""
        with torch.no_grad():
            return beam_encode(h.detach() - self.mean, self.books.detach(), self.cfg.beam)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        z = self.mean + decode_sum(codes, self.books)
        return F.normalize(z, dim=1) if self.cfg.normalize_output else z

    def quantize(self, h: torch.Tensor) -> Quantized:
        codes = self.encode_codes(h)
        q = self.lookup(codes)
        err = (h.detach() - q.detach()).pow(2).mean()
        # Gradients: the reconstruction loss reaches the codebooks through q; an encoder before
        # the quantizer gets the straight-through copy and a commitment pull towards q.
        z = straight_through(h, q) if h.requires_grad else q
        losses = {}
        if h.requires_grad:
            losses["commitment"] = 0.25 * (h - q.detach()).pow(2).sum(1).mean()
        return Quantized(codes=codes, z=z, losses=losses, quant_error=err)

    # -- bytes: fixed width, one uint8 per stage, row-major (no entropy coding needed: the
    # codes of a well-fitted residual quantizer are close to uniform) --
    writes_bytes = True

    def compress_latent(self, h: torch.Tensor) -> list[bytes]:
        """One stream: the (B, M) codes as B·M bytes."""
        codes = self.encode_codes(h.flatten(1))
        return [codes.to(torch.uint8).cpu().numpy().tobytes()]

    def decompress_latent(self, streams: list[bytes], shape: tuple[int, ...]) -> torch.Tensor:
        """The latent (B, latent_dim) of :meth:`compress_latent`'s stream."""
        m = self.cfg.n_codebooks
        if len(streams) != 1 or len(streams[0]) != shape[0] * m:
            got = [len(s) for s in streams]
            raise AutoencodingError(
                f"decompress: bottleneck 'residual_vq' expected one stream of {shape[0]} x {m} "
                f"bytes ({m} per vector), got streams of {got} bytes"
            )
        codes = torch.frombuffer(bytearray(streams[0]), dtype=torch.uint8).view(shape[0], m)
        return self.decode_codes(codes.to(torch.int64))


@ENCODERS.register("identity")
class IdentityEncoder(Encoder):
    """h = x flattened: for codecs whose bottleneck works on the input itself (vector-codec)."""

    Config = NoOptions
    produces = "flat"

    def __init__(self, cfg: NoOptions, input_shape: tuple[int, ...], out_features: int) -> None:
        super().__init__()
        n = math.prod(input_shape)
        require(
            out_features == n,
            f"encoder 'identity': the latent must have as many features as the input ({n}), "
            f"got latent_dim {out_features}",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


@DECODERS.register("identity")
class IdentityDecoder(Decoder):
    """x̂ = z: the bottleneck's latent is already the reconstruction (one output per entry)."""

    Config = NoOptions
    consumes = "flat"

    def __init__(
        self, cfg: NoOptions, latent_dim: int, output_shape: tuple[int, ...], factor: int = 1
    ) -> None:
        super().__init__()
        n = math.prod(output_shape)
        require(
            factor == 1 and latent_dim == n,
            f"decoder 'identity': needs latent_dim == features ({n}) and a reconstruction with "
            f"one parameter per entry (e.g. 'mse'), got latent_dim {latent_dim}, factor {factor}",
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z
