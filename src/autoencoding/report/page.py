"""The run's ``report.html``: one self-contained page (figures inlined as data: URIs) with the
test metrics explained, every figure titled and captioned, and the configuration."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from .curves import PANEL_SEP
from .explain import describe

#: figure file stem -> (title, caption); a figure not listed is titled by its file name
FIGURES: dict[str, tuple[str, str]] = {
    "loss_curve": (
        "Training curves",
        "The total loss and, each on its own panel and scale, every term and statistic the "
        "model logged per epoch (train solid, validation where it was held out). Dashed: a "
        "weighted term as the total counts it (weight × term). The last panel shows the loss "
        "weights: while a weight ramps up (shaded on the total) the total can rise although "
        "no term got worse.",
    ),
    "reconstructions": (
        "Reconstructions",
        "Held-out test images (top row), the model's reconstructions of them, and for "
        "generative models decoded samples, all in the scaled units the model sees.",
    ),
    "sample_neighbours": (
        "Samples and their nearest training images",
        "Samples from the default sampler of the model (top row) above the training image nearest "
        "to each in the feature space the sample-quality figures use (bottom row). A sample "
        "that repeats its neighbour is a copy of the training set (see samples/…/copy_ratio).",
    ),
}


def figure_title(path: Path) -> tuple[str, str]:
    """(title, caption) of the figure saved at ``path``."""
    stem = Path(path).stem
    return FIGURES.get(stem, (stem.replace("_", " ").capitalize(), ""))


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict | list):
        text = json.dumps(v, default=str)
        return text if len(text) <= 120 else text[:117] + "…"
    return str(v)


def png_text(path: Path) -> dict[str, str]:
    """The text chunks of a PNG (what :func:`.curves.training_figure` stores), {} if none."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return {str(k): str(v) for k, v in getattr(im, "text", {}).items()}
    except (OSError, ValueError, ImportError):
        return {}


def _rows(metrics: dict[str, Any]):
    """(name, value) of every table row: a metric that is a dict (``probes``, ``codec``,
    ``samples``) gets a row naming its parts, then one row per leaf (``probes/linear``,
    ``samples/<sampler>/<figure>``), so no cell holds a long JSON line."""

    def leaves(prefix: str, d: dict[str, Any]):
        for part, x in d.items():
            if isinstance(x, dict) and x:
                yield from leaves(f"{prefix}/{part}", x)
            else:
                yield f"{prefix}/{part}", x

    for k, v in metrics.items():
        if isinstance(v, dict) and v:
            yield k, ", ".join(map(str, v))
            yield from leaves(str(k), v)
        else:
            yield k, v


def metrics_table(metrics: dict[str, Any]) -> str:
    """The metrics as an HTML table: name, value, unit and a one-line meaning each."""
    rows = []
    for k, v in _rows(metrics):
        m = describe(k)
        better = f" ({m.better} is better)" if m.better else ""
        rows.append(
            f"<tr><td><code>{html.escape(str(k))}</code></td>"
            f'<td class="num">{html.escape(_value(v))}</td>'
            f"<td>{html.escape(m.unit)}</td><td>{html.escape(m.meaning + better)}</td></tr>"
        )
    head = "<tr><th>metric</th><th>value</th><th>unit</th><th>meaning</th></tr>"
    return f'<table class="metrics">{head}{"".join(rows)}</table>'


def _figure(path: Path) -> str:
    title, caption = figure_title(path)
    text = png_text(path)
    extra = ""
    if text.get("Description"):
        panels = text["Description"].split(PANEL_SEP)
        items = "".join(f"<li>{html.escape(p)}</li>" for p in panels)
        extra += f'<p class="panels">Panels:</p><ul class="panels">{items}</ul>'
    for line in filter(None, text.get("Comment", "").splitlines()):
        extra += f'<p class="note">{html.escape(line)}</p>'
    return (
        f'<section class="figure"><h3>{html.escape(title)}</h3><figure>{_img(path, title)}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>{extra}</section>"
    )


STYLE = """body{font-family:sans-serif;max-width:75em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:left;vertical-align:top}
th{border-bottom:2px solid #bbb}tr:nth-child(even){background:#f3f3f3}td.num{text-align:right;
font-variant-numeric:tabular-nums;white-space:nowrap}figure{margin:0.5em 0}
img{max-width:100%;height:auto}figcaption{color:#555;max-width:60em;margin-top:0.3em}
ul.panels{margin-top:0;columns:2;max-width:60em;color:#444}p.panels{margin-bottom:0.2em}
p.note{background:#fff6e5;border-left:4px solid #f0a020;padding:0.4em 0.8em;max-width:60em}
pre{background:#f6f6f6;padding:1em;overflow:auto}"""


def write_html(
    run_dir: Path, title: str, metrics: dict[str, Any], config: dict[str, Any], figures: list[Path]
) -> Path:
    """A single self-contained HTML file (images inlined) summarising a run."""
    figs = "".join(_figure(Path(p)) for p in figures if Path(p).exists())
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>
<h2>Test metrics</h2>{metrics_table(metrics)}
<h2>Figures</h2>{figs}<h2>Configuration</h2><pre>{html.escape(json.dumps(config, indent=2))}</pre>
</body></html>"""
    path = Path(run_dir) / "report.html"
    path.write_text(doc)
    return path
