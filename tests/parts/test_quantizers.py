"""Discrete bottlenecks: vector quantizer (vq), finite scalar quantizer (fsq), QLAE (qlae)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import autoencoding as ae
from autoencoding import Autoencoder, AutoencodingError
from autoencoding.parts.fsq import FiniteScalarQuantizer, FSQConfig, LatentQuantizer, QLAEConfig
from autoencoding.parts.vq import VectorQuantizer, VQConfig, rotation_trick

QUANTIZERS = {
    "vq": {"name": "vq", "dim": 4, "codebook_size": 16},
    "vq-cosine-2books": {
        "name": "vq",
        "dim": 2,
        "codebook_size": 8,
        "n_codebooks": 2,
        "distance": "cosine",
        "update": "loss",
        "gradient": "straight_through",
    },
    "fsq": {"name": "fsq", "levels": [8, 5, 3, 2]},
    "qlae": {"name": "qlae", "n_values": 6},
}


def model_for(bottleneck: dict, latent_dim: int = 8, reconstruction: str = "bernoulli"):
    return Autoencoder(
        {
            "input_shape": [64],
            "latent_dim": latent_dim,
            "encoder": {"name": "mlp", "hidden": [32]},
            "bottleneck": bottleneck,
            "reconstruction": {"name": reconstruction},
        }
    )


def train_steps(model, x, steps: int = 5, lr: float = 1e-2) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for i in range(steps):
        out = model(x[(i * 32) % len(x) :][:32], step=i)
        opt.zero_grad()
        out.loss.backward()
        opt.step()


# -- invariants shared by every quantizer ------------------------------------------------
@pytest.mark.parametrize("kind", list(QUANTIZERS))
def test_decode_of_codes_equals_reconstruct_exactly(kind, digits01):
    torch.manual_seed(0)
    m = model_for(QUANTIZERS[kind])
    x = torch.from_numpy(digits01)
    train_steps(m, x)
    codes = m.encode(x, codes=True)
    assert codes.dtype == torch.int64
    assert codes.shape == (len(x), m.bottleneck.n_positions)
    assert int(codes.min()) >= 0 and int(codes.max()) < m.bottleneck.codebook_size
    assert torch.equal(m.decode(codes), m.reconstruct(x))
    assert torch.equal(m.bottleneck.decode_codes(codes), m.encode(x))


@pytest.mark.parametrize("kind", list(QUANTIZERS))
def test_every_batch_logs_the_code_statistics(kind, digits01):
    torch.manual_seed(0)
    m = model_for(QUANTIZERS[kind])
    out = m(torch.from_numpy(digits01[:64]))
    for key in ("codebook_usage", "perplexity", "dead_codes", "quant_error"):
        v = out.metrics[key]
        assert v.dim() == 0 and torch.isfinite(v) and not v.requires_grad
    assert 0 < float(out.metrics["codebook_usage"]) <= 1
    assert 1 <= float(out.metrics["perplexity"]) <= m.bottleneck.codebook_size


@pytest.mark.parametrize("kind", list(QUANTIZERS))
def test_dataset_metrics_count_codes_without_updating(kind, digits01):
    torch.manual_seed(0)
    m = model_for(QUANTIZERS[kind])
    x = torch.from_numpy(digits01)
    train_steps(m, x, steps=3)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    with torch.no_grad():
        got = m.bottleneck.dataset_metrics(m.encoder(x))
    codes = m.encode(x, codes=True)
    b = m.bottleneck
    total = b.tracker.n_books * b.codebook_size
    used = b.tracker.book_counts(b.tracker.position_counts(codes)) > 0
    assert got["codebook_usage"] == pytest.approx(float(used.sum()) / total)
    assert got["dead_codes"] == total - int(used.sum())
    assert 1 <= got["perplexity"] <= b.codebook_size and got["quant_error"] >= 0
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in state.items())


@pytest.mark.parametrize("kind", list(QUANTIZERS))
def test_bad_codes_get_clear_errors(kind):
    torch.manual_seed(0)
    m = model_for(QUANTIZERS[kind])
    p, k = m.bottleneck.n_positions, m.bottleneck.codebook_size
    with pytest.raises(AutoencodingError, match=rf"code {k} at row 1, position 0 is out of range"):
        m.decode(torch.tensor([[0] * p, [k] + [0] * (p - 1)]))
    with pytest.raises(AutoencodingError, match="code -1 .* out of range"):
        m.decode(torch.full((2, p), -1))
    with pytest.raises(AutoencodingError, match=rf"expected codes shaped \(n, {p}\)"):
        m.decode(torch.zeros((2, p + 1), dtype=torch.int64))
    with pytest.raises(AutoencodingError, match=rf"expected codes shaped \(n, {p}\)"):
        m.decode(torch.zeros(p, dtype=torch.int64))
    with pytest.raises(AutoencodingError, match="expected integer codes"):
        m.bottleneck.decode_codes(torch.zeros((2, p)))


@pytest.mark.parametrize("kind", list(QUANTIZERS))
def test_sampling_codes_uniformly_or_from_frequencies(kind, digits01):
    torch.manual_seed(0)
    spec = QUANTIZERS[kind]
    m = model_for(spec)
    x = torch.from_numpy(digits01)
    train_steps(m, x, steps=3)
    b = m.bottleneck
    a = m.sample(20, generator=torch.Generator().manual_seed(1))
    again = m.sample(20, generator=torch.Generator().manual_seed(1))
    assert a.shape == (20, 64) and torch.equal(a, again)
    # empirical codes come from those seen in training; uniform ones cover the codebook
    seen = b.tracker.frequencies > 0
    codes = b.tracker.sample(500, "empirical", torch.Generator().manual_seed(0))
    assert bool(seen.gather(1, codes.T).all())
    uniform = b.tracker.sample(500, "uniform", torch.Generator().manual_seed(0))
    assert len(torch.unique(uniform)) > min(b.codebook_size, 500) // 2


def test_saved_model_gives_identical_codes_after_reload(tmp_path, digits01):
    trained = ae.fit(
        "vqvae",
        digits01,
        model={"bottleneck": {"name": "vq", "codebook_size": 32}},
        train={"epochs": 2, "progress": False},
        seed=0,
    )
    trained.save(tmp_path / "m")
    again = ae.load(tmp_path / "m")
    np.testing.assert_array_equal(
        again.encode(digits01, codes=True), trained.encode(digits01, codes=True)
    )
    b, b2 = trained.module.bottleneck, again.module.bottleneck
    for name in ("codebook", "ema_count", "ema_sum", "tracker.last_used", "tracker.frequencies"):
        assert torch.equal(b.get_buffer(name), b2.get_buffer(name)), name
    assert int(b2.tracker.samples_seen) == int(b.tracker.samples_seen) > 0
    assert bool(b2.initialized)


# -- the vector quantizer ----------------------------------------------------------------
def vq(latent_dim: int = 8, **options) -> VectorQuantizer:
    cfg = VQConfig(**options)
    cfg.validate()
    return VectorQuantizer(cfg, latent_dim)


def test_rotation_trick_value_is_q_and_gradient_is_the_rotated_one():
    torch.manual_seed(0)
    e = torch.randn(5, 3, 16, dtype=torch.float64, requires_grad=True)
    q = torch.randn(5, 3, 16, dtype=torch.float64)
    g = torch.randn(5, 3, 16, dtype=torch.float64)
    z = rotation_trick(e, q)
    assert torch.equal(z, q)
    (grad,) = torch.autograd.grad(z, e, g)
    # explicit rotation matrices: R û = q̂, R orthogonal, gradient λ Rᵀ g
    u = F.normalize(e.detach(), dim=-1)
    q_hat = F.normalize(q, dim=-1)
    r = F.normalize(u + q_hat, dim=-1)
    eye = torch.eye(16, dtype=torch.float64)
    rot = eye - 2 * r[..., :, None] * r[..., None, :] + 2 * q_hat[..., :, None] * u[..., None, :]
    torch.testing.assert_close((rot @ u[..., None])[..., 0], q_hat)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), eye.expand_as(rot))
    scale = q.norm(dim=-1, keepdim=True) / e.detach().norm(dim=-1, keepdim=True)
    torch.testing.assert_close(grad, scale * (rot.transpose(-1, -2) @ g[..., None])[..., 0])


def test_rotation_trick_gradients_reach_the_encoder_and_differ_from_straight_through(digits01):
    x = torch.from_numpy(digits01[:64])
    grads = {}
    torch.manual_seed(0)
    base = model_for({"name": "vq", "dim": 4, "codebook_size": 16})
    base(x)  # k-means initialisation, so both copies start from the same codebook
    for gradient in ("rotation", "straight_through"):
        m = model_for({"name": "vq", "dim": 4, "codebook_size": 16, "gradient": gradient})
        m.load_state_dict(base.state_dict())
        out = m(x)
        out.terms["reconstruction"].backward()
        grads[gradient] = m.encoder.net[0].weight.grad.clone()
    assert grads["rotation"].abs().sum() > 0
    assert not torch.allclose(grads["rotation"], grads["straight_through"])


def test_ema_moves_codes_toward_their_assigned_vectors():
    torch.manual_seed(0)
    b = vq(latent_dim=2, codebook_size=3, kmeans_init=False, restarts=False, ema_decay=0.5)
    with torch.no_grad():
        b.codebook.copy_(torch.tensor([[[0.0, 0.0], [-5.0, 5.0], [5.0, 5.0]]]))
        b.ema_sum.copy_(b.codebook)
    b.train()
    x = torch.randn(64, 2) * 0.1 + torch.tensor([3.0, -2.0])  # nearest code: the origin
    for step in range(20):
        out = b(x)
        assert bool((out.codes == 0).all())
        gap = (b.codebook[0, 0] - x.mean(0)).norm()
        if step == 0:
            first = gap
    assert first < 0.6 * x.mean(0).norm()  # one update (decay 0.5) covered about half the way
    assert gap < 1e-3 * first
    assert float(out.stats["quant_error"]) < 0.05
    # codes nobody picks keep their place (Laplace smoothing keeps them finite)
    assert torch.isfinite(b.codebook).all()


def test_dead_codes_are_restarted_on_recent_encoder_outputs():
    torch.manual_seed(0)
    b = vq(latent_dim=2, codebook_size=8, kmeans_init=False, dead_after=100)
    b.train()
    near = torch.randn(50, 2) * 0.01 + 10  # every vector picks the same code at first
    out = b(near)
    assert float(out.stats["codebook_usage"]) == pytest.approx(1 / 8)
    b(near)  # 100 samples seen: seven codes unused for the whole window
    dead = b.tracker.dead()[0]
    assert int(dead.sum()) == 7
    wide = torch.randn(50, 2) * 3
    b.cfg.ema_decay = 1.0 - 1e-9  # freeze EMA for one pass to see where restarts put codes
    out = b(wide)
    assert float(out.stats["dead_codes"]) == 0  # restarted before this pass
    # each restarted code sits on one of the batch's vectors (up to Laplace smoothing)
    assert torch.cdist(b.codebook[0, dead], wide).min(1).values.max() < 0.01
    b.cfg.ema_decay = 0.99
    for _ in range(3):
        out = b(wide)
    assert float(out.stats["codebook_usage"]) > 0.75


def test_dead_code_statistics_count_codes_unused_for_the_window():
    torch.manual_seed(0)
    b = vq(latent_dim=2, codebook_size=8, kmeans_init=False, restarts=False, dead_after=100)
    b.train()
    near = torch.randn(60, 2) * 0.01 + 10
    assert float(b(near).stats["dead_codes"]) == 0  # 60 < 100 samples seen
    assert float(b(near).stats["dead_codes"]) == 7


def test_kmeans_initialisation_fits_the_first_batch():
    torch.manual_seed(0)
    centres = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [5.0, -5.0], [-5.0, -5.0]])
    x = (centres[torch.arange(200) % 4] + 0.1 * torch.randn(200, 2)).reshape(100, 4)
    b = vq(latent_dim=4, dim=2, codebook_size=4, restarts=False)
    assert not bool(b.initialized)
    b.eval()
    assert float(b(x).stats["quant_error"]) > 1.0  # random codes
    b.train()
    out = b(x)
    assert bool(b.initialized)
    assert float(out.stats["quant_error"]) < 0.05
    assert torch.cdist(b.codebook[0], centres).min(0).values.max() < 0.2


def test_several_codebooks_quantize_their_own_vectors():
    torch.manual_seed(0)
    b = vq(latent_dim=8, dim=2, codebook_size=5, n_codebooks=2)
    assert b.codebook.shape == (2, 5, 2)
    b.train()
    h = torch.randn(32, 8)
    out = b(h)
    b.eval()
    out = b(h)
    codes = out.codes
    # vectors 0-1 use codebook 0, vectors 2-3 codebook 1; the affine map is shared
    manual = torch.stack([b.codebook[i // 2][codes[:, i]] for i in range(4)], dim=1)
    assert torch.equal(out.z, b.affine(manual).reshape(32, 8))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"codebook_size": 0}, "codebook_size must be >= 1"),
        ({"dim": 0}, "dim must be >= 1"),
        ({"ema_decay": 1.0}, r"ema_decay must be in \[0, 1\)"),
        ({"dead_after": 0}, "dead_after must be >= 1"),
        ({"distance": "manhattan"}, "expected one of"),
        ({"dim": 3}, "latent_dim 8 is not a multiple of the vector dim 3"),
        ({"dim": 2, "n_codebooks": 3}, "cannot be split into 3 codebooks"),
    ],
)
def test_bad_vq_options_are_rejected(options, message):
    with pytest.raises(AutoencodingError, match=message):
        model_for({"name": "vq", **options})


# -- scalar quantizers -------------------------------------------------------------------
@pytest.mark.parametrize("levels", [[8, 5, 5, 5], [2, 3], [7]])
def test_fsq_codes_and_values_are_a_bijection(levels):
    q = FiniteScalarQuantizer(FSQConfig(levels=levels), latent_dim=2 * len(levels))
    q.eval()
    n = math.prod(levels)
    assert q.codebook_size == n
    codes = torch.arange(n).repeat(2, 1).T  # every code at both positions
    z = q.decode_codes(codes)
    values = z[:, : len(levels)]
    assert len(torch.unique(values, dim=0)) == n  # distinct codes, distinct values
    for i, lv in enumerate(levels):  # each dimension takes its L levels, centred, in [-1, 1]
        grid = torch.unique(values[:, i])
        assert len(grid) == lv and grid.abs().max() <= 1
    # encoder outputs that bound to just inside each grid point quantize back to its code
    steps = values * q.scale
    h = torch.atanh(((steps + q.offset) * 0.998 / q.half_l).repeat(1, 2)) - q.shift.repeat(2)
    out = q(h)
    assert torch.equal(out.codes, codes)
    assert torch.equal(out.z, z)


def test_fsq_passes_gradients_straight_through_the_rounding():
    q = FiniteScalarQuantizer(FSQConfig(levels=[5, 4]), latent_dim=2)
    q.train()
    h = torch.zeros(3, 2, requires_grad=True)
    out = q(h)
    out.z.sum().backward()
    assert bool((h.grad > 0).all())
    assert torch.equal(out.z, q.decode_codes(out.codes))


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"name": "fsq", "levels": [8, 1]}, "every level must be >= 2"),
        ({"name": "fsq", "levels": []}, "at least one level"),
        ({"name": "fsq", "levels": [8, 5, 5]}, "latent_dim 8 is not a multiple of len"),
        ({"name": "fsq", "levels": [1024] * 4}, "codes per group"),
        ({"name": "qlae", "n_values": 1}, "n_values must be >= 2"),
    ],
)
def test_bad_scalar_quantizer_options_are_rejected(spec, message):
    with pytest.raises(AutoencodingError, match=message):
        model_for(spec)


def test_qlae_quantizes_each_dimension_to_its_own_learned_values():
    torch.manual_seed(0)
    q = LatentQuantizer(QLAEConfig(n_values=5), latent_dim=3)
    with torch.no_grad():
        q.values.copy_(torch.tensor([[-2.0, -1, 0, 1, 2], [0, 1, 2, 3, 4], [-4, -3, -2, -1, 0]]))
    q.eval()
    out = q(torch.tensor([[0.9, 0.2, -3.6]]))
    assert out.codes.tolist() == [[3, 0, 0]]
    assert out.z.tolist() == [[1.0, 0.0, -4.0]]
    # training: the quantization loss pulls values toward the data, commitment pulls h
    q.train()
    h = torch.tensor([[0.9, 0.2, -3.6]], requires_grad=True)
    out = q(h)
    sum(out.losses.values()).backward()
    # gradient descent moves value 1.0 down toward 0.9, value -4 up toward -3.6, h up toward 1
    assert q.values.grad[0, 3] > 0 and q.values.grad[2, 0] < 0
    assert h.grad[0, 0] < 0


# -- recipes -----------------------------------------------------------------------------
def test_vqvae_recipe_beats_the_mean_image_on_digits(digits_all):
    x, _ = digits_all
    x = x.reshape(len(x), 64)
    train, test = x[:1200], x[1200:1500]
    trained = ae.fit(
        "vqvae",
        train,
        model={"bottleneck": {"name": "vq", "codebook_size": 64}},
        train={"epochs": 30, "progress": False, "val_fraction": 0},
        seed=0,
    )
    mse = float(((trained.reconstruct(test) - test) ** 2).mean())
    baseline = float(((train.mean(0) - test) ** 2).mean())
    assert mse < 0.35 * baseline
    codes = trained.encode(test, codes=True)
    assert len(np.unique(codes)) > 0.8 * 64
    last = trained.history[-1]
    assert last["train/codebook_usage"] > 0.9


@pytest.mark.parametrize("recipe", ["vqvae", "fsq", "qlae"])
def test_discrete_recipes_train_on_images_with_conv_nets(recipe, digits_all):
    x, _ = digits_all
    trained = ae.fit(
        recipe,
        x[:128],
        model={"encoder": {"name": "conv2d", "channels": [8]}},
        train={"epochs": 1, "progress": False, "batch_size": 64},
        seed=0,
    )
    codes = trained.encode(x[:10], codes=True)
    assert codes.dtype == np.int64
    np.testing.assert_array_equal(trained.decode(codes), trained.reconstruct(x[:10]))
    assert trained.sample(4).shape == (4, 1, 8, 8)


def test_same_seed_gives_the_same_codebook(digits01):
    runs = [
        ae.fit(
            "vqvae",
            digits01,
            model={"bottleneck": {"name": "vq", "codebook_size": 16}},
            train={"epochs": 2, "progress": False},
            seed=3,
        )
        for _ in range(2)
    ]
    a, b = (r.module.bottleneck.codebook for r in runs)
    assert torch.equal(a, b)


DDP_SCRIPT = """
import sys, torch, torch.distributed as dist
dist.init_process_group("gloo")
rank = dist.get_rank()
from autoencoding.parts.vq import VectorQuantizer, VQConfig
from safetensors.torch import save_file
torch.manual_seed(0)
b = VectorQuantizer(VQConfig(codebook_size=16, dim=4, dead_after=64), 8)
torch.manual_seed(100 + rank)  # different data and restart draws on each process
b.train()
for _ in range(20):
    b(torch.randn(32, 8) * (1 + rank))
save_file({k: v.contiguous() for k, v in b.state_dict().items()}, sys.argv[1] + f"{rank}")
dist.destroy_process_group()
"""


@pytest.mark.slow  # two torch processes start in ~10-20 s
def test_codebooks_stay_identical_across_torchrun_processes(tmp_path, torchrun):
    from safetensors.torch import load_file

    script = tmp_path / "ddp_vq.py"
    script.write_text(DDP_SCRIPT)
    torchrun(script, tmp_path / "state")
    a, b = (load_file(str(tmp_path / f"state{r}")) for r in (0, 1))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert int(a["tracker.samples_seen"]) == 20 * 32 * 2  # counted over both processes
