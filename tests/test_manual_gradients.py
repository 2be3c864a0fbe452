"""The fast step ``mlp`` computes what autograd computes, and trains the same model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding import Autoencoder, resolve
from autoencoding.model import build
from autoencoding.parts.base import RECONSTRUCTIONS
from autoencoding.train.fast import FlatParameters, choose
from autoencoding.train.fast.mlp import LOSSES, MLPStep
from autoencoding.train.trainer import _flushing_denormals

CASES = {
    "vae-bernoulli": ("vae", (0.0, 1.0), None),
    "vae-gaussian-learned": ("vae", (-3.0, 3.0), None),
    "vae-gaussian-fixed-tanh": (
        "vae",
        (-3.0, 3.0),
        {
            "reconstruction": {"name": "gaussian", "variance": "fixed", "sigma": 0.5},
            "encoder": {"name": "mlp", "hidden": [32, 16], "activation": "tanh"},
        },
    ),
    "beta-vae-free-bits-sigmoid": (
        "beta-vae",
        (0.0, 1.0),
        {
            "bottleneck": {"name": "gaussian", "beta": 4.0, "free_bits": 0.5, "warmup_steps": 10},
            "encoder": {"name": "mlp", "activation": "sigmoid"},
        },
    ),
    "ae-mse": ("ae", (-3.0, 3.0), None),
    "dae-gaussian": ("dae", (-3.0, 3.0), None),
    "dae-masking": ("dae-masking", (0.0, 1.0), None),
    "ae-remask-mask-input": (  # the imputer's MLP: visibility flags from the record
        "ae",
        (-3.0, 3.0),
        {
            "encoder": {"name": "mlp", "hidden": [32, 16], "mask_input": True},
            "corruption": {"name": "remask", "rate": 0.3},
        },
    ),
    "rae": ("rae", (0.0, 1.0), None),
    "rae-mse": ("rae", (-3.0, 3.0), {"bottleneck": {"name": "rae", "weight": 0.5}}),
    "iwae-bernoulli": ("iwae", (0.0, 1.0), None),
    "iwae-gaussian-learned-k3": (
        "iwae",
        (-3.0, 3.0),
        {"bottleneck": {"name": "iwae", "samples": 3, "warmup_steps": 10}},
    ),
    "iwae-k1": ("iwae", (0.0, 1.0), {"bottleneck": {"name": "iwae", "samples": 1}}),
    "vamp": ("vamp", (0.0, 1.0), {"bottleneck": {"name": "vamp", "components": 5}}),
    "vamp-gaussian-mask-input": (
        "vamp",
        (-3.0, 3.0),
        {
            "bottleneck": {"name": "vamp", "components": 7, "warmup_steps": 10},
            "encoder": {"name": "mlp", "hidden": [32, 16], "mask_input": True},
        },
    ),
}


def _grads(model: Autoencoder) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_manual_step_matches_autograd(case):
    recipe, data_range, overrides = CASES[case]
    torch.manual_seed(0)
    model = Autoencoder(resolve(recipe, [24], data_range, overrides)).train()
    assert choose(model) is MLPStep
    lo, hi = data_range
    x = lo + (hi - lo) * torch.rand(32, 24, generator=torch.Generator().manual_seed(1))

    torch.manual_seed(7)
    ref = model(x, step=3)
    ref.loss.backward()
    expected = _grads(model)
    flat = FlatParameters(list(model.parameters()))
    torch.manual_seed(7)  # the same noise draws (corruption, reparameterization)
    got = MLPStep(model)(x, 3)
    grads = _grads(model)
    flat.release()

    torch.testing.assert_close(got.loss, ref.loss.detach(), rtol=1e-5, atol=1e-5)
    assert got.terms.keys() == ref.terms.keys()
    for k in ref.terms:
        torch.testing.assert_close(got.terms[k], ref.terms[k].detach(), rtol=1e-5, atol=1e-5)
    for (name, _), g, e in zip(model.named_parameters(), grads, expected, strict=True):
        assert e.abs().sum() > 0, name  # the comparison is not vacuous
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("name", ["mse", "bernoulli", "gaussian"])
def test_manual_loss_counts_only_the_entries_in_where(name):
    torch.manual_seed(0)
    spec = {"name": name, "variance": "learned"} if name == "gaussian" else name
    rec = build(RECONSTRUCTIONS, spec, n_features=10)
    out = torch.randn(6, 10, requires_grad=True)
    x = torch.rand(6, 10)
    where = torch.rand(6, 10) > 0.4
    where[0] = False  # a row with nothing to count
    loss = rec.per_sample(out.unsqueeze(1), x, where).mean()  # (B, params, *sample)
    loss.backward()
    params = list(rec.parameters())
    for p in params:
        expected_p = p.grad.clone()
        p.grad = torch.zeros_like(p)
    with torch.no_grad():
        per_row, grad_of = LOSSES[type(rec)][1](rec, out.detach(), x, where)
        got, grad_out = per_row.mean(), grad_of(1.0 / len(out))
    torch.testing.assert_close(got, loss.detach())
    torch.testing.assert_close(grad_out, out.grad)
    for p in params:
        torch.testing.assert_close(p.grad, expected_p)


def test_parts_without_manual_gradients_take_autograd():
    torch.manual_seed(0)
    assert "regularizer" in MLPStep.why_not(Autoencoder(resolve("cae", [24], (0.0, 1.0))))
    assert "bottleneck" in MLPStep.why_not(Autoencoder(resolve("lorae", [24], (0.0, 1.0))))
    nets = {"encoder": {"name": "conv2d"}, "decoder": {"name": "conv2d"}}
    conv = Autoencoder(resolve("ae", [1, 8, 8], (0.0, 1.0), nets))
    assert "encoder" in MLPStep.why_not(conv) and choose(conv) is None


@pytest.mark.filterwarnings("ignore::autoencoding.api.PosteriorCollapseWarning")  # 3 short epochs
@pytest.mark.parametrize("recipe", ["vae", "rae", "iwae", "vamp"])
def test_fit_is_the_same_with_and_without_manual_gradients(recipe):
    rng = np.random.default_rng(0)
    x = 1 / (1 + np.exp(-rng.normal(size=(300, 3)) @ rng.normal(size=(3, 16))))
    x = x.astype(np.float32)  # data in [0, 1] with 3 latent factors
    kw = dict(
        seed=0,
        scaling="none",
        model={"latent_dim": 4},
        train={
            "epochs": 3,
            "batch_size": 32,
            "val_fraction": 0,
            "progress": False,
            "grad_clip": 5.0,
        },
    )
    fast = ae.fit(recipe, x, **{**kw, "train": {**kw["train"], "manual_gradients": True}})
    slow = ae.fit(recipe, x, **{**kw, "train": {**kw["train"], "manual_gradients": False}})
    for (k, a), b in zip(
        fast.module.state_dict().items(), slow.module.state_dict().values(), strict=True
    ):
        if not k.startswith("samplers."):  # EM after training amplifies rounding (vamp)
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4, msg=k)
        assert a.untyped_storage().size() == a.numel() * a.element_size(), k  # own storage
    for hf, hs in zip(fast.history, slow.history, strict=True):
        assert hf["train/loss"] == pytest.approx(hs["train/loss"], rel=1e-4)
    assert not _flushing_denormals()  # the run restored the caller's floating-point mode


def test_decoder_l2_kernel_without_a_flat_buffer():
    """Parameters outside one flat buffer take the per-tensor path, with the same result."""
    from autoencoding.train.fast.mlp import REGULARIZERS

    torch.manual_seed(0)
    model = Autoencoder(resolve("rae", [24], (0.0, 1.0)))
    reg = model.regularizers[0]
    params = list(model.decoder.parameters())
    expected = reg(model.encoder, torch.zeros(1, 24))["decoder_l2"]
    expected.backward()
    want = [p.grad.clone() for p in params]
    for p in params:
        p.grad = torch.zeros_like(p)
    with torch.no_grad():
        got = REGULARIZERS[type(reg)][1](reg)["decoder_l2"]
    torch.testing.assert_close(got, expected.detach())
    for p, w in zip(params, want, strict=True):
        torch.testing.assert_close(p.grad, w)
