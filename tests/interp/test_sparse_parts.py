"""Sparse-autoencoder parts: sparse ops, the SAE net pair, the sparse bottlenecks."""

from __future__ import annotations

import pytest
import torch

import autoencoding as ae
from autoencoding.model import Autoencoder
from autoencoding.parts import sparse_ops
from autoencoding.parts.sparse_ops import (
    codes_from_mask,
    gather_codes,
    geometric_median,
    sparse_decode,
    sparse_grad_affine,
)
from autoencoding.recipes import resolve

SAE_RECIPES = ["sae-topk", "sae-batchtopk", "sae-relu", "sae-jumprelu", "sae-matryoshka"]


def build(recipe: str, d: int = 8, latents: int = 32, k: int = 4, **bn) -> Autoencoder:
    name = resolve(recipe, [d]).bottleneck["name"]
    if name in ("topk", "batchtopk", "matryoshka"):
        bn.setdefault("k", k)
    cfg = resolve(
        recipe, [d], overrides={"latent_dim": latents, "bottleneck": {"name": name, **bn}}
    )
    torch.manual_seed(0)
    return Autoencoder(cfg)


def data(n: int = 256, d: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) * 2 + 3


# -- sparse ops ------------------------------------------------------------------------------
def test_sparse_grad_affine_matches_dense_on_both_paths(monkeypatch):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 5, dtype=torch.float64, generator=g, requires_grad=True)
    c = torch.randn(5, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(40, 5, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(40, dtype=torch.float64, generator=g, requires_grad=True)

    def topk_sum(fn):
        y = fn()
        return y.topk(2, dim=1).values  # output gradient non-zero at 2 of 40 latents

    for density in (0.0, 1.0):  # force the dense path, then the sparse one
        monkeypatch.setattr(sparse_ops, "SPARSE_GRAD_DENSITY", 1.0 - density)
        assert torch.autograd.gradcheck(
            lambda x, c, w, b: topk_sum(lambda: sparse_grad_affine(x, w, b, c)), (x, c, w, b)
        )
    out = sparse_grad_affine(x, w, b, c)
    torch.testing.assert_close(out, (x - c) @ w.T + b)


def test_sparse_decode_equals_dense_product_and_gradients():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(50, 6, dtype=torch.float64, generator=g, requires_grad=True)
    codes = torch.tensor([[3, 7, -1], [0, 0, 49]])
    vals = torch.tensor([[1.5, -2.0, 0.0], [0.5, 0.25, 3.0]], dtype=torch.float64)
    vals.requires_grad_(True)
    dense = torch.zeros(2, 50, dtype=torch.float64)
    dense = dense.index_put(
        (torch.tensor([0, 0, 1, 1]), torch.tensor([3, 7, 0, 49])),
        torch.tensor([1.5, -2.0, 0.75, 3.0], dtype=torch.float64),
    )
    torch.testing.assert_close(sparse_decode(codes, vals, w), dense @ w)
    assert torch.autograd.gradcheck(lambda v, w: sparse_decode(codes, v, w), (vals, w))


def test_codes_from_mask_and_gather():
    mask = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 0]], dtype=torch.bool)
    codes = codes_from_mask(mask)
    assert codes.tolist() == [[0, 2, -1], [-1, -1, -1], [0, 1, 2]]
    dense = torch.arange(12.0).view(3, 4)
    assert gather_codes(dense, codes).tolist() == [[0, 2, 0], [0, 0, 0], [8, 9, 10]]


def test_geometric_median_is_robust_to_outliers():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, generator=g) * 0.1
    x[:20] += 1000.0  # 10% outliers drag the mean, not the median
    med = geometric_median(x)
    assert med.norm() < 0.2 < x.mean(0).norm()


# -- the SAE net pair --------------------------------------------------------------------------
def test_sae_init_from_data_and_tied_init():
    m = build("sae-topk")
    x = data()
    m.init_from_data(x)
    dec, enc = m.decoder, m.encoder
    xn = x * dec.input_scale
    assert abs(float(xn.pow(2).sum(1).mean()) - 8) < 1e-3  # E‖x_n‖² = d
    torch.testing.assert_close(dec.bias.double(), geometric_median(xn), atol=1e-4, rtol=0)
    scale = m.config.encoder["encoder_init_scale"]  # sae-topk: 0.5
    torch.testing.assert_close(enc.weight, scale * dec.directions())  # W_enc ∝ W_decᵀ at init
    torch.testing.assert_close(dec.directions().norm(dim=1), torch.ones(32))
    # the encoder shares the decoder's bias: registered once, saved once
    names = [n for n, _ in m.named_parameters()]
    assert names.count("decoder.bias") == 1 and not any(n.startswith("encoder._") for n in names)


