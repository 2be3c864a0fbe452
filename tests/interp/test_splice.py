"""Splicing an SAE into the host model, and steering with its features (tiny GPT-2)."""

from __future__ import annotations

import pytest
import torch

import autoencoding as ae

transformers = pytest.importorskip("transformers")

from autoencoding.interp.models import run_with_hooks  # noqa: E402
from autoencoding.interp.splice import patch, spliced_metrics, steer  # noqa: E402
from autoencoding.model import Autoencoder  # noqa: E402
from autoencoding.recipes import resolve  # noqa: E402

HOOK = "blocks.0.resid_post"


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=2, n_embd=16, n_head=2, n_positions=32, vocab_size=50)
    cfg.bos_token_id = cfg.eos_token_id = None
    return transformers.GPT2LMHeadModel(cfg).eval()


@pytest.fixture(scope="module")
def ids():
    return torch.randint(0, 50, (4, 12), generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def sae(lm, ids):
    acts = run_with_hooks(lm, [HOOK], input_ids=ids)[HOOK].reshape(-1, 16)
    over = {
        "latent_dim": 64,
        "bottleneck": {"name": "topk", "k": 8},
        "encoder": {"name": "sae", "matmul": "float32"},
    }
    torch.manual_seed(0)
    m = Autoencoder(resolve("sae-topk", [16], overrides=over))
    m.init_from_data(acts)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for step in range(150):
        out = m(acts, step=step)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    return m.eval()


def test_identity_patch_changes_nothing_and_zero_patch_does(lm, ids):
    clean = lm(input_ids=ids).logits
    with patch(lm, HOOK, lambda h: h):
        torch.testing.assert_close(lm(input_ids=ids).logits, clean)
    with patch(lm, HOOK, torch.zeros_like):
        assert not torch.allclose(lm(input_ids=ids).logits, clean)
    torch.testing.assert_close(lm(input_ids=ids).logits, clean)  # the hook is gone


def test_zero_steering_leaves_the_output_unchanged(lm, ids, sae):
    clean = lm(input_ids=ids).logits
    with steer(lm, HOOK, sae, {3: 0.0}, mode="add"):
        torch.testing.assert_close(lm(input_ids=ids).logits, clean)


def test_clamping_a_feature_moves_the_output_its_way(lm, ids, sae):
    """Clamping latent i high at the last block's residual raises the logits of the tokens
    its decoder direction promotes through the unembedding."""
    hook = "blocks.1.resid_post"
    acts = run_with_hooks(lm, [hook], input_ids=ids)[hook].reshape(-1, 16)
    over = {"latent_dim": 32, "bottleneck": {"name": "topk", "k": 4}}
    m = Autoencoder(resolve("sae-topk", [16], overrides=over))
    m.init_from_data(acts)
    m.eval()
    i = 5
    d = (m.decoder.directions()[i] / m.decoder.input_scale).detach()
    # the promoted token, through the final LayerNorm and unembedding (approximately linear)
    promoted = int((lm.lm_head.weight @ d).argmax())
    clean = lm(input_ids=ids).logits.softmax(-1)[..., promoted].mean()
    with steer(lm, hook, m, {i: 50.0}, mode="clamp"):
        steered = lm(input_ids=ids).logits.softmax(-1)[..., promoted].mean()
    assert steered > clean


def test_spliced_metrics_for_a_causal_lm(lm, ids, sae):
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    r = spliced_metrics(lm, sae, HOOK, [batch])
    assert r["ce_zero"] != r["ce_clean"] and r["kl"] >= 0
    assert r["loss_recovered"] > 0.5  # a trained SAE recovers most of the ablated loss


def test_steer_rejects_bad_features(lm, sae):
    with pytest.raises(ae.AutoencodingError, match="out of range: the SAE has 64 latents"):
        with steer(lm, HOOK, sae, {64: 1.0}):
            pass
    with pytest.raises(ae.AutoencodingError, match="steer mode must be"):
        with steer(lm, HOOK, sae, {1: 1.0}, mode="boost"):
            pass


def test_spliced_metrics_for_an_encoder():
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        num_hidden_layers=2,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        vocab_size=50,
        max_position_embeddings=32,
    )
    bert = transformers.BertModel(cfg).eval()
    ids = torch.randint(0, 50, (3, 10), generator=torch.Generator().manual_seed(2))
    hook = "blocks.0.attn_out"
    acts = run_with_hooks(bert, [hook], input_ids=ids)[hook].reshape(-1, 16)
    over = {"latent_dim": 32, "bottleneck": {"name": "topk", "k": 8}}
    m = Autoencoder(resolve("sae-topk", [16], overrides=over))
    m.init_from_data(acts)
    m.eval()
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    r = spliced_metrics(bert, m, hook, [batch])
    assert set(r) == {"embedding_cosine"} and -1 <= r["embedding_cosine"] < 1
    with patch(bert, hook, lambda h: h):
        same = spliced_metrics(bert, m, hook, [batch])  # nested identity patch: still a splice
    assert same["embedding_cosine"] == pytest.approx(r["embedding_cosine"])
