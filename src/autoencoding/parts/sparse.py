"""Sparse bottlenecks for sparse autoencoders (SAEs): TopK (+AuxK), BatchTopK, ReLU + L1,
JumpReLU and Matryoshka prefixes.

Each maps the encoder's pre-activations ``pre`` (B, L) to sparse latents and returns the one
:class:`~autoencoding.parts.base.BottleneckOutput` every family returns: ``z`` (B, L) dense
latents, ``codes`` (B, m) active latent indices (−1 pads rows with fewer), ``values`` the
latent values at ``codes`` (so the decoder ``sae`` decodes without the dense L×d product),
and ``stats`` — L0 (active latents per row), the dead fraction and, after decoding, FVU.
They pair with the encoder/decoder ``sae`` and the reconstruction ``fvu``
(:mod:`.sae_nets`); see the ``sae-*`` recipes.

Dead latents are counted in **tokens** (rows), not steps, so the window means the same at
every batch size: a latent is dead once it has not fired for ``dead_tokens`` training
tokens. The default window follows the run: ``min(10M, max(one batch, run tokens / 240))``
(run tokens = steps announced by the trainer × tokens of the first batch; outside the
trainer, tokens seen so far) — Gao et al.'s 10M tokens for long runs, yet AuxK starts
helping within the first few percent of a short run (a fixed 10M-token window never fires in a
1M-token run, which is how SAELens's default leaves 21% of latents dead on protocol SAE).
The window in force is logged as ``dead_window``.

Speed: TopK and BatchTopK gather their values with :func:`.sparse_ops.sparse_gather`, so
the encoder receives a sparse COO gradient and its backward costs O(B·k·d); with the
decoder's ``embedding_bag`` decoding, only the encoder's forward product is dense.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..config import require
from .base import BOTTLENECKS, BottleneckOutput
from .bottlenecks import Bottleneck
from .sae_nets import SAEDecoder, total_variance
from .sparse_ops import codes_from_mask, gather_codes, scatter_codes, sparse_gather

#: Codes wider than this fraction of the latents decode densely (a BLAS product beats
#: embedding_bag once most latents are active, e.g. early in a ReLU SAE's training).
DENSE_DECODE_FRACTION = 0.25


@dataclass
class SparseOutput(BottleneckOutput):
    """A :class:`BottleneckOutput` that also keeps the pre-activations for ``after_decode``."""

    pre: torch.Tensor | None = None
    """Pre-activations (B, L), for the bottleneck's own post-decoding terms (AuxK)."""


@dataclass
class SparseConfig:
    dead_tokens: int = 0
    """A latent is dead after this many training tokens without firing (0 = from the run:
    min(10M, max(one batch, run tokens / 240)))."""

    def validate(self) -> None:
        require(self.dead_tokens >= 0, f"dead_tokens must be >= 0, got {self.dead_tokens}")


@dataclass
class AuxKConfig(SparseConfig):
    """The AuxK settings of the bottlenecks that take it (TopK family, JumpReLU)."""

    auxk_alpha: float = 1.0
    """Weight of the AuxK loss: dead latents learn to model the residual (0 = off). Full
    weight, not Gao et al.'s 1/32 for long runs: short runs must revive latents fast. TopK on
    protocol SAE: 1/32 → 7.2% dead on eval, 1/8 → 5.7% at the same FVU; 1 (with
    encoder_init_scale 0.5) → FVU 0.1095 ± 0.0006, 0.3% dead (GPU), where 1/8 with scale 1
    gave 0.1104. BatchTopK on the toy: 24% → 9% dead, MMCS 0.76 → 0.89
    (benchmarks/claims/sae_variants.py). JumpReLU needs it most: a latent whose
    pre-activations all sit below θ gets no gradient, and without AuxK 50–75% of the toy's
    latents die in the first epoch as θ rises faster than their encoder rows grow (MMCS
    0.44–0.49)."""
    auxk_k: int = 0
    """Dead latents used by AuxK per row (0 = half the input features, as Gao et al.)."""

    def validate(self) -> None:
        super().validate()
        require(self.auxk_alpha >= 0, f"auxk_alpha must be >= 0, got {self.auxk_alpha}")
        require(self.auxk_k >= 0, f"auxk_k must be >= 0, got {self.auxk_k}")


