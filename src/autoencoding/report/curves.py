"""Training curves: the total loss, every logged term on its own panel, and the loss weights.

The trainer logs one line per epoch (``metrics.jsonl``) with ``train/<name>`` for every loss
term and bottleneck statistic and ``val/<name>`` for the validation loss terms. Nothing here
knows a recipe: the panels are the names found in the history, explained by
:mod:`.explain`. A name ending in ``_weight`` is a multiplier on the term of the same stem
(``kl_weight`` on ``kl``), which the trainer logs *unweighted*; so a term's panel shows both
the raw term and ``weight × term``, what the total actually adds.

Why the weights get a panel of their own: during KL (or L1/L0) warm-up the weight ramps from
0, so the total loss can rise while every term falls. Without the ramp drawn next to it, a
rising total reads as a training failure.

    curves = Curves.from_history(trainer.history)
    training_figure(curves, "runs/vae-digits/loss_curve.png", reconstruction="bernoulli")
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .explain import RECONSTRUCTION_UNITS, describe, is_weight, weighted_term
from .figures import _plt

#: one colour per role on every panel
TRAIN, VAL, WEIGHTED = "tab:blue", "tab:orange", "tab:green"
TITLE = "Training curves: total loss, each logged term on its own panel, and the loss weights"
TOTAL_HEADING = "Total loss (minimised)"
WEIGHTS_HEADING = "Loss weights (warm-up schedules, epoch means)"
#: between panel headings in the PNG's Description
PANEL_SEP = " | "


@dataclass
class Curves:
    """Per-epoch series by name (prefixes stripped) for the training and validation sets."""

    epochs: list[float] = field(default_factory=list)
    steps: list[int | None] = field(default_factory=list)
    train: dict[str, list[float | None]] = field(default_factory=dict)
    val: dict[str, list[float | None]] = field(default_factory=dict)

    @classmethod
    def from_history(cls, history: list[dict[str, Any]]) -> Curves:
        c = cls()
        rows = [r for r in history if isinstance(r, dict)]
        for i, r in enumerate(rows):
            c.epochs.append(_number(r.get("epoch")) or float(i + 1))
            step = r.get("step")
            c.steps.append(int(step) if isinstance(step, int | float) else None)
        for which, store in (("train/", c.train), ("val/", c.val)):
            names = [k[len(which) :] for r in rows for k in r if k.startswith(which)]
            for name in dict.fromkeys(names):
                store[name] = [_number(r.get(which + name)) for r in rows]
        return c

    @property
    def names(self) -> list[str]:
        """Every logged name, the training set's order first."""
        return list(dict.fromkeys([*self.train, *self.val]))

    @property
    def weights(self) -> list[str]:
        return [n for n in self.names if is_weight(n)]

    @property
    def quantities(self) -> list[str]:
        """Terms and statistics (one panel each): every name but the total and the weights;
        the reconstruction first."""
        rest = [n for n in self.names if n != "loss" and not is_weight(n)]
        return sorted(rest, key=lambda n: n != "reconstruction")

    @property
    def panels(self) -> list[str]:
        """The figure's panels in order: "loss", one per quantity, then "weights" if any."""
        return ["loss", *self.quantities] + (["weights"] if self.weights else [])

    def heading(self, panel: str) -> str:
        """The first line of ``panel``'s title (the figure and the HTML page share it)."""
        if panel == "loss":
            return TOTAL_HEADING
        if panel == "weights":
            return WEIGHTS_HEADING
        kind = "loss term" if panel in self.val else ("statistic" if self.val else "")
        return f"{panel} ({kind})" if kind else panel

    def weight_of(self, term: str) -> str | None:
        """The logged weight that multiplies ``term``, if any."""
        return next((w for w in self.weights if weighted_term(w) == term), None)


@dataclass
class Ramp:
    """A loss weight that changes during training (a warm-up schedule)."""

    name: str
    start: float
    end: float
    first_epoch: float
    last_epoch: float
    """The first epoch whose mean weight is the final value: the ramp is over by its end."""
    last_step: int | None
    total_rises: bool
    """Whether the training total rose during the ramp."""

    @property
    def term(self) -> str:
        """What the weight multiplies, as a phrase: "the kl term", or "the regulariser" for
        a weight not named after its term."""
        t = weighted_term(self.name)
        return f"the {t} term" if t else "the regulariser"

    def short(self) -> str:
        """The sentence cut to fit under a panel heading."""
        by = f"step {self.last_step}" if self.last_step else f"epoch {self.last_epoch:g}"
        why = "so the total rises" if self.total_rises else "so the total may rise"
        ramp = f"{self.name} {self.start:.3g} → {self.end:.3g} by {by}"
        return f"{ramp}: {why} as {self.term} is switched on"

    def sentence(self) -> str:
        by = (
            f"step {self.last_step} (epoch {self.last_epoch:g})"
            if self.last_step
            else (f"epoch {self.last_epoch:g}")
        )
        what = (
            f"the total loss rises while {self.term} is switched on"
            if self.total_rises
            else f"the total adds {self.name} × {self.term}, so it can rise while every term falls"
        )
        return (
            f"{self.name} ramps {self.start:.3g} → {self.end:.3g} (epoch means) and reaches its "
            f"final value by {by}: {what}."
        )


