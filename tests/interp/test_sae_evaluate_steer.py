"""`autoencoding sae evaluate` (frequency histogram, spliced metrics) and `autoencoding sae
steer`, on a tiny GPT-2 trained for a second on a toy corpus with a 20-word tokenizer, and on
a tiny BERT. SAEs are built by hand so the expected behaviour is known exactly:

* the "exact" SAE has 2d latents with decoder rows ±e_i and TopK k = d, so z = (relu(x),
  relu(−x)) and x̂ = x: splicing it changes nothing;
* the "random" SAE keeps 2 of 64 random directions: splicing it costs loss.
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding.api import TrainedModel
from autoencoding.cli import main
from autoencoding.data.scaling import Scaler
from autoencoding.interp.cli import add_sae_parser
from autoencoding.model import Autoencoder
from autoencoding.recipes import resolve

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

D = 16
HOOK = "blocks.1.resid_post"
ANIMALS, THINGS, PLACES = ["cat", "dog", "bird", "fish"], ["mat", "box", "bed"], ["park", "river"]
TEXTS = [
    f"the {a} sat on the {t} and then the {a} ran to the {p} ."
    for a, t, p in itertools.product(ANIMALS, THINGS, PLACES)
]
PROMPT = "the cat sat on the mat and then the cat ran to the"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="autoencoding")
    add_sae_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args, parser)


def word_tokenizer(specials: bool = False):
    """A whitespace word-level tokenizer over the corpus' words ([CLS] … [SEP] if asked)."""
    words = sorted({w for t in TEXTS for w in t.split()})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    tk = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    kw = {}
    if specials:
        tk.post_processor = tokenizers.processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
        )
        kw = {"cls_token": "[CLS]", "sep_token": "[SEP]"}
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]", **kw
    )


def bert_folder(path, positions: int):
    """A random 2-block BERT (d = 16) with the word tokenizer ([CLS] … [SEP]) in ``path``."""
    tok = word_tokenizer(specials=True)
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        num_hidden_layers=2,
        hidden_size=D,
        num_attention_heads=2,
        intermediate_size=32,
        vocab_size=len(tok),
        max_position_embeddings=positions,
    )
    transformers.BertModel(cfg).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    """A 2-block GPT-2 (d = 16) trained to predict the toy corpus (CE ≈ 0.3 nats)."""
    from autoencoding.interp.models import Windows, pad_id

    tok = word_tokenizer()
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        n_layer=2, n_embd=D, n_head=2, n_positions=64, vocab_size=len(tok)
    )
    cfg.bos_token_id = cfg.eos_token_id = None
    lm = transformers.GPT2LMHeadModel(cfg)
    batches = list(Windows(tok, TEXTS, 30).batches(16, pad_id(tok)))
    opt = torch.optim.Adam(lm.parameters(), lr=1e-2)
    for _ in range(60):
        for b in batches:
            labels = b["input_ids"].masked_fill(~b["keep"], -100)
            loss = lm(
                input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=labels
            ).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    path = tmp_path_factory.mktemp("lm")
    lm.eval().save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "corpus.txt"
    path.write_text("\n\n".join(TEXTS))
    return path


