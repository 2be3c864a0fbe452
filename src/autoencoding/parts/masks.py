"""Patch masks as corruptions, and the per-patch normalised reconstruction target.

Each mask hides whole patches of a patch encoder's grid (``parts/patches.py``): the same
number in every token sequence, so a visible-only encoder gathers a dense (B·G, k, D)
batch. The record it returns::

    x        the input with the hidden patches' entries zeroed (what a non-gathering
             encoder would see; the patch encoders gather ``visible`` and never read them)
    hidden   (B, G·n) bool: True at hidden tokens            (the decoder puts [mask] there)
    visible  (B, G·k) long: the visible tokens, ascending, k per group   (encoder gathers)
    where    (B, C, *S) bool: the entries of hidden patches  (the loss counts only these)

=============  ===========================================================  =====================
name           what is hidden                                               paper (default ratio)
=============  ===========================================================  =====================
patch-random   uniformly random patches, independently per channel          MAE (0.75); PatchTST
               sequence (``channels: shared`` hides the same for all)
patch-block    rectangles of patches (spans on series, spatial blocks           BEiT (0.4)
               through all frames of a video)
patch-tube     the same random spatial patches in every frame (tubes)       VideoMAE (0.9)
patch-gap      one contiguous run of patches per sequence (series gaps)     (0.25)
=============  ===========================================================  =====================

In training mode masks are drawn from torch's generator (seeded by the trainer); in eval mode
``forward`` draws from a fixed ``eval_seed`` so validation losses compare like with like.
At inference (``observe``) nothing is hidden: the encoder sees every token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..config import require
from ..errors import AutoencodingError
from .base import CORRUPTIONS, RECONSTRUCTIONS, Corrupted, Corruption
from .patches import PatchEncoder, PatchGrid
from .reconstruction import MSE, _reduce


@dataclass
class PatchMaskConfig:
    ratio: float = 0.75
    """Share of each token sequence's patches hidden from the encoder (at least one patch
    stays visible and one hidden)."""
    channels: Literal["independent", "shared"] = "independent"
    """For channel-independent series: draw each channel's mask on its own (PatchTST) or
    hide the same patches in every channel."""
    eval_seed: int = 0
    """Seed of the fixed masks drawn in eval mode (validation losses)."""
    loss_on: Literal["hidden", "all"] = "hidden"
    """Entries the loss counts: those of the hidden patches (MAE: better features) or every
    entry (the decoder then also learns to copy visible patches, for reconstructions)."""

    def validate(self) -> None:
        require(0 < self.ratio < 1, f"patch mask: ratio must be in (0, 1), got {self.ratio}")


class PatchMask(Corruption):
    """Base of the patch masks: binds to the encoder's grid, builds the record; subclasses
    only draw which tokens to hide (:meth:`draw`)."""

    Config = PatchMaskConfig
    #: the rank of grid the mask is made for (None = any)
    grid_rank: int | None = None

    def __init__(self, cfg: PatchMaskConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.grid: PatchGrid | None = None

    def bind(self, model: nn.Module) -> None:
        enc = model.encoder  # type: ignore[attr-defined]
        name = type(self).registry_name
        if not isinstance(enc, PatchEncoder):
            raise AutoencodingError(
                f"corruption {name!r} hides patches of a patch encoder's grid; encoder "
                f"{type(enc).registry_name!r} has no patches (use patch_transformer or "
                f"patch_mlp)"
            )
        g = enc.grid
        if self.grid_rank is not None and len(g.grid) != self.grid_rank:
            raise AutoencodingError(
                f"corruption {name!r} works on a {self.grid_rank}-D patch grid, the encoder's "
                f"is {len(g.grid)}-D ({list(g.grid)})"
            )
        self.grid = g

    def hidden_count(self, n: int) -> int:
        """Patches hidden per sequence of n: round(ratio·n), within [1, n-1]."""
        if n < 2:
            raise AutoencodingError(
                f"corruption {type(self).registry_name!r}: a sequence of {n} patch cannot be "
                f"split into visible and hidden patches; use a smaller patch"
            )
        return min(n - 1, max(1, round(self.cfg.ratio * n)))

    def draw(self, rows: int, g: PatchGrid, gen: torch.Generator | None) -> torch.Tensor:
        """(rows, n) bool, exactly ``hidden_count(n)`` True per row (CPU)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> Corrupted:
        g = self.grid
        assert g is not None, "bind() links the mask to the encoder's grid"
        b = x.shape[0]
        gen = None if self.training else torch.Generator().manual_seed(self.cfg.eval_seed)
        shared = self.cfg.channels == "shared" and g.groups > 1
        rows = b if shared else b * g.groups
        hidden = self.draw(rows, g, gen)
        if shared:
            hidden = hidden.repeat_interleave(g.groups, 0)
        rec = masked_record(g, x, hidden.view(b, g.tokens).to(x.device))
        if self.cfg.loss_on == "all":
            rec.where = None
        return rec


