"""The run report without a browser: the metric table's explanations, the training curves'
panels (one per logged term, read from the history, no recipe named) and the warm-up note,
and the page's titles, captions and metric units."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from autoencoding import report
from autoencoding.cli import main
from autoencoding.report.curves import PANEL_SEP, TITLE, Curves, ramps
from autoencoding.report.explain import METRICS, describe
from autoencoding.report.page import FIGURES


def _history(epochs: int = 5, val: bool = True) -> list[dict]:
    """A made-up recipe: terms 'recon_x' and 'spring' (weighted by a ramping
    'spring_weight'), a statistic 'wobble'; the total rises while the weight ramps."""
    rows = []
    for e in range(1, epochs + 1):
        w = min(1.0, e / 3)
        rec, spring = 10.0 - 0.5 * e, 4.0
        r = {
            "epoch": e,
            "step": 7 * e,
            "lr": 1e-3,
            "train/reconstruction": rec,
            "train/spring": spring,
            "train/wobble": 0.1 * e,
            "train/spring_weight": w,
            "train/loss": rec + w * spring,
        }
        if val:
            r |= {"val/reconstruction": rec, "val/spring": spring, "val/loss": rec + spring}
        rows.append(r)
    return rows


# -- the table of explanations ----------------------------------------------------------------
def test_every_evaluated_metric_has_a_meaning_and_a_unit():
    for name in (
        "n",
        "mse",
        "bce",
        "neg_elbo",
        "nll",
        "active_units",
        "probe_accuracy",
        "bottleneck/kl",
        "bottleneck/kl_weight",
        "bottleneck/codebook_usage",
        "bottleneck/perplexity",
        "bottleneck/dead_codes",
        "bottleneck/l0",
        "bottleneck/dead",
        "fvu",
        "roc_auc",
    ):
        m = describe(name)
        assert m.meaning and m.unit and "no description" not in m.meaning, name
    assert describe("nll").unit == "nats per sample"
    assert "Var > 0.01" in describe("active_units").meaning
    # prefixes name where a number was measured, not what it is
    assert describe("train/kl") == describe("val/kl") == describe("bottleneck/kl") == METRICS["kl"]


@pytest.mark.parametrize("name", ["frobnicate", "bottleneck/", "", "a/b/c", "x_weight"])
def test_an_unknown_metric_gets_a_generic_line_not_an_error(name):
    m = describe(name)
    assert m.meaning and m.unit


# -- the training curves ------------------------------------------------------------------------
def test_curves_take_their_panels_from_the_history():
    c = Curves.from_history(_history())
    assert c.panels == ["loss", "reconstruction", "spring", "wobble", "weights"]
    assert c.weight_of("spring") == "spring_weight" and c.weight_of("wobble") is None
    assert c.heading("spring") == "spring (loss term)"  # validated, so part of the loss
    assert c.heading("wobble") == "wobble (statistic)"  # logged in training only
    (r,) = ramps(c)
    assert (r.name, r.last_epoch, r.last_step) == ("spring_weight", 3, 21)
    assert r.term == "the spring term"
    assert r.total_rises
    assert "the total loss rises while the spring term is switched on" in r.sentence()


def test_a_constant_weight_is_no_ramp_and_one_epoch_draws(tmp_path):
    h = _history(1, val=False)
    c = Curves.from_history(h)
    assert ramps(c) == [] and c.heading("spring") == "spring"  # no validation: no kind
    path = report.loss_curve(h, tmp_path / "loss_curve.png")
    assert Image.open(path).size[0] > 0


def test_the_figure_has_a_titled_panel_per_term(tmp_path):
    path = report.loss_curve(_history(), tmp_path / "loss_curve.png", reconstruction="mse")
    with Image.open(path) as im:
        text = dict(im.text)
        pixels = np.asarray(im.convert("L"))
    assert text["Title"] == TITLE
    assert text["Description"].split(PANEL_SEP) == [
        "Total loss (minimised)",
        "reconstruction (loss term)",
        "spring (loss term)",
        "wobble (statistic)",
        "Loss weights (warm-up schedules, epoch means)",
    ]
    assert "spring_weight ramps" in text["Comment"]
    assert pixels.std() > 10  # something was drawn


# -- the page -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vae_report(tmp_path_factory):
    """`autoencoding train vae` for 4 epochs on digits, KL warm-up over the first ~3."""
    out = tmp_path_factory.mktemp("report") / "vae"
    argv = ["train", "vae", "--data", "digits", "--epochs", "4", "--quiet", "--out", str(out)]
    assert main([*argv, "--set", "model.bottleneck.warmup_steps=60"]) == 0
    return out


def test_the_page_explains_every_metric_and_titles_every_figure(vae_report):
    page = (vae_report / "report.html").read_text()
    metrics = json.loads((vae_report / "metrics.json").read_text())
    for name in metrics:
        m = describe(name)
        row = re.search(rf"<tr><td><code>{re.escape(name)}</code></td>(.*?)</tr>", page)
        assert row, name
        assert m.unit.replace("&", "&amp;") in row.group(1) and m.meaning[:30] in row.group(1)
    for stem in ("loss_curve", "reconstructions", "sample_neighbours"):
        title, caption = FIGURES[stem]
        assert f"<h3>{title}</h3>" in page and f'alt="{title}"' in page
        assert caption[:40] in page
    for heading in ("Total loss (minimised)", "reconstruction (loss term)", "kl (loss term)"):
        assert f"<li>{heading}</li>" in page
    assert "<li>Loss weights (warm-up schedules, epoch means)</li>" in page
    assert re.search(r'<p class="note">kl_weight ramps [^<]* by step \d+', page)
    assert page.count("data:image/png;base64,") == 3


def test_write_html_takes_any_metric_value(tmp_path):
    path = report.write_html(
        tmp_path,
        "t",
        {"new_thing": 1.5, "histogram": {"counts": [1, 2]}, "note": None},
        {},
        [tmp_path / "missing.png"],
    )
    page = path.read_text()
    assert "<code>new_thing</code>" in page and "no description" in page
    assert "<img" not in page  # a figure that was not written is left out