class SparseBottleneck(Bottleneck):
    """Shared machinery: dead-latent tracking in tokens, codes, FVU and prefix/AuxK terms."""

    #: expected active latents per row, for the adaptive dead window
    expected_l0 = 32.0

    def __init__(self, cfg: SparseConfig, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.cfg = cfg
        # tokens since each latent last fired, and tokens seen (int64: exact in long runs)
        self.register_buffer("since_fired", torch.zeros(latent_dim, dtype=torch.long))
        self.register_buffer("tokens_seen", torch.zeros((), dtype=torch.long))
        # the run's dead window, fixed at the first training batch of a trainer run
        self._planned_steps: int | None = None
        self._run_window: int | None = None
        self._batch_tokens = 1

    # -- dead latents ---------------------------------------------------------------------
    def on_train_start(self, total_steps: int) -> None:
        """Called by the trainer: the run length fixes the dead window (in tokens) at the
        first training batch, when the tokens per step are known."""
        self._planned_steps = total_steps
        self._run_window = None

    def dead_window(self) -> int:
        if self.cfg.dead_tokens > 0:
            return self.cfg.dead_tokens
        run = self._run_window
        seen = run if run is not None else int(self.tokens_seen) / 240
        return int(min(10_000_000, max(self._batch_tokens, seen)))

    def dead_mask(self) -> torch.Tensor:
        return self.since_fired >= self.dead_window()

    @torch.no_grad()
    def _track(self, fired: torch.Tensor, n_rows: int) -> None:
        fired = fired.to(torch.uint8)
        n = torch.tensor(n_rows, device=fired.device)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # every process sees its own share of the batch: a latent fired if it fired anywhere
            dist.all_reduce(fired, op=dist.ReduceOp.MAX)
            dist.all_reduce(n)
        self.since_fired += n
        self.since_fired[fired.bool()] = 0
        self.tokens_seen += n
        if self._planned_steps and self._run_window is None:
            self._run_window = int(n) * self._planned_steps // 240  # 1/240 of the run
            self._batch_tokens = int(n)

    def record(
        self,
        pre: torch.Tensor,
        z: torch.Tensor,
        active: torch.Tensor | None = None,
        codes: torch.Tensor | None = None,
        values: torch.Tensor | None = None,
    ) -> SparseOutput:
        """The record from dense latents ``z`` plus either fixed-width ``codes``/``values``
        (TopK) or the ``active`` mask whose entries become the codes (other families;
        JumpReLU's mask also holds near-threshold latents, for θ's gradient)."""
        if codes is None:
            assert active is not None
            width = int(active.sum(1).max()) if active.numel() else 0
            if width <= DENSE_DECODE_FRACTION * self.latent_dim or not self.training:
                codes = codes_from_mask(active)
                values = gather_codes(z, codes)
                if width > DENSE_DECODE_FRACTION * self.latent_dim:
                    values = None  # too dense for sparse decoding to pay off
        if codes is not None and values is not None:
            on = (values.detach() != 0) & (codes >= 0)
            l0 = on.sum(1).float().mean()
            if self.training:
                fired = torch.zeros(self.latent_dim, dtype=torch.bool, device=codes.device)
                fired[codes[on]] = True
                self._track(fired, codes.shape[0])
        else:
            nonzero = z.detach() != 0
            l0 = nonzero.sum(1).float().mean()
            if self.training:
                self._track(nonzero.any(0), z.shape[0])
        stats = {
            "l0": l0,
            "dead": self.dead_mask().float().mean(),
            "dead_window": torch.tensor(float(self.dead_window())),
        }
        return SparseOutput(z=z, codes=codes, values=values, stats=stats, pre=pre)

    # -- terms after decoding -------------------------------------------------------------
    def after_decode(
        self, b: SparseOutput, x: torch.Tensor, out: torch.Tensor, decoder: nn.Module
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        tv = total_variance(x, sync=self.training) * x.shape[0]
        stats = {"fvu": ((out.detach() - x).pow(2).sum() / tv)}
        return self.extra_losses(b, x, out, decoder, tv, stats), stats

    def extra_losses(self, b, x, out, decoder, tv, stats) -> dict[str, torch.Tensor]:
        return self.auxk_terms(b, x, out, decoder, tv, stats)

    # -- AuxK (Gao et al. 2024, §A.2) ----------------------------------------------------
    # The top-k_aux *dead* latents reconstruct the residual e = x − x̂, as a normalised MSE.
    # Why: dead latents get no gradient from the main loss (they are never selected); this term
    # gives them one that points at what the live latents miss, so they revive as useful
    # features rather than at random. (The TopK fast step, train/fast/sae_topk.py, computes the
    # same term from the same two helpers below.)
    def auxk_dead(self) -> torch.Tensor | None:
        """Indices of the dead latents when this training step takes the AuxK term (the config
        asks for it with ``auxk_alpha`` > 0 and some latents are dead), else None."""
        if not (self.training and isinstance(self.cfg, AuxKConfig) and self.cfg.auxk_alpha > 0):
            return None
        dead_idx = self.dead_mask().nonzero().squeeze(1)
        return dead_idx if len(dead_idx) else None

    def auxk_k(self, n_features: int) -> int:
        """Dead latents per row that AuxK uses (at most): ``auxk_k``, or half the features."""
        return self.cfg.auxk_k or max(1, n_features // 2)

    def auxk_terms(self, b, x, out, decoder, tv, stats) -> dict[str, torch.Tensor]:
        dead_idx = self.auxk_dead() if b.pre is not None else None
        if dead_idx is None:
            return {}
        k_nominal = self.auxk_k(x.shape[1])
        pre_dead = b.pre.detach().index_select(1, dead_idx)
        pos = pre_dead.topk(min(k_nominal, len(dead_idx)), dim=1, sorted=False).indices
        codes = dead_idx[pos]
        e_hat = decoder.decode_sparse(codes, F.relu(sparse_gather(b.pre, codes)), bias=False)
        e = (x - out).detach()
        scale = min(len(dead_idx) / k_nominal, 1.0)
        auxk = scale * (e - e_hat).pow(2).sum() / tv
        stats["auxk"] = auxk.detach()
        return {"auxk": self.cfg.auxk_alpha * auxk}


# ---------------------------------------------------------------------------------------
# TopK family: TopK, BatchTopK, Matryoshka — with AuxK
# ---------------------------------------------------------------------------------------
@dataclass
class TopKConfig(AuxKConfig):
    k: int = 32
    """Active latents per row (per row on average for batchtopk)."""

    def validate(self) -> None:
        super().validate()
        require(self.k >= 1, f"k must be >= 1, got {self.k}")


class _TopKFamily(SparseBottleneck):
    def __init__(self, cfg: TopKConfig, latent_dim: int) -> None:
        require(
            cfg.k < latent_dim,
            f"bottleneck {self.registry_name!r}: k = {cfg.k} must be smaller than the number "
            f"of latents ({latent_dim})",
        )
        super().__init__(cfg, latent_dim)
        self.expected_l0 = float(cfg.k)


@BOTTLENECKS.register("topk")
class TopKBottleneck(_TopKFamily):
    """TopK sparse latents: keep the k largest pre-activations of each row, ReLU them.

    Makhzani & Frey, "k-Sparse Autoencoders" (2013); Gao et al., "Scaling and evaluating
    sparse autoencoders" (2024), with their AuxK dead-latent loss::

        pre ─ topk(k) per row ─ ReLU ─ z (k non-zeros)         loss += α·AuxK (dead latents)

    Why TopK: it sets L0 directly (no penalty to tune), and avoids the shrinkage an L1 penalty
    puts on every active value.
    """

    Config = TopKConfig
    #: pre-activations are only selected and gathered: the encoder may hand them over in
    #: its product's precision (bfloat16), saving a (B, L) conversion per step
    selects_pre_activations = True

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        codes = h.detach().topk(self.cfg.k, dim=1, sorted=False).indices
        # the gradient reaches only the k selected pre-activations, kept sparse end to end
        vals = F.relu(sparse_gather(h, codes)).float()
        # Training decodes from (codes, values) and never reads the dense latents: skip them
        # (a (B, L) fill and scatter per step); evaluation and encode() get them as usual.
        train_step = self.training and torch.is_grad_enabled()
        z = None if train_step else scatter_codes(vals, codes, vals, self.latent_dim)
        return self.record(h, z, codes=codes, values=vals)


@dataclass
class BatchTopKConfig(TopKConfig):
    threshold_decay: float = 0.99
    """EMA decay of the inference threshold (the smallest value the batch top-k kept)."""

    def validate(self) -> None:
        super().validate()
        require(0 <= self.threshold_decay < 1, "threshold_decay must be in [0, 1)")


@BOTTLENECKS.register("batchtopk")
class BatchTopKBottleneck(_TopKFamily):
    """BatchTopK: keep the B·k largest activations of the whole batch, k per row on average.

    Bussmann et al., "BatchTopK Sparse Autoencoders" (2024)::

        training:  a = ReLU(pre);  keep a ≥ (B·k-th largest of a)     rows vary in L0
        inference: keep a > θ,  θ = EMA of the smallest kept value  (a JumpReLU with one θ)

    Why: easy rows spend fewer latents and hard rows more, at the same average L0, which
    lowers the reconstruction error of TopK at equal sparsity. Inference uses the learned
    threshold so a row's code never depends on the other rows of its batch.
    """

    Config = BatchTopKConfig

    def __init__(self, cfg: BatchTopKConfig, latent_dim: int) -> None:
        super().__init__(cfg, latent_dim)
        self.register_buffer("threshold", torch.tensor(-1.0))

    def _batch_threshold(self, a: torch.Tensor) -> torch.Tensor:
        n = min(a.numel(), a.shape[0] * self.cfg.k)
        # Exact batch top-k from per-row candidates: a row holds at most `width` of the batch
        # top-n; if any row is saturated, fall back to the full (slower) flat top-k.
        width = min(a.shape[1], 4 * self.cfg.k)
        cand = a.topk(width, dim=1, sorted=False).values
        kept = cand.flatten().topk(n, sorted=False).values
        thr = kept.min()
        if width < a.shape[1] and bool(((cand >= thr).sum(1) >= width).any()):
            thr = a.flatten().topk(n, sorted=False).values.min()
        return thr

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        a = F.relu(h.detach())
        if self.training:
            with torch.no_grad():
                thr = self._batch_threshold(a.detach())
                positive = thr.clamp_min(0)
                if float(self.threshold) < 0:
                    self.threshold.copy_(positive)
                else:
                    d = self.cfg.threshold_decay
                    self.threshold.mul_(d).add_((1 - d) * positive)
            mask = (a >= thr) & (a > 0)
        else:
            mask = a > self.threshold.clamp_min(0)
        width = int(mask.sum(1).max()) if mask.numel() else 0
        if width <= DENSE_DECODE_FRACTION * self.latent_dim:
            codes = codes_from_mask(mask)
            vals = F.relu(sparse_gather(h, codes))  # sparse gradient, as for TopK
            return self.record(h, scatter_codes(h, codes, vals), codes=codes, values=vals)
        return self.record(h, F.relu(h) * mask, active=mask)


def default_prefixes(latent_dim: int) -> list[int]:
    """Nested dictionary sizes L/16, L/4 (and L itself, implicitly)."""
    return sorted({max(1, latent_dim // 16), max(1, latent_dim // 4)} - {latent_dim})


@dataclass
class MatryoshkaConfig(BatchTopKConfig):
    prefixes: list[int] = field(default_factory=list)
    """Sizes of the nested dictionaries, each reconstructing alone (the full dictionary is
    always the last; empty = L/16 and L/4)."""

    def validate(self) -> None:
        super().validate()
        require(
            all(p >= 1 for p in self.prefixes)
            and list(self.prefixes) == sorted(set(self.prefixes)),
            f"prefixes must be increasing positive sizes, got {self.prefixes}",
        )


@BOTTLENECKS.register("matryoshka")
class MatryoshkaBottleneck(BatchTopKBottleneck):
    """Matryoshka SAE: BatchTopK latents whose first m latents must reconstruct alone.

    Bussmann et al., "Learning Multi-Level Features with Matryoshka Sparse Autoencoders"
    (2025); Nabeshima, "Matryoshka Sparse Autoencoders" (2024); the hierarchical SAEs of
    Zaigrajew et al., "Interpreting CLIP with Hierarchical Sparse Autoencoders" (2025)::

        loss = Σ_m FVU(x, b_dec + Σ_{i<m} z_i W_dec[i])    over prefixes m_1 < … < L

    Why: without nesting, a general feature is split among specific latents ("feature
    absorption"); forcing every prefix to reconstruct alone makes early latents general and
    later ones refinements, so one model serves several dictionary sizes. The prefix terms
    are logged together as ``matryoshka``.
    """

    Config = MatryoshkaConfig

    def __init__(self, cfg: MatryoshkaConfig, latent_dim: int) -> None:
        super().__init__(cfg, latent_dim)
        self.prefixes = [p for p in (cfg.prefixes or default_prefixes(latent_dim))]
        require(
            all(p < latent_dim for p in self.prefixes),
            f"bottleneck 'matryoshka': prefixes {self.prefixes} must be smaller than the "
            f"number of latents ({latent_dim})",
        )

    def extra_losses(self, b, x, out, decoder, tv, stats):
        losses = super().extra_losses(b, x, out, decoder, tv, stats)
        total = x.new_zeros(())
        for m in self.prefixes:
            if b.values is not None:
                part = decoder.decode_sparse(b.codes, b.values * (b.codes < m))
            else:
                part = decoder(b.z * (torch.arange(self.latent_dim, device=x.device) < m))
            fvu_m = (part - x).pow(2).sum() / tv
            stats[f"fvu@{m}"] = fvu_m.detach()
            total = total + fvu_m
        losses["matryoshka"] = total
        return losses


# ---------------------------------------------------------------------------------------
# Penalised families: ReLU + L1, JumpReLU + L0
# ---------------------------------------------------------------------------------------
@dataclass
class ReLUConfig(SparseConfig):
    l1: float = 0.3
    """λ: weight of the L1 penalty E[Σ_i z_i‖W_dec,i‖] / sqrt(E‖x − x̄‖²), added to the FVU
    (toy of protocol SAE, true L0 10: λ 0.03 → L0 171, 0.1 → 86, 0.3 → 40)."""
    warmup_steps: int = 0
    """Steps over which λ ramps linearly from 0 (Anthropic's recipe uses 5% of the run)."""

    def validate(self) -> None:
        super().validate()
        require(self.l1 >= 0, f"l1 must be >= 0, got {self.l1}")
        require(self.warmup_steps >= 0, "warmup_steps must be >= 0")


def _ramp(weight: float, warmup: int, step: int | None) -> float:
    if step is None or warmup == 0:
        return weight
    return weight * min(1.0, (step + 1) / warmup)


@BOTTLENECKS.register("relu")
class ReLUBottleneck(SparseBottleneck):
    """ReLU latents with an L1 sparsity penalty: the original SAE of interpretability.

    Bricken et al., "Towards Monosemanticity" (2023); Cunningham et al., "Sparse Autoencoders
    Find Highly Interpretable Features in Language Models" (ICLR 2024)::

        z = ReLU(pre)          loss = FVU + λ · E[Σ_i z_i] / sqrt(E‖x − x̄‖²)

    The penalty is divided by the data's typical deviation norm so λ does not depend on the
    activations' scale (decoder rows are unit-norm, so Σ z_i‖W_dec,i‖ = Σ z_i). λ in force
    is logged as ``l1_weight``.
    """

    Config = ReLUConfig

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        z = F.relu(h)
        out = self.record(h, z, active=z.detach() > 0)
        lam = _ramp(self.cfg.l1, self.cfg.warmup_steps, step if self.training else None)
        out.stats["l1_weight"] = torch.tensor(lam)
        return out

    def extra_losses(self, b, x, out, decoder, tv, stats):
        s = decoder.input_scale if isinstance(decoder, SAEDecoder) else 1.0
        # z lives in the decoder's normalised units, so the deviation norm is taken there too
        norm = (tv / x.shape[0]).sqrt() * s
        l1 = b.z.sum(1).mean() / norm
        stats["l1"] = l1.detach()
        return {"l1": float(b.stats["l1_weight"]) * l1}


@dataclass
class JumpReLUConfig(AuxKConfig):
    l0: float = 2.0
    """λ: squared error a firing latent must remove to pay for itself, in normalised units
    (the SAE's inputs are scaled so that E‖x‖² = d); the loss is FVU + (λ/d)·E[L0], so one
    λ means the same at every width of input. Fitted on two toys of protocol SAE's kind,
    where λ/d (as a share of the variance) worked in a band: d = 64 (true L0 ≈ 10) at
    λ/d 0.02–0.05 (MMCS 0.97–0.99), d = 16 (true L0 ≈ 3) at 0.1–0.2 (MMCS 0.93–0.96); both
    fail at a third of it, where L0 climbs above the true one, latents merge features and
    half of them die (MMCS ≤ 0.69)."""
    threshold_init: float = 1e-3
    """Initial threshold θ of every latent (in normalised units)."""
    bandwidth: float = 0.05
    """ε: width of the rectangle kernel of the straight-through pseudo-derivatives, in
    normalised units (where an active feature's pre-activation is O(1)). The paper's 1e-3
    suits its long runs at lr 7e-5; in a short run the few pre-activations inside so narrow
    a window make θ's gradient a noisy ratchet (toy: λ/d 0.1 gave L0 50 and 81% dead)."""
    warmup_steps: int = 0
    """Steps over which λ ramps linearly from 0."""

    def validate(self) -> None:
        super().validate()
        require(self.l0 >= 0, f"l0 must be >= 0, got {self.l0}")
        require(self.threshold_init > 0, "threshold_init must be > 0")
        require(self.bandwidth > 0, "bandwidth must be > 0")
        require(self.warmup_steps >= 0, "warmup_steps must be >= 0")


def _rectangle(u: torch.Tensor) -> torch.Tensor:
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class _JumpReLU(torch.autograd.Function):
    """z = x·H(x − θ); ∂z/∂x = H(x − θ), ∂z/∂θ = −(θ/ε)·K((x − θ)/ε) (straight-through)."""

    @staticmethod
    def forward(ctx, x, theta, eps):  # type: ignore[override]
        ctx.save_for_backward(x, theta)
        ctx.eps = eps
        return x * (x > theta)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, theta = ctx.saved_tensors
        eps = ctx.eps
        gx = g * (x > theta)
        gt = (-(theta / eps) * _rectangle((x - theta) / eps) * g).sum(0)
        return gx, gt, None


class _Step(torch.autograd.Function):
    """H(x − θ); no gradient to x, ∂/∂θ = −(1/ε)·K((x − θ)/ε) (straight-through)."""

    @staticmethod
    def forward(ctx, x, theta, eps):  # type: ignore[override]
        ctx.save_for_backward(x, theta)
        ctx.eps = eps
        return (x > theta).to(x.dtype)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        x, theta = ctx.saved_tensors
        eps = ctx.eps
        gt = (-(1.0 / eps) * _rectangle((x - theta) / eps) * g).sum(0)
        return None, gt, None


@BOTTLENECKS.register("jumprelu")
class JumpReLUBottleneck(SparseBottleneck):
    """JumpReLU latents with a learned threshold per latent and an L0 penalty.

    Rajamanoharan et al., "Jumping Ahead: Improving Reconstruction Fidelity with JumpReLU
    Sparse Autoencoders" (2024)::

        z = pre · H(pre − θ)        loss = FVU + (λ/d) · E[Σ_i H(pre_i − θ_i)]

    Why: a threshold separates "is the feature present" from "how strongly", so small
    spurious activations are cut without shrinking the large ones (L1's bias), and L0 is
    penalised directly. θ learns through straight-through pseudo-derivatives with a
    rectangle kernel of width ε. Codes include latents within ε/2 below threshold
    (value 0) so the sparse decoder hands θ exactly the gradient a dense one would.
    """

    Config = JumpReLUConfig

    def __init__(self, cfg: JumpReLUConfig, latent_dim: int) -> None:
        super().__init__(cfg, latent_dim)
        # θ itself is the parameter (not log θ): Adam then moves it by ~lr per step in the
        # activations' units, which short runs need to lift θ from its tiny initial value
        self.threshold_param = nn.Parameter(torch.full((latent_dim,), cfg.threshold_init))
        self._d = 1  # the input width, which turns λ into a share of the variance (bind)

    def bind(self, model: nn.Module) -> None:
        self._d = math.prod(model.input_shape)

    def threshold(self) -> torch.Tensor:
        return self.threshold_param.clamp_min(1e-6)

    def forward(self, h: torch.Tensor, step: int | None = None) -> BottleneckOutput:
        cfg = self.cfg
        theta = self.threshold()
        z = _JumpReLU.apply(h, theta, cfg.bandwidth)
        near = h.detach() > theta.detach() - cfg.bandwidth / 2
        out = self.record(h, z, active=near if self.training else z.detach() != 0)
        l0 = _Step.apply(h, theta, cfg.bandwidth).sum(1).mean()
        lam = _ramp(cfg.l0 / self._d, cfg.warmup_steps, step if self.training else None)
        out.losses["l0"] = lam * l0
        out.stats["l0_weight"] = torch.tensor(lam)
        return out