def test_decoder_rows_stay_unit_norm_under_training():
    m = build("sae-topk")
    x = data()
    m.init_from_data(x)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    for step in range(5):
        out = m(x, step=step)
        opt.zero_grad()
        out.loss.backward()
        # the gradient is orthogonal to each (unit) row: no component changes the norm
        radial = (m.decoder.weight.grad * m.decoder.weight).sum(1)
        assert radial.abs().max() < 1e-4
        opt.step()
    m(x)  # the next forward renormalises the stored weights in place
    torch.testing.assert_close(m.decoder.weight.norm(dim=1), torch.ones(32))


def test_sae_encoder_needs_sae_decoder():
    over = {"latent_dim": 32, "bottleneck": {"name": "topk", "k": 4}, "decoder": {"name": "mlp"}}
    cfg = resolve("sae-topk", [8], overrides=over)
    with pytest.raises(ae.AutoencodingError, match="encoder 'sae' needs decoder 'sae'"):
        Autoencoder(cfg)


def test_k_must_be_below_latents():
    with pytest.raises(ae.AutoencodingError, match="k = 32 must be smaller than the number"):
        build("sae-topk", latents=32, k=32)


# -- bottlenecks ------------------------------------------------------------------------------
@pytest.mark.parametrize("recipe", SAE_RECIPES)
def test_every_sae_recipe_trains_and_reports(recipe):
    m = build(recipe)
    x = data()
    m.init_from_data(x)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    first = None
    for step in range(40):
        out = m(x, step=step)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        first = first if first is not None else float(out.metrics["fvu"])
    for key in ("l0", "dead", "fvu", "dead_window"):
        assert key in out.metrics
    assert float(out.metrics["fvu"]) < first
    m.eval()
    rec = m.reconstruct(x)
    torch.testing.assert_close(rec, m.decode(m.encode(x)), atol=1e-5, rtol=1e-5)


def test_topk_codes_values_and_dense_latents_agree():
    m = build("sae-topk", k=4)
    x = data()
    m.init_from_data(x)
    m.eval()
    b = m.bottleneck(m.encoder(x))
    pre = m.encoder(x)
    assert b.codes.shape == (256, 4)
    # values are float32 even where the encoder hands TopK bf16 pre-activations
    assert b.values.dtype == torch.float32 and b.z.dtype == torch.float32
    torch.testing.assert_close(b.values, torch.relu(pre.gather(1, b.codes)).float())
    assert ((b.z != 0).sum(1) <= 4).all()
    torch.testing.assert_close(b.z.gather(1, b.codes), b.values)
    assert torch.equal(m.encode(x, codes=True), b.codes)


@pytest.mark.parametrize("recipe", ["sae-topk", "sae-batchtopk", "sae-jumprelu", "sae-matryoshka"])
def test_sparse_decoding_gives_the_dense_gradients(recipe, monkeypatch):
    """The sparse path (codes + values, embedding_bag, sparse COO gradients into the encoder)
    is an optimisation, not a new model: every parameter gets the same gradient as with
    dense decoding and dense gradients (JumpReLU's threshold too,
    which needs the near-threshold latents in the codes)."""
    from autoencoding.parts import sparse as sparse_mod

    x = data(64)
    grads = []
    for sparse in (True, False):
        # (JumpReLU: θ = 1 leaves latents unfired; a long dead window keeps AuxK, which only
        # decodes sparsely, out of this comparison)
        jump = {"threshold_init": 1.0, "dead_tokens": 10**9}
        m = build(recipe, **jump) if recipe == "sae-jumprelu" else build(recipe)
        m.init_from_data(x)
        if not sparse:
            monkeypatch.setattr(type(m.decoder), "decodes_sparse", False)
            # and the plain dense gather backward instead of the sparse COO gradient
            monkeypatch.setattr(sparse_mod, "sparse_gather", gather_codes)
        out = m(x, step=0)
        out.loss.backward()
        grads.append({n: p.grad.clone() for n, p in m.named_parameters()})
        monkeypatch.undo()
    assert grads[0].keys() == grads[1].keys()
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], atol=1e-5, rtol=1e-4, msg=n)


