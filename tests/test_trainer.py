"""Trainer behaviour: exact resume, NaN stop keeping the last good checkpoint, early stopping,
schedules, and DDP under torchrun matching a single process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding.errors import AutoencodingError, TrainingDiverged
from autoencoding.parts.base import BOTTLENECKS, BottleneckOutput
from autoencoding.parts.bottlenecks import Bottleneck
from autoencoding.train import InMemoryBatches, TrainConfig, Trainer
from autoencoding.train.checkpoint import CHECKPOINT
from autoencoding.train.schedules import lr_factor


def _data(n=200, d=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g)


def _model(d=12, recipe="ae", seed=0, **over):
    torch.manual_seed(seed)
    return ae.Autoencoder(ae.resolve(recipe, [d], (-3.0, 3.0), {"latent_dim": 3, **over}))


def _weights(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


class _Interrupting(InMemoryBatches):
    """Batches that raise KeyboardInterrupt at (epoch, batch): a run killed mid-training."""

    def __init__(self, x, batch_size, seed, at):
        super().__init__(x, batch_size, seed)
        self.at = at

    def epoch(self, epoch, start=0, rank=0, world=1):
        for i, b in enumerate(super().epoch(epoch, start, rank, world), start):
            if (epoch, i) == self.at:
                raise KeyboardInterrupt
            yield b


@pytest.mark.parametrize("at,every", [((2, 0), 0), ((1, 3), 2)])
def test_interrupted_run_resumes_exactly(tmp_path, at, every):
    x = _data(n=96)
    cfg = TrainConfig(
        epochs=4,
        batch_size=16,
        progress=False,
        seed=3,
        schedule="cosine",
        warmup_steps=5,
        checkpoint_every=every,
    )
    # noise in the recipe checks that the RNG state is restored too
    straight = _model(recipe="dae")
    with torch.random.fork_rng():
        torch.manual_seed(1)
        Trainer(straight, cfg).fit(x)

    killed = _model(recipe="dae")
    with torch.random.fork_rng(), pytest.raises(KeyboardInterrupt):
        torch.manual_seed(1)
        Trainer(killed, cfg, tmp_path).fit(_Interrupting(x, 16, 3, at))
    assert (tmp_path / CHECKPOINT).exists()
    resumed = _model(recipe="dae", seed=99)  # different init: the checkpoint must overwrite it
    with torch.random.fork_rng():
        torch.manual_seed(12345)  # a different RNG: the checkpoint's RNG state must win
        hist = Trainer(resumed, cfg, tmp_path).fit(x, resume=True)
    assert [r["epoch"] for r in hist] == [1, 2, 3, 4]
    for k, v in _weights(straight).items():
        torch.testing.assert_close(resumed.state_dict()[k], v, rtol=0, atol=0)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in lines] == [1, 2, 3, 4]


@dataclass
class _Opts:
    fail_at: int = 5

    def validate(self):
        pass


@BOTTLENECKS.register("test-nan-after")
class _NanAfter(Bottleneck):
    """Identity that produces a NaN loss from step ``fail_at`` on (to test divergence)."""

    Config = _Opts

    def __init__(self, cfg, latent_dim):
        super().__init__(latent_dim)
        self.cfg = cfg

    def forward(self, h, step=None):
        bad = step is not None and step >= self.cfg.fail_at
        return BottleneckOutput(z=h, losses={"poison": torch.tensor(float("nan") if bad else 0.0)})


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    x = _data(n=64)
    m = _model(bottleneck={"name": "test-nan-after", "fail_at": 6})
    t = Trainer(
        m, TrainConfig(epochs=5, batch_size=16, progress=False, checkpoint_every=4), tmp_path
    )
    with pytest.raises(TrainingDiverged, match=r"step 6.*last good checkpoint \(step 4\)"):
        t.fit(x)
    before = (tmp_path / CHECKPOINT).read_bytes()
    # the kept checkpoint is loadable (by the settings that wrote it) and holds step 4
    m2 = _model(bottleneck={"name": "test-nan-after", "fail_at": 6})
    hist = Trainer(
        m2, TrainConfig(epochs=1, batch_size=16, progress=False, checkpoint_every=4), tmp_path
    ).fit(x, resume=True)
    assert hist == [] or hist[-1]["step"] == 4
    assert before  # the checkpoint survived the failure


def test_early_stopping_keeps_best_weights():
    x, v = _data(n=128), _data(n=64, seed=1)
    m = _model()
    t = Trainer(
        m, TrainConfig(epochs=200, batch_size=32, progress=False, early_stopping=2, lr=3e-2)
    )
    hist = t.fit(x, v)
    assert len(hist) < 200
    best = min(r["val/loss"] for r in hist)
    assert t.validation_loss(v)["loss"] == pytest.approx(best, rel=1e-5)


def test_early_stopping_needs_validation():
    with pytest.raises(AutoencodingError, match="validation"):
        Trainer(_model(), TrainConfig(early_stopping=3, progress=False)).fit(_data())


@pytest.mark.parametrize(
    "bad",
    [{"lr": -1.0}, {"epochs": 0}, {"batch_size": 0}, {"grad_clip": -1.0}, {"min_lr_ratio": 2.0}],
)
def test_bad_train_config(bad):
    with pytest.raises(AutoencodingError):
        TrainConfig(**bad).validate()


def test_schedules():
    total = 100
    assert lr_factor(0, total, "constant", 10, 0.2, 0.0) == pytest.approx(0.1)
    assert lr_factor(50, total, "constant", 10, 0.2, 0.0) == 1.0
    assert lr_factor(10, total, "cosine", 10, 0.2, 0.0) == pytest.approx(1.0)
    assert lr_factor(99, total, "cosine", 10, 0.2, 0.1) < 0.12
    assert lr_factor(70, total, "wsd", 10, 0.2, 0.0) == 1.0
    assert lr_factor(90, total, "wsd", 10, 0.2, 0.0) == pytest.approx(0.5)


DDP_SCRIPT = r"""
import os, sys, torch
import autoencoding as ae
from autoencoding.train import TrainConfig, Trainer
from autoencoding.train.distributed import init_from_env, world
init_from_env("cpu")
rank, size = world()
torch.manual_seed(0)
x = torch.randn(96, 10, generator=torch.Generator().manual_seed(0))
m = ae.Autoencoder(ae.resolve("ae", [10], (-3, 3), {"latent_dim": 3}))
Trainer(m, TrainConfig(epochs=3, batch_size=32, progress=False, lr=1e-2)).fit(x)
if rank == 0:
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, sys.argv[1])
"""


def test_ddp_two_processes_match_single_process(tmp_path, torchrun):
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    single = tmp_path / "single.safetensors"
    double = tmp_path / "double.safetensors"
    subprocess.run([sys.executable, str(script), str(single)], check=True, env=env, timeout=120)
    torchrun(script, double)
    from safetensors.torch import load_file

    a, b = load_file(str(single)), load_file(str(double))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=1e-4, atol=1e-5)


def test_fit_api_is_reproducible(tmp_path):
    x = np.random.default_rng(0).normal(size=(120, 6)).astype(np.float32)
    a = ae.fit("ae", x, train={"epochs": 3, "progress": False}, seed=5)
    b = ae.fit("ae", x, train={"epochs": 3, "progress": False}, seed=5)
    np.testing.assert_array_equal(a.encode(x), b.encode(x))
    c = ae.fit("ae", x, train={"epochs": 3, "progress": False}, seed=6)
    assert not np.array_equal(a.encode(x), c.encode(x))


def test_checkpoint_corrupt_is_clear(tmp_path):
    x = _data(n=64)
    Trainer(_model(), TrainConfig(epochs=1, batch_size=16, progress=False), tmp_path).fit(x)
    ck = Path(tmp_path) / CHECKPOINT
    ck.write_bytes(ck.read_bytes()[:100])
    with pytest.raises(AutoencodingError, match="corrupt or truncated"):
        Trainer(_model(), TrainConfig(epochs=2, batch_size=16, progress=False), tmp_path).fit(
            x, resume=True
        )


def test_parts_declare_parameter_groups_exempt_from_weight_decay():
    from autoencoding.model import Autoencoder
    from autoencoding.recipes import resolve

    m = Autoencoder(resolve("qlae", [8], (0.0, 1.0)))
    t = Trainer(m, TrainConfig(optimizer="adamw", weight_decay=0.5, progress=False))
    assert t._fast_step() is None  # one flat group cannot hold two weight decays
    opt = t._optimizer(t._param_groups())
    exempt = [g for g in opt.param_groups if g["weight_decay"] == 0.0]
    assert len(exempt) == 1 and exempt[0]["params"] == [m.bottleneck.values]
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(m.parameters()))


def test_progress_bar_shows_sparse_and_codebook_diagnostics():
    from autoencoding.model import Autoencoder
    from autoencoding.recipes import resolve
    from autoencoding.train.trainer import _postfix

    torch.manual_seed(0)
    x = torch.randn(64, 8)
    over = {"latent_dim": 32, "bottleneck": {"name": "topk", "k": 4}}
    sae = Autoencoder(resolve("sae-topk", [8], overrides=over))
    sae.init_from_data(x)
    shown = _postfix(sae(x, step=0))
    assert shown["l0"] == "4" and shown["dead"].endswith("%") and "fvu" in shown
    vq = Autoencoder(resolve("vqvae", [8], (-3.0, 3.0)))
    shown = _postfix(vq(x, step=0))
    assert "codebook_usage" in shown and "perplexity" in shown
    plain = Autoencoder(resolve("ae", [8], (-3.0, 3.0)))
    assert set(_postfix(plain(x, step=0))) == {"reconstruction"}


def test_fit_derives_sae_learning_rate_and_warmup_from_width_and_run_length():
    from autoencoding.recipes.sae import sae_lr

    x = _data(400, 8).numpy()
    m = ae.fit(
        "sae-topk",
        x,
        model={"latent_dim": 32, "bottleneck": {"name": "topk", "k": 4}},
        train={"epochs": 2, "batch_size": 50, "val_fraction": 0, "progress": False},
    )
    steps = 2 * 400 // 50
    assert m.info["train"]["lr"] == pytest.approx(sae_lr(32, steps))
    assert m.info["train"]["warmup_steps"] == steps // 2
    given = ae.fit(
        "sae-topk",
        x,
        model={"latent_dim": 32, "bottleneck": {"name": "topk", "k": 4}},
        train={"epochs": 1, "lr": 1e-3, "progress": False, "val_fraction": 0},
    )
    assert given.info["train"]["lr"] == 1e-3


@BOTTLENECKS.register("test-nan-weight-after")
class _NanWeightAfter(Bottleneck):
    """Identity whose (unused) parameter turns NaN at step ``fail_at`` while the loss stays
    finite: the weights are poisoned before any loss shows it."""

    Config = _Opts

    def __init__(self, cfg, latent_dim):
        super().__init__(latent_dim)
        self.cfg = cfg
        self.spare = torch.nn.Parameter(torch.zeros(1))

    def forward(self, h, step=None):
        if step is not None and step >= self.cfg.fail_at:
            with torch.no_grad():
                self.spare.fill_(float("nan"))
        return BottleneckOutput(z=h)


def test_a_checkpoint_never_holds_non_finite_weights(tmp_path):
    x = _data(n=64)
    m = _model(bottleneck={"name": "test-nan-weight-after", "fail_at": 5})
    cfg = TrainConfig(epochs=5, batch_size=16, progress=False, checkpoint_every=2)
    with pytest.raises(TrainingDiverged, match=r"weights became non-finite at step 6.*step 4"):
        Trainer(m, cfg, tmp_path).fit(x)
    from safetensors.torch import load_file

    kept = load_file(str(tmp_path / CHECKPOINT))
    weights = [v for k, v in kept.items() if k.startswith("model.")]
    assert weights and all(torch.isfinite(w).all() for w in weights)  # it resumes
