"""Figures (loss curves, reconstruction and sample grids) and a small offline HTML report."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def loss_curve(history: list[dict[str, Any]], path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=110)
    epochs = [r["epoch"] for r in history]
    for key, label in (("train/loss", "train"), ("val/loss", "validation")):
        vals = [r.get(key) for r in history]
        if any(v is not None for v in vals):
            ax.plot(epochs, vals, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def image_grid(rows: list[np.ndarray], labels: list[str], path: Path) -> Path:
    """One row of images per entry of ``rows`` (each (n, C, H, W) or (n, H, W))."""
    plt = _plt()
    n = max(len(r) for r in rows)
    fig, axes = plt.subplots(
        len(rows), n, figsize=(n * 0.8, len(rows) * 0.9), dpi=110, squeeze=False
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
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(Path(path).name)}">'


def write_html(
    run_dir: Path, title: str, metrics: dict[str, Any], config: dict[str, Any], figures: list[Path]
) -> Path:
    """A single self-contained HTML file (images inlined) summarising a run."""
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>"
        f"{html.escape(f'{v:.6g}' if isinstance(v, float) else str(v))}</td></tr>"
        for k, v in metrics.items()
    )
    figs = "".join(
        f"<figure>{_img(p)}<figcaption>{html.escape(p.stem)}</figcaption></figure>"
        for p in figures
        if Path(p).exists()
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td{{padding:2px 10px}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f3f3f3}}
figure{{display:inline-block;margin:1em}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}
</style></head><body><h1>{html.escape(title)}</h1><h2>Test metrics</h2><table>{rows}</table>
<h2>Figures</h2>{figs}<h2>Configuration</h2><pre>{html.escape(json.dumps(config, indent=2))}</pre>
</body></html>"""
    path = Path(run_dir) / "report.html"
    path.write_text(doc)
    return path