def masked_record(grid: PatchGrid, x: torch.Tensor, hidden: torch.Tensor) -> Corrupted:
    """The corruption record that hides the tokens flagged in ``hidden`` (B, G·n) from a
    patch encoder: what the masks return, and what an imputer or an inpainting call builds
    from its own hidden patches. Every token sequence must hide the same number of tokens
    (a visible-only encoder gathers a dense batch); one error says so otherwise."""
    b = x.shape[0]
    hidden = hidden.reshape(b, grid.tokens).bool()
    counts = hidden.view(b, grid.groups, grid.n).sum(-1)
    if (counts != counts.flatten()[0]).any() or int(counts.flatten()[0]) >= grid.n:
        raise AutoencodingError(
            f"masked record: every token sequence must hide the same number of its {grid.n} "
            f"patches, and not all (got counts {sorted(set(counts.flatten().tolist()))})"
        )
    k = grid.n - int(counts.flatten()[0])
    # visible positions, ascending: a stable sort puts the False (visible) ones first
    order = torch.sort(hidden.to(torch.uint8), dim=1, stable=True).indices
    visible = order[:, : grid.groups * k].sort(1).values
    where = grid.token_entries(hidden)
    return Corrupted(x.masked_fill(where, 0.0), where=where, hidden=hidden, visible=visible)


def _exact(hidden: torch.Tensor, h: int, gen: torch.Generator | None) -> torch.Tensor:
    """Rows of ``hidden`` trimmed or topped up at random to exactly h True each: a visible-
    only encoder needs the same visible count in every sequence."""
    noise = torch.rand(hidden.shape, generator=gen)
    # hidden ones rank first (score +1), random order within: keep the first h
    order = (hidden.float() + noise).argsort(1, descending=True)[:, :h]
    return torch.zeros_like(hidden).scatter_(1, order, True)


@CORRUPTIONS.register("patch-random")
class RandomPatchMask(PatchMask):
    """Random patch masking: a uniformly random ``ratio`` of each sequence's patches.

    He et al., "Masked Autoencoders Are Scalable Vision Learners" (CVPR 2022), 75% of image
    patches; Nie et al., "A Time Series is Worth 64 Words" (PatchTST, ICLR 2023), random
    patches per channel (``channels: independent``). Why so high a ratio: neighbouring
    patches are redundant, so a low ratio is solved by interpolation and teaches little.
    """

    def draw(self, rows, g, gen):
        h = self.hidden_count(g.n)
        order = torch.rand(rows, g.n, generator=gen).argsort(1)[:, :h]
        return torch.zeros(rows, g.n, dtype=torch.bool).scatter_(1, order, True)


@dataclass
class BlockMaskConfig(PatchMaskConfig):
    ratio: float = 0.4
    """Share of each sequence's patches hidden (BEiT: 40%)."""
    min_block: int = 2
    """Smallest block, in patches (BEiT: 16 of 196)."""
    aspect: float = 3.0
    """Largest height/width ratio of a block (BEiT: 1/0.3)."""

    def validate(self) -> None:
        super().validate()
        require(self.min_block >= 1, f"patch-block: min_block must be >= 1, got {self.min_block}")
        require(self.aspect >= 1, f"patch-block: aspect must be >= 1, got {self.aspect}")


@CORRUPTIONS.register("patch-block")
class BlockPatchMask(PatchMask):
    """Blockwise masking: random rectangles of patches until the ratio is reached.

    Bao et al., "BEiT: BERT Pre-Training of Image Transformers" (ICLR 2022), Algorithm 1:
    each block has a random area in [min_block, what is left] and a log-uniform aspect ratio.
    On a series grid the blocks are spans; on a video grid they are spatial rectangles
    through every frame. Why: hiding whole regions removes the neighbours that random
    masking leaves to interpolate from. The count is then made exact (random patches added
    or released at the edge) so every sequence keeps the same number of visible tokens.
    """

    Config = BlockMaskConfig

    def draw(self, rows, g, gen):
        h = self.hidden_count(g.n)
        dims = g.grid if len(g.grid) < 3 else g.grid[1:]  # video: spatial blocks, all frames
        mask = torch.zeros(rows, *dims, dtype=torch.bool)
        per_frame = math.prod(dims)
        target = math.ceil(h * per_frame / g.n)
        lo = min(self.cfg.min_block, target)
        u = torch.rand(rows, 64, 4, generator=gen)  # 64 tries per row, drawn at once
        for r in range(rows):  # a loop over rows (not tokens): a few block tries each
            for t in range(64):
                left = target - int(mask[r].sum())
                if left <= 0:
                    break
                area = lo + u[r, t, 0].item() * (max(lo, left) - lo)
                if len(dims) == 1:
                    size = [max(1, min(dims[0], round(area)))]
                else:
                    la = math.log(self.cfg.aspect)
                    ar = math.exp((2 * u[r, t, 1].item() - 1) * la)
                    hh = max(1, min(dims[0], round(math.sqrt(area * ar))))
                    ww = max(1, min(dims[1], round(math.sqrt(area / ar))))
                    size = [hh, ww]
                start = [int(u[r, t, 2 + i].item() * (d - s + 1)) for i, (d, s) in
                         enumerate(zip(dims, size, strict=True))]  # fmt: skip
                sl = tuple(slice(a, a + s) for a, s in zip(start, size, strict=True))
                mask[(r, *sl)] = True
        if len(g.grid) == 3:
            mask = mask.unsqueeze(1).expand(-1, g.grid[0], *dims)
        return _exact(mask.reshape(rows, g.n), h, gen)


