"""report.html as a person sees it: opened in headless Chromium, screenshotted, every image
decoded, every expected figure present under its title.

Needs a Chromium binary (Debian: ``apt-get install chromium``; CI installs it); skips with
that reason when there is none. The image check loads a copy of the page with a small script
that, once the page has loaded, writes each <img>'s natural size into the DOM, which
``--dump-dom`` then prints; two deliberately broken images in the copy prove the check can
fail.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from autoencoding.cli import main
from autoencoding.report.page import FIGURES

CHROMIUM = next(
    (
        shutil.which(name)
        for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
        if shutil.which(name)
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary on PATH (apt-get install chromium): report.html is not "
    "checked in a browser",
)

#: headless, offline, no profile state, no background traffic
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

CHECK = """<script>
window.addEventListener("load", () => {
  const seen = [...document.images].map(i => ({
    alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight}));
  const out = document.createElement("pre");
  out.id = "image-check";
  out.textContent = JSON.stringify(seen);
  document.body.appendChild(out);
});
</script>"""
BROKEN = (
    '<img alt="broken data" src="data:image/png;base64,AAAA">'
    '<img alt="missing file" src="no-such-figure.png">'
)
EXPECTED = [FIGURES[s][0] for s in ("loss_curve", "reconstructions", "sample_neighbours")]


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """`autoencoding train vae` for 4 epochs on digits, KL warm-up over the first ~3."""
    out = tmp_path_factory.mktemp("browser") / "vae"
    argv = ["train", "vae", "--data", "digits", "--epochs", "4", "--quiet", "--out", str(out)]
    assert main([*argv, "--set", "model.bottleneck.warmup_steps=60"]) == 0
    return out


def test_screenshot_shows_the_page_with_its_figures(run, tmp_path):
    png = tmp_path / "report.png"
    page = (run / "report.html").resolve().as_uri()
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,2400", page)
    assert png.is_file() and png.stat().st_size > 0
    with Image.open(png) as im:
        assert im.size == (1200, 2400)
        rgb = np.asarray(im.convert("RGB")).astype(int)
    assert rgb.std() > 20  # not blank
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 200  # text, plots and images
    # the curves' train lines (matplotlib's tab:blue) were drawn into the screenshot
    blue = np.abs(rgb - np.array([31, 119, 180])).sum(-1) < 40
    assert blue.sum() > 200


def test_every_image_loads_and_every_figure_is_titled(run, tmp_path):
    checked = run / "report-checked.html"
    text = (run / "report.html").read_text()
    checked.write_text(text.replace("</body>", BROKEN + CHECK + "</body>"))
    dom = chromium(
        tmp_path, "--virtual-time-budget=10000", "--dump-dom", checked.resolve().as_uri()
    ).stdout
    found = re.search(r'<pre id="image-check">(.*?)</pre>', dom, re.S)
    assert found, "the page's load handler did not run:\n" + dom[-2000:]
    images = {i["alt"]: i for i in json.loads(html.unescape(found.group(1)))}
    # the check catches a broken image ...
    assert images.pop("broken data")["width"] == 0 and images.pop("missing file")["width"] == 0
    # ... and every image of the report decoded
    assert set(images) == set(EXPECTED)
    for alt, im in images.items():
        assert im["complete"] and im["width"] > 300 and im["height"] > 100, (alt, im)
    for title in EXPECTED:
        assert re.search(rf'<h3>{title}</h3><figure><img [^>]*alt="{title}"', dom), title
    for heading in ("Total loss (minimised)", "kl (loss term)", "Loss weights"):
        assert f"<li>{heading}" in dom
    assert "bottleneck/kl" in dom and "nats per sample" in dom
