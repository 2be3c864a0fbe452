"""SAE training end to end: from a store, exact resume, DDP under torchrun, train_sae."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import autoencoding as ae
from autoencoding.interp import evaluate_sae, store_from_array, train_sae
from autoencoding.interp.store import ActivationStore, StoreBatches
from autoencoding.model import Autoencoder
from autoencoding.recipes import resolve
from autoencoding.recipes.sae import sae_lr
from autoencoding.train import TrainConfig, Trainer


def toy_store(tmp_path, n=2400, d=8):
    from autoencoding.interp import ToySuperposition

    x = ToySuperposition(d=d, n_features=24, p=0.1, seed=0).data(n, seed=1).numpy()
    return store_from_array(x, tmp_path / "store"), x


def sae(k=3, latents=32, d=8, **over) -> Autoencoder:
    cfg = resolve(
        "sae-topk",
        [d],
        overrides={"latent_dim": latents, "bottleneck": {"name": "topk", "k": k}, **over},
    )
    torch.manual_seed(0)
    return Autoencoder(cfg)


class _Interrupting(StoreBatches):
    """Store batches that crash the run after ``at`` optimizer steps."""

    def __init__(self, *args, at: int, **kw):
        super().__init__(*args, **kw)
        self.at, self.seen = at, 0

    def epoch(self, *args, **kw):
        for batch in super().epoch(*args, **kw):
            if self.seen == self.at:
                raise KeyboardInterrupt
            self.seen += 1
            yield batch


@pytest.mark.parametrize("at, every", [(12, 0), (17, 5)])
def test_interrupted_sae_run_resumes_exactly(tmp_path, at, every):
    """Mid-epoch too: the store's batch order, the dead-latent counters, the unit-norm
    decoder and the optimizer all continue exactly (12 steps per epoch)."""
    store, x = toy_store(tmp_path)
    cfg = TrainConfig(
        epochs=3,
        batch_size=200,
        lr=1e-2,
        progress=False,
        val_fraction=0.0,
        warmup_steps=3,
        checkpoint_every=every,
    )

    def fresh():
        m = sae(bottleneck={"name": "topk", "k": 3, "dead_tokens": 1000})
        m.init_from_data(store.sample(500))
        return m

    straight = fresh()
    Trainer(straight, cfg).fit(StoreBatches(store, 200))
    killed = fresh()
    with pytest.raises(KeyboardInterrupt):
        Trainer(killed, cfg, tmp_path / "run").fit(_Interrupting(store, 200, at=at))
    resumed = fresh()
    Trainer(resumed, cfg, tmp_path / "run").fit(StoreBatches(store, 200), resume=True)
    a, b = straight.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)


DDP_SCRIPT = r"""
import sys, torch
from safetensors.torch import save_file
from autoencoding.interp.store import ActivationStore, StoreBatches
from autoencoding.model import Autoencoder
from autoencoding.recipes import resolve
from autoencoding.train import TrainConfig, Trainer
from autoencoding.train.distributed import init_from_env, is_main

init_from_env("cpu")
store = ActivationStore.open(sys.argv[1])
# mse (a per-row mean) makes the DDP gradient average equal the single-process gradient
over = {"latent_dim": 32, "bottleneck": {"name": "topk", "k": 3}, "reconstruction": {"name": "mse"}}
torch.manual_seed(0)
m = Autoencoder(resolve("sae-topk", [8], overrides=over))
m.init_from_data(store.sample(500))
cfg = TrainConfig(epochs=2, batch_size=200, lr=1e-2, progress=False, val_fraction=0.0)
Trainer(m, cfg).fit(StoreBatches(store, 200, buffer_tokens=600))
if is_main():
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, sys.argv[2])
"""


def test_ddp_two_processes_match_single_process(tmp_path, torchrun):
    store, _ = toy_store(tmp_path)
    script = tmp_path / "ddp_sae.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    single, double = tmp_path / "single.safetensors", tmp_path / "double.safetensors"
    args = [str(script), str(store.path)]
    subprocess.run([sys.executable, *args, str(single)], check=True, env=env, timeout=120)
    torchrun(*args, double)
    from safetensors.torch import load_file

    a, b = load_file(str(single)), load_file(str(double))
    assert a.keys() == b.keys() and "bottleneck.since_fired" in a
    for k in a:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=1e-4, atol=1e-5, err_msg=k)


def test_train_sae_derives_defaults_saves_and_evaluates(tmp_path):
    store, x = toy_store(tmp_path)
    train, held = store.split(0.75)
    out = tmp_path / "run"
    model = train_sae(
        train,
        "sae-topk",
        latents=32,
        k=3,
        out=out,
        train={"batch_size": 200, "epochs": 4, "progress": False},
    )
    info = model.info
    steps = 4 * len(train) // 200
    assert abs(info["train"]["lr"] - sae_lr(32, steps)) < 1e-12  # derived from width and length
    assert info["train"]["warmup_steps"] == steps // 2
    assert info["dead_window_tokens"] == 200  # 1/240 of 2400 tokens, floored at one batch
    ev = evaluate_sae(model.module, held)
    assert ev["fvu"] < 0.5 and abs(ev["l0"] - 3) < 0.5 and ev["tokens"] == 600
    back = ae.load(out)
    torch.testing.assert_close(
        torch.as_tensor(back.reconstruct(x[:5])), torch.as_tensor(model.reconstruct(x[:5]))
    )
    with pytest.raises(ae.AutoencodingError, match="needs an sae-\\* recipe"):
        train_sae(train, "vae")
    wide = ActivationStore.open(store_from_array(np.ones((10, 9), np.float32), tmp_path / "w").path)
    with pytest.raises(ae.AutoencodingError, match="9 features but the SAE expects 8"):
        evaluate_sae(model.module, wide)


def test_the_default_budget_follows_the_store_size_and_a_users_epochs_win():
    from autoencoding.api import train_config
    from autoencoding.recipes.sae import SAE_MAX_EPOCHS, SAE_MIN_STEPS

    mcfg = resolve("sae-topk", [64], None, {"latent_dim": 512})

    def cfg(rows, **train):
        return train_config("sae-topk", train, None, mcfg, rows)

    small = cfg(300_000)  # 74 steps an epoch: 2 epochs were 148 steps
    assert small.epochs == 14 and small.epochs * 74 >= SAE_MIN_STEPS
    assert small.lr == pytest.approx(sae_lr(512, 300_000 * 14 // 4096))  # for the run taken
    assert cfg(10_000_000).epochs == 2  # a large store keeps the recipe's 2 epochs
    assert cfg(500).epochs == SAE_MAX_EPOCHS  # a tiny one is capped
    assert cfg(300_000, batch_size=1024).epochs == 4  # 293 steps an epoch
    mine = cfg(300_000, epochs=2)  # an explicit choice always wins, and the lr follows it
    assert mine.epochs == 2 and mine.lr == pytest.approx(sae_lr(512, 600_000 // 4096))
