"""What every quantized bottleneck shares: code bookkeeping, code checks and the code prior.

A quantized bottleneck turns the encoder output into ``P`` integer codes per sample (one per
quantized vector or scalar *position*), each in ``[0, K)``, and the latent ``z`` is a pure
function of those codes. The vector quantizer (:mod:`.vq`) and the scalar quantizers
(:mod:`.fsq`) subclass :class:`QuantizedBottleneck` and implement two methods::

    quantize(h)            -> Quantized(codes (B, P), latent z, losses, quant_error)
    lookup(codes (B, P))   -> z (B, latent_dim)

The base class then gives, identically for every family:

- ``decode_codes(codes)`` with clear errors for non-integer codes, wrong shapes and
  out-of-range indices; in eval mode ``lookup(codes)`` is the very function the forward pass
  uses to build ``z``, so ``decode(encode(x, codes=True)) == reconstruct(x)`` bit for bit;
- the per-batch statistics ``codebook_usage``, ``perplexity``, ``dead_codes`` and
  ``quant_error`` (see :class:`CodeTracker`);
- ``sample_prior`` drawing codes uniformly or from their empirical frequencies.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ..errors import AutoencodingError
from .base import BottleneckOutput
from .bottlenecks import Bottleneck


class _StraightThrough(torch.autograd.Function):
    """Forward: q exactly. Backward: the gradient at q handed to e unchanged."""

    @staticmethod
    def forward(ctx, e: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return q.clone()

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        return g, None


def straight_through(e: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """q in value; the gradient at q reaches e unchanged (Bengio et al., 2013)."""
    return _StraightThrough.apply(e, q.detach())


def sq_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """‖a − b‖² summed over each sample's latent entries, averaged over the batch.

    Quantizer loss terms reduce like the library's likelihoods and the VAE's KL term: a sum
    per sample (nats-scale), so a weight keeps its meaning against a Bernoulli or Gaussian
    reconstruction whatever the latent size.
    """
    return (a - b).pow(2).reshape(a.shape[0], -1).sum(1).mean()


NEVER = -(2**62)
"""``last_used`` of a code no training sample has picked yet."""


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum t in place over torchrun processes (a no-op in one process)."""
    if world_size() > 1:
        dist.all_reduce(t)
    return t


def broadcast(t: torch.Tensor) -> torch.Tensor:
    """Overwrite t in place with rank 0's copy (a no-op in one process)."""
    if world_size() > 1:
        dist.broadcast(t, 0)
    return t


