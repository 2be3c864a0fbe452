"""Matplotlib set-up and the image grid (data, reconstructions, samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def grid_title(labels: list[str]) -> str:
    """The grid's title from its row labels: what the rows are."""
    return "Held-out test images, top to bottom: " + ", ".join(labels)


def image_grid(
    rows: list[np.ndarray], labels: list[str], path: Path, title: str | None = None
) -> Path:
    """One row of images per entry of ``rows`` (each (n, C, H, W) or (n, H, W)), each row
    labelled, under ``title`` (by default one naming the rows)."""
    plt = _plt()
    n = max(len(r) for r in rows)
    width = max(n * 0.8, 5.0)
    fig, axes = plt.subplots(
        len(rows), n, figsize=(width, len(rows) * 0.9 + 0.4), dpi=110, squeeze=False
    )
    for i, (imgs, label) in enumerate(zip(rows, labels, strict=True)):
        for j in range(n):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(imgs):
                img = imgs[j]
                if img.ndim == 3:
                    img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
                ax.imshow(np.clip(img, 0, 1), cmap="gray", vmin=0, vmax=1)
        axes[i][0].set_title(label, fontsize=7, loc="left")
    fig.suptitle(title or grid_title(labels), fontsize=9, fontweight="bold")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
