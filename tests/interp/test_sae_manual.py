"""The hand-written TopK SAE step computes what autograd computes, AuxK included."""

from __future__ import annotations

import copy

import pytest
import torch

from autoencoding import Autoencoder, resolve
from autoencoding.interp import train_sae
from autoencoding.train.fast import FlatParameters, choose
from autoencoding.train.fast.sae_topk import TopKSAEStep

D_IN, LATENTS, K = 12, 48, 4


def _model(matmul: str, recipe: str = "sae-topk") -> Autoencoder:
    bottleneck = {"name": "topk", "k": K, "dead_tokens": 1000}
    if recipe != "sae-topk":
        bottleneck = {"name": recipe.removeprefix("sae-"), "k": K}
    over = {
        "latent_dim": LATENTS,
        "bottleneck": bottleneck,
        "encoder": {"name": "sae", "matmul": matmul},
    }
    torch.manual_seed(0)
    return Autoencoder(resolve(recipe, [D_IN], overrides=over)).train()


def _data(n=64) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.randn(n, D_IN, generator=g) @ torch.randn(D_IN, D_IN, generator=g) + 2.0


@pytest.mark.parametrize("matmul, tol", [("float32", 1e-4), ("bfloat16", 3e-2)])
@pytest.mark.parametrize("n_dead", [0, 3, 24])  # none; fewer than k_aux = 6 (all used); more
def test_manual_topk_step_matches_autograd(matmul, tol, n_dead):
    x = _data()
    ref = _model(matmul)
    ref.init_from_data(x)
    with torch.no_grad():  # move the decoder rows off unit norm: the step renormalises them
        ref.decoder.weight.mul_(1.5)
    # latents that have not fired for longer than the window are dead: AuxK is on. Take
    # those least likely to fire in this batch (which would revive them)
    with torch.no_grad():
        quiet = ref.encoder(x).float().amax(0).argsort()[:n_dead]
    ref.bottleneck.since_fired[quiet] = 10**6
    man = copy.deepcopy(ref)
    assert choose(man) is TopKSAEStep

    out = ref(x, step=4)
    out.loss.backward()
    flat = FlatParameters(list(man.parameters()))
    got = TopKSAEStep(man)(x, 4)
    assert ("auxk" in got.terms) == (n_dead > 0) == ("auxk" in out.terms)
    for k, v in out.metrics.items():
        torch.testing.assert_close(got.metrics[k], v, rtol=tol, atol=tol * 1e-2, msg=k)
    torch.testing.assert_close(got.loss, out.loss.detach(), rtol=tol, atol=0)
    for (name, p), q in zip(ref.named_parameters(), man.parameters(), strict=True):
        assert p.grad is not None and p.grad.abs().sum() > 0, name
        err = (q.grad - p.grad).norm() / p.grad.norm()
        assert err < tol, f"{name}: relative gradient error {float(err):.2e}"
    torch.testing.assert_close(man.bottleneck.since_fired, ref.bottleneck.since_fired)
    flat.release()


def test_other_sparse_bottlenecks_take_autograd():
    assert TopKSAEStep.why_not(_model("float32")) is None
    for recipe in ("sae-batchtopk", "sae-matryoshka"):
        model = _model("float32", recipe)
        assert "is not TopK" in TopKSAEStep.why_not(model) and choose(model) is None


def test_train_sae_same_with_and_without_manual_gradients():
    x = _data(2048)
    kw = dict(
        latents=LATENTS,
        k=K,
        seed=0,
        model={
            "encoder": {"name": "sae", "matmul": "float32"},
            "decoder": {"name": "sae", "matmul": "float32"},
        },
    )
    tr = {"batch_size": 256, "epochs": 2, "progress": False}
    fast = train_sae(x, "sae-topk", train={**tr, "manual_gradients": True}, **kw)
    slow = train_sae(x, "sae-topk", train={**tr, "manual_gradients": False}, **kw)
    for hf, hs in zip(fast.history, slow.history, strict=True):
        assert hf["train/fvu"] == pytest.approx(hs["train/fvu"], rel=1e-3)
    sf, ss = fast.module.state_dict(), slow.module.state_dict()
    for k in sf:
        torch.testing.assert_close(sf[k], ss[k], rtol=1e-3, atol=1e-4, msg=k)
