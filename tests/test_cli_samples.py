"""`autoencoding evaluate` writes sample quality (evaluate/samples.py) for models that sample."""

from __future__ import annotations

import json

import pytest
from threadpoolctl import threadpool_limits

from autoencoding.cli import main

FIGURES = {"fd", "fd_pixels", "precision", "recall", "copy_ratio", "class_coverage"}


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_samples") / "vae"
    argv = ["train", "vae", "--data", "digits", "--epochs", "2", "--quiet", "--out", str(out)]
    with threadpool_limits(1):
        assert main(argv) == 0
    return out


def test_evaluate_writes_sample_quality_and_the_neighbour_grid(vae_run, capsys):
    (vae_run / "sample_neighbours.png").unlink()
    with threadpool_limits(1):
        assert main(["evaluate", str(vae_run)]) == 0
    capsys.readouterr()
    samples = json.loads((vae_run / "metrics.json").read_text())["samples"]
    assert list(samples) == ["prior", "gmm"]  # the default sampler first
    for figures in samples.values():
        assert FIGURES <= set(figures)
        assert figures["feature_space"] == "classifier-tanh64"  # digits carry labels
        assert figures["n_samples"] == 1000
        assert 0 <= figures["precision"] <= 1 and 0 <= figures["recall"] <= 1
        assert figures["fd"] > 0 and 1 <= figures["class_coverage"] <= 10
    png = vae_run / "sample_neighbours.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (vae_run / "report.html").read_text()
    assert "Samples and their nearest training images" in page
    assert "samples/gmm/copy_ratio" in page and "Kynkäänniemi" in page


def test_evaluate_on_other_data_has_no_training_reference(vae_run, tmp_path, capsys):
    import numpy as np

    from autoencoding.data import load_data

    np.save(tmp_path / "x.npy", load_data("digits").x[:40])
    out = tmp_path / "eval"
    argv = ["evaluate", str(vae_run), "--data", str(tmp_path / "x.npy"), "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    assert "samples" not in json.loads((out / "metrics.json").read_text())
    assert not (out / "sample_neighbours.png").exists()


def test_a_table_model_scores_samples_without_an_image_grid(tmp_path, capsys):
    out = tmp_path / "ae"
    with threadpool_limits(1):
        assert main(["train", "ae", "--data", "iris", "--epochs", "1", "--quiet",
                     "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    samples = json.loads((out / "metrics.json").read_text())["samples"]
    assert list(samples) == ["gmm"] and samples["gmm"]["feature_space"] == "classifier-tanh64"
    assert not (out / "sample_neighbours.png").exists()