@pytest.fixture(scope="module")
def store(lm_dir, corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("acts")
    args = ["--text", str(corpus), "--window", "30", "--dtype", "float32"]
    assert (
        run(["sae", "cache", "--model", str(lm_dir), "--hooks", HOOK, "--out", str(out), *args])
        == 0
    )
    return out / HOOK


def sae_module(kind: str) -> Autoencoder:
    latents, k = (2 * D, D) if kind == "exact" else (64, 2)
    over = {
        "latent_dim": latents,
        "bottleneck": {"name": "topk", "k": k},
        "encoder": {"name": "sae", "matmul": "float32"},
    }
    torch.manual_seed(1)
    m = Autoencoder(resolve("sae-topk", [D], overrides=over)).eval()
    if kind == "exact":
        eye = torch.eye(D)
        with torch.no_grad():
            m.decoder.weight.copy_(torch.cat([eye, -eye]))
            m.decoder.bias.zero_()
            m.encoder.weight.copy_(torch.cat([eye, -eye]))
            m.encoder.bias.zero_()
    return m


def save_sae(module: Autoencoder, path, lm_dir=None) -> str:
    info = {"store": {"model": str(lm_dir), "hook": HOOK}} if lm_dir else {}
    TrainedModel(module, Scaler.fit("none", np.zeros((1, D), np.float32)), info).save(path)
    return str(path)


def test_frequency_histogram_counts_every_firing_latent():
    from autoencoding.interp.evaluation import frequency_histogram

    freq = np.array([0, 0, 1e-3, 0.5, 1.0, 1 / 1000, 0.02])
    h = frequency_histogram(freq, n_tokens=1000, bins_per_decade=2)
    assert h["dead"] == 2 and h["latents"] == 7 and sum(h["counts"]) == 5
    assert h["log10_edges"][0] == -3 and h["log10_edges"][-1] == 0
    assert len(h["counts"]) == len(h["log10_edges"]) - 1 == 6
    assert h["counts"][0] == 2 and h["counts"][-1] == 2  # 1e-3 twice; 0.5 and 1.0


def test_sae_statistics_frequencies_match_the_metrics(store):
    from autoencoding.interp.store import ActivationStore
    from autoencoding.interp.train import evaluate_sae, sae_statistics

    s = ActivationStore.open(store)
    m = sae_module("random")
    metrics, freq = sae_statistics(m, s)
    assert metrics == evaluate_sae(m, s)
    z = m.bottleneck(m.encoder(torch.from_numpy(s.read()).float())).z
    torch.testing.assert_close(freq, (z != 0).double().mean(0))
    assert metrics["dead"] == pytest.approx(float((freq == 0).double().mean()))


@pytest.mark.parametrize("kind", ["exact", "random"])
def test_evaluate_writes_histogram_png_and_spliced_metrics(kind, tmp_path, store, corpus, capsys):
    run_dir = save_sae(sae_module(kind), tmp_path / kind)
    out = tmp_path / "eval"
    argv = ["sae", "evaluate", run_dir, str(store), "--out", str(out), "--text", str(corpus)]
    assert run([*argv, "--max-tokens", "400", "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out)
    ev = json.loads((out / "eval.json").read_text())
    assert ev == printed
    png = (out / "activation_frequency.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"

    h = ev["frequency_histogram"]
    assert h["latents"] == sae_module(kind).config.latent_dim
    assert h["dead"] == round(ev["dead"] * h["latents"])
    assert sum(h["counts"]) == h["latents"] - h["dead"]  # every firing latent is in a bin

    sp = ev["splice"]  # the host model and hook come from the store's manifest
    assert sp["hook"] == HOOK and sp["window"] == 30 and 0 < sp["tokens"] <= 400
    assert sp["ce_zero"] > sp["ce_clean"] + 1  # ablating the last block's output hurts
    if kind == "exact":  # x̂ = x: splicing changes nothing
        assert sp["loss_recovered"] == pytest.approx(1.0, abs=1e-5)
        assert sp["kl"] == pytest.approx(0.0, abs=1e-6)
        assert sp["ce_spliced"] == pytest.approx(sp["ce_clean"], abs=1e-5)
    else:  # 2 random directions lose part of the activation, and the loss shows it
        assert sp["ce_spliced"] > sp["ce_clean"] + 0.05 and sp["kl"] > 0.05
        assert sp["loss_recovered"] < 0.97


def test_evaluate_without_a_loadable_model_still_reports_the_histogram(tmp_path, capsys):
    x = np.random.default_rng(0).normal(size=(300, D)).astype(np.float32)
    s = ae.interp.store_from_array(x, tmp_path / "emb")  # no model recorded: no splice
    run_dir = save_sae(sae_module("random"), tmp_path / "r")
    assert run(["sae", "evaluate", run_dir, str(s.path)]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert "splice" not in ev and sum(ev["frequency_histogram"]["counts"]) > 0


def test_evaluate_on_an_encoder_reports_embedding_cosine(tmp_path, corpus, capsys):
    bert_dir = bert_folder(tmp_path / "bert", positions=16)  # shorter than --window 30
    acts = tmp_path / "acts"
    argv = ["--hooks", "blocks.0.resid_post", "--text", str(corpus), "--window", "14"]
    assert run(["sae", "cache", "--model", str(bert_dir), "--out", str(acts), *argv]) == 0
    capsys.readouterr()
    for kind in ("exact", "random"):
        run_dir = save_sae(sae_module(kind), tmp_path / kind)
        argv = ["sae", "evaluate", run_dir, str(acts / "blocks.0.resid_post"), "--window", "30"]
        assert run([*argv, "--text", str(corpus), "--max-tokens", "200", "--no-progress"]) == 0
        sp = json.loads(capsys.readouterr().out)["splice"]
        assert set(sp) == {"model", "hook", "tokens", "window", "embedding_cosine"}
        assert sp["window"] == 14  # 16 positions minus [CLS] and [SEP]
        if kind == "exact":
            assert sp["embedding_cosine"] == pytest.approx(1.0, abs=1e-5)
        else:
            assert sp["embedding_cosine"] < 0.999


def steer_json(argv: list[str], capsys) -> dict:
    capsys.readouterr()
    assert run(["sae", "steer", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_steer_add_zero_changes_nothing(tmp_path, lm_dir, capsys):
    run_dir = save_sae(sae_module("random"), tmp_path / "r", lm_dir)  # model, hook recorded
    r = steer_json([run_dir, "--features", "3=0,7=0", "--mode", "add", "--text", PROMPT], capsys)
    assert r["kind"] == "causal-lm" and r["kl"] == pytest.approx(0.0, abs=1e-7)
    assert [t["id"] for t in r["clean"]] == [t["id"] for t in r["steered"]]
    for t in r["clean"]:
        assert t["p"] == pytest.approx(t["p_steered"], abs=1e-6)
    assert r["clean"][0]["token"] in ("park", "river")  # the LM learned the corpus


def test_steer_add_promotes_the_token_of_its_direction(tmp_path, lm_dir, capsys):
    """A latent whose decoder row is the (centred) unembedding row of "sat", added at the
    last block's output, makes "sat" — impossible after PROMPT — the top prediction."""
    lm = transformers.AutoModelForCausalLM.from_pretrained(lm_dir)
    tok = transformers.AutoTokenizer.from_pretrained(lm_dir)
    target = tok.convert_tokens_to_ids("sat")
    w = lm.get_output_embeddings().weight.detach()[target]
    m = sae_module("random")
    with torch.no_grad():
        m.decoder.weight[7] = (w - w.mean()) / (w - w.mean()).norm()
        m.encoder.weight[7] = m.decoder.weight[7]  # a matched filter, as SAEs start out
    run_dir = save_sae(m, tmp_path / "r")
    text = tmp_path / "prompt.txt"
    text.write_text(PROMPT + "\n")
    argv = ["--model", str(lm_dir), "--hook", HOOK, "--mode", "add", "--text-file", str(text)]
    r = steer_json([run_dir, *argv, "--features", "7=20", "--top", "3"], capsys)
    assert len(r["clean"]) == len(r["steered"]) == 3 and r["last_token"] == "the"
    top = r["steered"][0]
    assert top["token"] == "sat" and top["p"] > 0.5 and top["p_clean"] < 0.01
    assert r["kl"] > 1
    (lat,) = r["latents"]
    assert lat["feature"] == 7 and lat["steered"] > lat["clean"]  # the SAE sees the push


def test_steer_clamp_to_zero_ablates_the_latent(tmp_path, lm_dir, store, capsys):
    """With the exact SAE, clamping latent j (the positive part of coordinate j) to 0 leaves
    that coordinate ≤ 0, so the SAE reads latent j as exactly 0 after the steering."""
    from autoencoding.interp.store import ActivationStore

    acts = torch.from_numpy(ActivationStore.open(store).read())
    j = int(acts.mean(0).argmax())  # a coordinate that is mostly positive
    run_dir = save_sae(sae_module("exact"), tmp_path / "x", lm_dir)
    r = steer_json([run_dir, "--features", f"{j}=0", "--text", PROMPT], capsys)
    (lat,) = r["latents"]
    assert r["mode"] == "clamp" and lat["clean"] > 0 and lat["steered"] == 0
    assert r["kl"] > 0


def test_steer_on_an_encoder_reports_the_embedding_cosine(tmp_path, capsys):
    bert_dir = bert_folder(tmp_path / "bert", positions=32)
    run_dir = save_sae(sae_module("random"), tmp_path / "r")
    base = [run_dir, "--model", str(bert_dir), "--hook", "blocks.0.resid_post", "--mode", "add"]
    same = steer_json([*base, "--features", "5=0", "--text", PROMPT], capsys)
    assert same["kind"] == "encoder" and same["embedding_cosine"] == pytest.approx(1, abs=1e-6)
    moved = steer_json([*base, "--features", "5=30", "--text", PROMPT], capsys)
    assert moved["embedding_cosine"] < 0.99
    capsys.readouterr()
    assert run(["sae", "steer", *base, "--features", "5=30", "--text", PROMPT]) == 0
    assert "cosine(clean, steered" in capsys.readouterr().out


def test_steer_prints_a_readable_table(tmp_path, lm_dir, capsys):
    run_dir = save_sae(sae_module("random"), tmp_path / "r", lm_dir)
    capsys.readouterr()
    assert run(["sae", "steer", run_dir, "--features", "1=4", "--text", PROMPT, "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert "next token after 'the'" in text and "KL(clean || steered)" in text
    assert "latent 1: mean" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--features", "3:5"], "expected comma-separated INDEX=VALUE pairs"),
        (["--features", "3=1,3=2"], "latent 3 is given twice"),
        (["--features", "64=1"], "features [64] out of range: the SAE has 64 latents"),
        (["--features", "1=1", "--hook", "blocks.7.mlp_out"], "valid hook points: blocks.0"),
        (["--features", "1=1", "--text", "  "], "the text to steer on is empty"),
        (["--features", "1=1", "--model", "no/such/model"], "expected a local model folder"),
    ],
)
def test_steer_errors_exit_2_with_one_line(extra, message, tmp_path, lm_dir, capsys):
    run_dir = save_sae(sae_module("random"), tmp_path / "r", lm_dir)
    argv = ["sae", "steer", run_dir, "--text", PROMPT, *extra]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after transformers' loading bar
    assert err.startswith("autoencoding sae: error: ") and message in err


def test_evaluate_errors_exit_2_with_one_line(tmp_path, store, capsys):
    run_dir = save_sae(sae_module("random"), tmp_path / "r")
    base = ["sae", "evaluate", run_dir, str(store), "--no-progress"]
    (tmp_path / "empty").mkdir()
    cases = [
        (["--hook", "blocks.5.resid_post"], "unknown hook point 'blocks.5.resid_post'"),
        (["--model", str(tmp_path / "nope")], "expected a local model folder"),
        (["--model", str(tmp_path / "empty")], "no *.safetensors weights in"),
        (["--max-tokens", "0"], "--max-tokens must be >= 1"),
    ]
    for extra, message in cases:
        capsys.readouterr()
        assert main([*base, *extra]) == 2, extra
        err = capsys.readouterr().err.splitlines()[-1]
        assert err.startswith("autoencoding sae: error: ") and message in err, err