def ramps(curves: Curves) -> list[Ramp]:
    """The weights that change over the run, with where their ramp ends."""
    out = []
    for name in curves.weights:
        vals = curves.train.get(name) or curves.val.get(name) or []
        pts = [(i, v) for i, v in enumerate(vals) if v is not None]
        if len(pts) < 2:
            continue
        lo, hi = min(v for _, v in pts), max(v for _, v in pts)
        if hi - lo <= 1e-6 * max(1.0, abs(hi)):
            continue
        end = pts[-1][1]
        done = next(i for i, v in pts if abs(v - end) <= 1e-6 * max(1.0, abs(end)))
        total = [curves.train.get("loss", [None] * len(vals))[i] for i in range(done + 1)]
        total = [t for t in total if t is not None]
        rises = any(b > a for a, b in zip(total, total[1:], strict=False))
        out.append(
            Ramp(
                name,
                pts[0][1],
                end,
                curves.epochs[pts[0][0]],
                curves.epochs[done],
                curves.steps[done],
                rises,
            )
        )
    return out


def notes(history: list[dict[str, Any]]) -> list[str]:
    """One sentence per warm-up schedule in ``history``, explaining a rising total."""
    return [r.sentence() for r in ramps(Curves.from_history(history))]


def training_figure(
    curves: Curves, path: str | Path, reconstruction: str | None = None, dpi: int = 100
) -> Path:
    """Draw ``curves`` to ``path``: the total, one panel per term or statistic, the weights."""
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    panels = curves.panels
    ncols = 1 if len(panels) == 1 else 2
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(6.0 * ncols, 3.3 * nrows + 0.6), dpi=dpi, squeeze=False
    )
    ramp_list = ramps(curves)
    few = len(curves.epochs) <= 30  # markers make short runs (even one epoch) visible
    style = {"marker": "o", "markersize": 3} if few else {}
    for ax, panel in zip(axes.flat, panels, strict=False):
        if panel == "loss":
            _total_panel(ax, curves, ramp_list, style)
        elif panel == "weights":
            _weights_panel(ax, curves, ramp_list, style)
        else:
            _term_panel(ax, curves, panel, reconstruction, style)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.remove()
    fig.suptitle(TITLE, fontsize=12, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (3.3 * nrows + 0.6)))
    path = Path(path)
    # the panel headings and warm-up notes ride along in the PNG: the HTML page lists them
    # from the figure itself, whatever history it was drawn from
    headings = PANEL_SEP.join(curves.heading(p) for p in panels)
    comment = "\n".join(r.sentence() for r in ramp_list)
    fig.savefig(path, metadata={"Title": TITLE, "Description": headings, "Comment": comment})
    plt.close(fig)
    return path


# -- panels ---------------------------------------------------------------------------------
def _total_panel(ax, curves: Curves, ramp_list: list[Ramp], style) -> None:
    x = curves.epochs
    drawn = _plot(ax, x, curves.train.get("loss"), "train", style, TRAIN)
    # validation runs in eval mode, where a scheduled weight is at its final value
    val_label = "validation (weights at their final values)" if curves.weights else "validation"
    drawn |= _plot(ax, x, curves.val.get("loss"), val_label, style, VAL)
    for r in ramp_list:
        ax.axvspan(
            r.first_epoch - 0.5,
            r.last_epoch + 0.5,
            color="gold",
            alpha=0.25,
            label=f"{r.name} warm-up",
        )
    _title(ax, curves.heading("loss"), describe("loss").meaning)
    ax.set_ylabel("sum of the weighted terms")
    _legend(ax, drawn or bool(ramp_list))


def _term_panel(ax, curves: Curves, name: str, reconstruction: str | None, style) -> None:
    x = curves.epochs
    info = describe(name)
    weight = curves.weight_of(name)
    train, val = curves.train.get(name), curves.val.get(name)
    drawn = _plot(ax, x, train, "train" + (" (unweighted)" if weight else ""), style, TRAIN)
    if weight and train is not None:
        w = curves.train.get(weight) or []
        weighted = [
            None if a is None or b is None else a * b for a, b in zip(train, w, strict=False)
        ]
        label = f"train × {weight} (as counted in the total)"
        drawn |= _plot(ax, x, weighted, label, style, WEIGHTED, "--")
    val_label = "validation (weighted, as counted in the loss)" if weight else "validation"
    drawn |= _plot(ax, x, val, val_label, style, VAL)
    unit = info.unit
    if name == "reconstruction":
        unit = RECONSTRUCTION_UNITS.get(reconstruction or "", "per sample, as trained")
    _title(ax, curves.heading(name), info.meaning)
    ax.set_ylabel(_wrap(unit, 34))
    _legend(ax, drawn)


def _weights_panel(ax, curves: Curves, ramp_list: list[Ramp], style) -> None:
    x = curves.epochs
    drawn = False
    for name in curves.weights:
        drawn |= _plot(ax, x, curves.train.get(name) or curves.val.get(name), name, style)
    ax.set_ylim(bottom=0)
    sub = (
        "; ".join(r.short() for r in ramp_list)
        if ramp_list
        else "constant over the run: no warm-up"
    )
    _title(ax, curves.heading("weights"), sub)
    ax.set_ylabel("multiplier")
    _legend(ax, drawn, loc="lower right")


def _plot(ax, x, ys, label: str, style, color=None, ls: str = "-") -> bool:
    if not ys or all(v is None for v in ys):
        return False
    pts = [(a, b) for a, b in zip(x, ys, strict=False) if b is not None and math.isfinite(b)]
    if not pts:
        return False
    ax.plot([a for a, _ in pts], [b for _, b in pts], ls, label=label, color=color, **style)
    return True


def _title(ax, head: str, sub: str) -> None:
    ax.set_title(f"{head}\n{_wrap(sub, 78)}", fontsize=9, loc="left")


def _legend(ax, drawn: bool, loc: str = "best") -> None:
    if drawn:
        ax.legend(fontsize=7, loc=loc)
    else:
        ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)