def test_dead_window_is_counted_in_tokens_and_auxk_revives():
    m = build("sae-topk", k=2, dead_tokens=350)
    x = data(100)
    m.init_from_data(x)
    with torch.no_grad():
        # latents 0-3 get tiny pre-activations: never in the top 2, dead after 350 tokens
        m.encoder.weight[:4] *= 1e-4
    for step in range(3):
        out = m(x, step=step)
        assert "auxk" not in out.terms  # 100, 200, 300 tokens: not yet at the window
    assert int(m.bottleneck.since_fired[0]) == 300
    out = m(x, step=3)
    assert "auxk" in out.terms and float(out.metrics["dead"]) >= 4 / 32
    out.loss.backward()
    # AuxK hands the dead latents' encoder rows a gradient the main loss never would
    assert m.encoder.weight.grad[:4].abs().sum() > 0
    # a window of 10M tokens is never reached here: no AuxK, no dead latents
    m2 = build("sae-topk", k=2, dead_tokens=10_000_000)
    m2.init_from_data(x)
    assert all("auxk" not in m2(x, step=s).terms for s in range(4))


def test_jumprelu_takes_auxk_when_asked():
    x = data(100)
    for alpha in (0.0, 1.0):
        m = build("sae-jumprelu", dead_tokens=50, auxk_alpha=alpha)
        m.init_from_data(x)
        with torch.no_grad():  # latents 0-3 sit far below their threshold: they never fire
            m.bottleneck.threshold_param[:4] = 1e3
        m(x, step=0)  # 100 tokens > the 50-token window: latents 0-3 are dead now
        out = m(x, step=1)
        assert ("auxk" in out.terms) == (alpha > 0)
        out.loss.backward()
        revived = m.encoder.weight.grad[:4].abs().sum()
        assert (revived > 0) == (alpha > 0)  # only AuxK reaches the dead latents' rows


def test_adaptive_dead_window():
    m = build("sae-topk", latents=32, k=4)
    m.bottleneck.tokens_seen.fill_(240_000)
    assert m.bottleneck.dead_window() == 1000  # outside the trainer: 1/240 of what was seen
    m.bottleneck.tokens_seen.fill_(10**10)
    assert m.bottleneck.dead_window() == 10_000_000


def test_batchtopk_keeps_batch_k_on_average_and_thresholds_at_inference():
    m = build("sae-batchtopk", k=4)
    m.encoder.cfg.matmul = "float32"  # bfloat16 rounding could tie values at the threshold
    x = data()
    m.init_from_data(x)
    out = m(x, step=0)
    assert int((out.bottleneck.z != 0).sum()) == 4 * 256
    assert float(m.bottleneck.threshold) > 0
    m.eval()
    # at inference a row's code does not depend on the rest of its batch
    torch.testing.assert_close(m.encode(x[:5]), m.encode(x)[:5])


def test_matryoshka_prefix_terms_match_dense_prefix_decoding():
    m = build("sae-matryoshka", latents=32, k=4, prefixes=[4, 16])
    x = data(64)
    m.init_from_data(x)
    m.eval()
    out = m(x)
    z = out.bottleneck.z
    from autoencoding.parts.sae_nets import total_variance

    tv = total_variance(x) * len(x)
    expect = 0.0
    for p in (4, 16):
        zp = z.clone()
        zp[:, p:] = 0
        expect += float((m.decoder(zp) - x).pow(2).sum().detach() / tv)
    assert abs(float(out.terms["matryoshka"].detach()) - expect) < 1e-4


def test_relu_l1_and_jumprelu_l0_trade_sparsity():
    x = data(256, d=8)

    def l0_after(recipe, **bn):
        m = build(recipe, **bn)
        m.init_from_data(x)
        opt = torch.optim.Adam(m.parameters(), lr=1e-2)
        for step in range(60):
            out = m(x, step=step)
            opt.zero_grad()
            out.loss.backward()
            opt.step()
        return float(out.metrics["l0"])

    assert l0_after("sae-relu", l1=5.0) < l0_after("sae-relu", l1=0.0)
    assert l0_after("sae-jumprelu", l0=0.4) < l0_after("sae-jumprelu", l0=0.0)