class CodeTracker(nn.Module):
    """Running record, counted in training samples, of which codes a quantizer uses.

    ``P`` positions share ``G`` codebooks of ``K`` codes each: positions are split into ``G``
    contiguous groups, group ``g`` quantizing with codebook ``g`` (``G = 1``: one shared
    codebook; ``G = P``: a codebook per position). Every state lives in a registered buffer,
    so usage, dead-code clocks and the empirical prior survive save/load.

    - ``codebook_usage``: fraction of all ``G·K`` codes used by at least one training sample
      within the last ``window`` samples (before ``window`` samples were seen: since start).
    - ``dead_codes``: codes neither used nor (re)initialised within the last ``window``
      samples — the ones a vector quantizer restarts.
    - ``perplexity``: exp of the entropy of this batch's code histogram, per codebook, averaged
      over codebooks (K when every code is used equally, 1 when one code takes everything).
    - ``frequencies``: per-position code counts, decayed with a half-life of ``window``
      samples so the empirical prior follows the codes' current meaning (restarts and
      codebook updates change it).
    """

    def __init__(self, n_positions: int, n_books: int, codebook_size: int, window: int) -> None:
        super().__init__()
        if n_positions % n_books:
            raise AutoencodingError(
                f"{n_positions} code positions cannot be split into {n_books} codebooks"
            )
        self.n_positions, self.n_books, self.codebook_size = n_positions, n_books, codebook_size
        self.window = window
        self.register_buffer("samples_seen", torch.zeros((), dtype=torch.int64))
        self.register_buffer(
            "last_used", torch.full((n_books, codebook_size), NEVER, dtype=torch.int64)
        )
        self.register_buffer("last_reset", torch.zeros((n_books, codebook_size), dtype=torch.int64))
        self.register_buffer("frequencies", torch.zeros((n_positions, codebook_size)))
        offsets = torch.arange(n_positions, dtype=torch.int64) * codebook_size
        self.register_buffer("offsets", offsets, persistent=False)

    def position_counts(self, codes: torch.Tensor) -> torch.Tensor:
        """How often each code appears at each position in this batch, shaped (P, K)."""
        flat = (codes + self.offsets).reshape(-1)
        counts = torch.bincount(flat, minlength=self.n_positions * self.codebook_size)
        return counts.view(self.n_positions, self.codebook_size)

    def book_counts(self, position_counts: torch.Tensor) -> torch.Tensor:
        """Per-codebook counts (G, K) from per-position counts (P, K)."""
        return position_counts.view(self.n_books, -1, self.codebook_size).sum(1)

    @torch.no_grad()
    def update(self, position_counts: torch.Tensor, n: int) -> None:
        """Record a training batch of n samples by its per-position code counts (P, K)."""
        self.samples_seen += n
        used = self.book_counts(position_counts) > 0
        self.last_used.masked_fill_(used, self.samples_seen)
        self.frequencies.mul_(0.5 ** (n / self.window)).add_(position_counts)

    def dead(self) -> torch.Tensor:
        """Boolean (G, K): codes neither used nor reset within the window."""
        last = torch.maximum(self.last_used, self.last_reset)
        return (self.samples_seen - last) >= self.window

    @torch.no_grad()
    def mark_reset(self, mask: torch.Tensor) -> None:
        self.last_reset.copy_(torch.where(mask, self.samples_seen, self.last_reset))

    @torch.no_grad()
    def stats(self, position_counts: torch.Tensor) -> dict[str, torch.Tensor]:
        book = self.book_counts(position_counts).float()
        entropy = torch.special.entr(book / book.sum(1, keepdim=True).clamp_min(1.0)).sum(1)
        recent = (self.samples_seen - self.last_used) < self.window
        return {
            "codebook_usage": recent.float().mean(),
            "perplexity": torch.exp(entropy).mean(),
            "dead_codes": self.dead().sum().float(),
        }

    @torch.no_grad()
    def sample(self, n: int, prior: str, generator: torch.Generator | None) -> torch.Tensor:
        """n code rows (n, P) drawn per position, uniformly or from the empirical frequencies.

        Sampling runs on the generator's device; positions never seen in training fall back
        to uniform.
        """
        where = generator.device if generator is not None else self.frequencies.device
        shape = (n, self.n_positions)
        if prior == "uniform":
            return torch.randint(self.codebook_size, shape, generator=generator, device=where)
        freq = self.frequencies.to(device=where, dtype=torch.float64)
        unseen = freq.sum(1, keepdim=True) <= 0
        probs = torch.where(unseen, torch.ones_like(freq), freq)
        return torch.multinomial(probs, n, replacement=True, generator=generator).T.contiguous()


class Quantized(NamedTuple):
    """What a quantizer's ``quantize`` returns to the shared forward pass."""

    codes: torch.Tensor
    """Integer codes (B, P)."""
    z: torch.Tensor
    """The latent (B, latent_dim): the codes' values, with the quantizer's gradient."""
    losses: dict[str, torch.Tensor]
    """Weighted loss terms."""
    quant_error: torch.Tensor
    """Mean squared distance between the continuous input and its quantized value."""
    state: Any = None
    """Whatever the quantizer's own ``update_codebook`` needs from this pass."""


