"""Figures (training curves, reconstruction and sample grids) and a small offline HTML report.

``autoencoding train`` and ``evaluate`` write ``loss_curve.png``, ``reconstructions.png`` and
``report.html`` into the run folder through :func:`loss_curve`, :func:`image_grid` and
:func:`write_html`. What every number means and its unit lives in one table,
:data:`.explain.METRICS`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .curves import Curves, notes, training_figure
from .explain import METRICS, Metric, describe
from .figures import _plt, image_grid
from .page import metrics_table, write_html

__all__ = [
    "METRICS",
    "Curves",
    "Metric",
    "_plt",
    "describe",
    "image_grid",
    "loss_curve",
    "metrics_table",
    "notes",
    "training_figure",
    "write_html",
]


def loss_curve(
    history: list[dict[str, Any]], path: Path, reconstruction: str | None = None
) -> Path:
    """The training-curves figure of ``history`` (the trainer's per-epoch records) at ``path``.

    ``reconstruction`` (the model's reconstruction loss, e.g. "bernoulli") gives the unit of
    the reconstruction term; when not given it is read from the run folder's ``config.json``
    next to ``path``, if there is one.
    """
    if reconstruction is None:
        reconstruction = _reconstruction_name(Path(path).parent / "config.json")
    return training_figure(Curves.from_history(history), path, reconstruction)


def _reconstruction_name(config: Path) -> str | None:
    try:
        return json.loads(config.read_text())["model"]["reconstruction"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