@dataclass
class TubeMaskConfig(PatchMaskConfig):
    ratio: float = 0.9
    """Share of the spatial patches hidden in every frame (VideoMAE: 90%)."""


@CORRUPTIONS.register("patch-tube")
class TubePatchMask(PatchMask):
    """Tube masking for video: one random spatial mask repeated through time.

    Tong et al., "VideoMAE: Masked Autoencoders are Data-Efficient Learners for
    Self-Supervised Video Pre-Training" (NeurIPS 2022), 90%. Why tubes: frames are so alike
    that a patch hidden in one frame but shown in the next is copied, not inferred.
    (Feichtenhofer et al. 2022, MAE-ST, mask random spacetime patches at 90%: patch-random.)
    """

    Config = TubeMaskConfig
    grid_rank = 3

    def hidden_count(self, n: int) -> int:
        g = self.grid
        frames = g.grid[0] if g is not None else 1
        per = n // frames
        return frames * min(per - 1, max(1, round(self.cfg.ratio * per)))

    def draw(self, rows, g, gen):
        t, per = g.grid[0], g.n // g.grid[0]
        h = self.hidden_count(g.n) // t
        order = torch.rand(rows, per, generator=gen).argsort(1)[:, :h]
        frame = torch.zeros(rows, per, dtype=torch.bool).scatter_(1, order, True)
        return frame.unsqueeze(1).expand(-1, t, -1).reshape(rows, g.n)


@dataclass
class GapMaskConfig(PatchMaskConfig):
    ratio: float = 0.25
    """Length of the gap as a share of the sequence's patches."""


@CORRUPTIONS.register("patch-gap")
class GapPatchMask(PatchMask):
    """One contiguous run of hidden patches per sequence: the gaps of sensor dropouts.

    Where random masks leave neighbours to interpolate from, a gap makes the model bridge a
    stretch with no nearby observation (the 16-step-gap column of protocol MASK-TS-IMPUTE;
    Du et al., "SAITS", 2023, evaluate such block-missing patterns). Series grids only.
    """

    Config = GapMaskConfig
    grid_rank = 1

    def draw(self, rows, g, gen):
        h = self.hidden_count(g.n)
        start = torch.randint(0, g.n - h + 1, (rows, 1), generator=gen)
        pos = torch.arange(g.n).unsqueeze(0)
        return (pos >= start) & (pos < start + h)


@dataclass
class PatchMSEConfig:
    norm_pix: bool = False
    """Compare against each patch normalised to zero mean and unit variance (He et al.
    2022, section 3: better representations); reconstructions are then in those per-patch
    units, not the data's."""
    eps: float = 1e-6
    """Added to each patch's variance before the square root."""

    def validate(self) -> None:
        require(self.eps > 0, f"reconstruction 'patch-mse': eps must be > 0, got {self.eps}")


@RECONSTRUCTIONS.register("patch-mse")
class PatchMSE(MSE):
    """Mean squared error on the counted entries (``where``: the hidden patches), optionally
    against per-patch normalised targets (``norm_pix``, MAE).

    Why normalise: a patch's mean and contrast are the easy, low-frequency part of the
    target; removing them makes the loss weigh local structure, which MAE found gives better
    features (its Table 1c). Needs a patch encoder (the grid comes from it on bind).
    """

    Config = PatchMSEConfig

    def __init__(self, cfg: PatchMSEConfig, n_features: int | None) -> None:
        super().__init__(None, n_features)  # type: ignore[arg-type]
        self.cfg = cfg
        self.grid: PatchGrid | None = None

    def bind(self, model: nn.Module) -> None:
        enc = model.encoder  # type: ignore[attr-defined]
        if self.cfg.norm_pix and not isinstance(enc, PatchEncoder):
            raise AutoencodingError(
                f"reconstruction 'patch-mse' with norm_pix normalises patches of a patch "
                f"encoder; encoder {type(enc).registry_name!r} has none"
            )
        self.grid = enc.grid if isinstance(enc, PatchEncoder) else None

    def target(self, x: torch.Tensor) -> torch.Tensor:
        """The loss's target: ``x``, or each patch of ``x`` standardised (``norm_pix``)."""
        if not self.cfg.norm_pix or self.grid is None:
            return x
        p = self.grid.patchify(x)
        mean = p.mean(-1, keepdim=True)
        var = p.var(-1, keepdim=True, correction=0)
        return self.grid.unpatchify((p - mean) / (var + self.cfg.eps).sqrt())

    def per_sample(self, out, x, where=None):
        return _reduce((out[:, 0] - self.target(x)).pow(2), where, mean=True)