class QuantizedBottleneck(Bottleneck):
    """Base of every quantizer: z is a function of ``P`` integer codes in ``[0, K)``.

    Subclasses set ``self.tracker`` (a :class:`CodeTracker`) and ``self.prior`` and
    implement :meth:`quantize` and :meth:`lookup`.
    """

    generative = True
    has_codes = True
    tracker: CodeTracker
    prior: str

    @property
    def n_positions(self) -> int:
        """How many codes one sample has."""
        return self.tracker.n_positions

    @property
    def codebook_size(self) -> int:
        """How many values each code can take."""
        return self.tracker.codebook_size

    def quantize(self, h: torch.Tensor) -> Quantized:
        """Codes and latent for encoder outputs ``h``; training-time codebook updates happen
        here."""
        raise NotImplementedError

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Latents (B, latent_dim) for valid codes (B, P); the eval-mode forward's z."""
        raise NotImplementedError

    def update_codebook(self, out: Quantized, counts: torch.Tensor) -> None:
        """Training-time codebook update after a batch (counts summed over processes)."""

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        out = self.quantize(h)
        counts = self.tracker.position_counts(out.codes)
        if self.training:
            # Under torchrun every process sees the global batch's counts, so usage clocks,
            # restarts and EMA statistics stay identical across processes.
            all_reduce_sum(counts)
            self.tracker.update(counts, len(h) * world_size())
            self.update_codebook(out, counts)
        stats = self.tracker.stats(counts)
        stats["quant_error"] = out.quant_error.detach()
        return BottleneckOutput(z=out.z, losses=out.losses, codes=out.codes, stats=stats)

    # -- bitstreams: the codes, entropy coded with their training frequencies ------------
    writes_bytes = True

    def _code_tables(self) -> dict[str, torch.Tensor]:
        """One row per code position: the tracker's (saved) training frequencies, smoothed
        so an unseen code stays codable, as integer tables. A pure function of a saved
        buffer, so every process derives the very same table."""
        from . import entropy_coding as coding

        freq = self.tracker.frequencies.detach().cpu().double().numpy()
        pmf = np.concatenate([freq + 0.5, np.zeros((len(freq), 1))], axis=1)
        return coding.pack_tables([(0, row) for row in pmf])

    @torch.no_grad()
    def compress_latent(self, h: torch.Tensor) -> list[bytes]:
        """The codes of ``h`` range-coded with each position's empirical code frequencies:
        below the fixed-length size P·log₂K bits whenever some codes are used more than
        others."""
        from . import entropy_coding as coding

        codes = self.quantize(h).codes.cpu().numpy()
        rows = np.broadcast_to(np.arange(codes.shape[1]), codes.shape)
        return coding.encode(codes, rows, self._code_tables())

    @torch.no_grad()
    def decompress_latent(self, streams: list[bytes], shape: tuple[int, ...]) -> torch.Tensor:
        from . import entropy_coding as coding

        rows = np.broadcast_to(np.arange(self.n_positions), (shape[0], self.n_positions))
        codes = coding.decode(streams, rows, self._code_tables())
        dev = self.tracker.frequencies.device
        return self.lookup(torch.from_numpy(codes).to(device=dev, dtype=torch.int64))

    @torch.no_grad()
    def dataset_metrics(self, h: torch.Tensor) -> dict[str, float]:
        """Code statistics of a whole dataset's encoder outputs ``h`` (eval mode), for
        evaluation: ``codebook_usage`` (fraction of codes used by at least one sample),
        ``perplexity`` (of the code histogram, averaged over codebooks), ``dead_codes``
        (codes no sample uses) and ``quant_error`` (mean squared quantization error per
        latent entry). Nothing is updated.
        """
        was = self.training
        self.eval()
        try:
            counts, err, n = None, 0.0, 0
            for hb in h.split(4096):
                out = self.quantize(hb)
                c = self.tracker.position_counts(out.codes)
                counts = c if counts is None else counts + c
                err += float(out.quant_error) * len(hb)
                n += len(hb)
        finally:
            self.train(was)
        book = self.tracker.book_counts(counts).double()
        p = book / book.sum(1, keepdim=True).clamp_min(1.0)
        return {
            "codebook_usage": float((book > 0).double().mean()),
            "perplexity": float(torch.exp(torch.special.entr(p).sum(1)).mean()),
            "dead_codes": int((book == 0).sum()),
            "quant_error": err / n,
        }

    def check_codes(self, codes) -> torch.Tensor:
        """Codes as an int64 tensor (B, P), or an AutoencodingError saying what is wrong."""
        where = f"decode codes (bottleneck {type(self).registry_name!r})"
        codes = torch.as_tensor(codes)
        if codes.is_floating_point() or codes.is_complex() or codes.dtype == torch.bool:
            raise AutoencodingError(f"{where}: expected integer codes, got dtype {codes.dtype}")
        p, k = self.n_positions, self.codebook_size
        if codes.dim() != 2 or codes.shape[1] != p:
            raise AutoencodingError(
                f"{where}: expected codes shaped (n, {p}) — {p} code(s) per sample — got "
                f"{tuple(codes.shape)}"
            )
        if codes.shape[0] == 0:
            raise AutoencodingError(f"{where}: no codes given (shape {tuple(codes.shape)})")
        lo, hi = int(codes.min()), int(codes.max())
        if lo < 0 or hi >= k:
            bad = lo if lo < 0 else hi
            row, col = (codes == bad).nonzero()[0].tolist()
            raise AutoencodingError(
                f"{where}: code {bad} at row {row}, position {col} is out of range; codes must "
                f"be in [0, {k - 1}]"
            )
        return codes.to(device=self.tracker.offsets.device, dtype=torch.int64)

    def decode_codes(self, codes) -> torch.Tensor:
        """Latents (n, latent_dim) for integer codes (n, P): the inverse of encode(codes=True)."""
        return self.lookup(self.check_codes(codes))

    def sample_prior(
        self, n: int, *, generator: torch.Generator | None = None, device=None, dtype=None
    ) -> torch.Tensor:
        codes = self.tracker.sample(n, self.prior, generator)
        z = self.lookup(codes.to(self.tracker.offsets.device))
        return z.to(device=device, dtype=dtype)