def test_jumprelu_defaults_recover_toy_features_where_the_papers_settings_do_not():
    """The defaults (ε = 0.05, AuxK on, λ as a share of d) against the paper's ε = 1e-3 with
    no AuxK and λ/d = 0.01: with those, θ outruns the slower latents' encoder rows, which
    die, and the survivors merge features (claims/sae_variants.py has the full-size toy)."""
    from autoencoding.interp import ToySuperposition, mmcs, train_sae

    toy = ToySuperposition(d=16, n_features=64, p=0.05, seed=0)
    x = toy.data(40_000, seed=1)

    def score(**bn):
        sae = train_sae(
            x,
            "sae-jumprelu",
            latents=64,
            seed=0,
            model={"bottleneck": {"name": "jumprelu", **bn}},
            train={"batch_size": 256, "epochs": 3, "progress": False},
        )
        return mmcs(toy.features, sae.module.decoder.directions().detach())

    ours, papers = score(), score(bandwidth=1e-3, auxk_alpha=0.0, l0=0.16)
    assert ours > 0.85 and ours > papers + 0.1, (ours, papers)


def test_sae_fit_save_load_round_trip(tmp_path):
    x = data(300).numpy()
    model = ae.fit(
        "sae-topk",
        x,
        model={"latent_dim": 32, "bottleneck": {"name": "topk", "k": 4}},
        train={"epochs": 2, "batch_size": 64, "progress": False},
        scaling="none",
    )
    model.save(tmp_path / "sae")
    back = ae.load(tmp_path / "sae")
    torch.testing.assert_close(
        torch.as_tensor(back.reconstruct(x[:10])), torch.as_tensor(model.reconstruct(x[:10]))
    )
    assert back.module.bottleneck.since_fired.shape == (32,)
    assert float(back.module.decoder.input_scale) == float(model.module.decoder.input_scale)


def test_dead_window_follows_the_run_length_under_the_trainer():
    from autoencoding.train import TrainConfig, Trainer

    m = build("sae-topk", latents=32, k=2)
    x = data(1000)
    m.init_from_data(x)
    Trainer(m, TrainConfig(epochs=3, batch_size=100, progress=False, val_fraction=0.0)).fit(x)
    # 30 steps × 100 tokens: 1/240 of the run is 12 tokens, floored at one batch
    assert m.bottleneck.dead_window() == 100
    m2 = build("sae-topk", latents=32, k=16)
    m2.init_from_data(x)
    cfg = TrainConfig(epochs=30, batch_size=100, progress=False, val_fraction=0.0)
    Trainer(m2, cfg).fit(x)
    assert m2.bottleneck.dead_window() == 300 * 100 // 240  # 1/240 of the run, above a batch


def test_sae_lr_rule():
    from autoencoding.recipes.sae import sae_lr

    # the two measured optima the rule is fitted to (protocol SAE and the toy)
    assert 1.0e-2 < sae_lr(3072, 241) < 1.2e-2
    assert 1.2e-2 < sae_lr(512, 1953) < 1.4e-2
    assert sae_lr(2**14, 100_000) < sae_lr(2**14, 1000)  # long runs anneal towards Gao et al.
    assert 2e-4 < sae_lr(2**14, 100_000) < 8e-4


def test_bfloat16_encoder_product_keeps_float32_values_and_gradients():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 16, generator=g)
    w = torch.randn(48, 16, generator=g, requires_grad=True)
    b = torch.zeros(48, requires_grad=True)
    low = sparse_grad_affine(x, w, b, matmul_dtype=torch.bfloat16)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, x @ w.T + b, atol=0.05, rtol=0.02)
    (gw_low,) = torch.autograd.grad(low.sum(), w)
    (gw,) = torch.autograd.grad(sparse_grad_affine(x, w, b).sum(), w)
    torch.testing.assert_close(gw_low, gw)  # the backward runs in float32


def test_encoder_without_bias():
    cfg = resolve(
        "sae-topk",
        [8],
        overrides={
            "latent_dim": 32,
            "bottleneck": {"name": "topk", "k": 4},
            "encoder": {"name": "sae", "encoder_bias": False},
        },
    )
    m = Autoencoder(cfg)
    m.init_from_data(data())
    assert "encoder.bias" not in dict(m.named_parameters()) and "encoder.bias" in m.state_dict()
    m(data(), step=0).loss.backward()
    assert float(m.encoder.bias.abs().sum()) == 0.0
