"""Protocol GEN under pythae: the nets as pythae encoder / decoder modules (64-256-256-latent
MLPs) and the training run through pythae's own BaseTrainer.

Shared by gen_pythae.py and gen_samples_pythae.py; import it after
``_common.setup_process`` (it imports torch and pythae).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time

import _common as C
import torch
from pythae.data.datasets import BaseDataset
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder
from pythae.trainers import BaseTrainer, BaseTrainerConfig
from torch import nn


def train(model, x_train, y_train, epochs: int, seed: int, callbacks=()):
    """Train ``model`` with pythae's BaseTrainer on the protocol's settings; returns the live
    model after the last epoch (eval mode, not pythae's lowest-loss copy), the per-epoch
    timer of its ``train_step`` and the whole fit's seconds. Two pythae defaults are
    overridden: lr (1e-4 -> the protocol's 1e-3) and seed (8)."""
    timer = C.EpochTimer()
    with tempfile.TemporaryDirectory(prefix="gen_pythae_") as tmp:
        cfg = BaseTrainerConfig(
            output_dir=tmp,
            learning_rate=C.LR,
            per_device_train_batch_size=C.BATCH_SIZE,
            num_epochs=epochs,
            optimizer_cls="Adam",
            seed=seed,  # set_seed(seed) at train() start
            no_cuda=True,
        )
        data = BaseDataset(torch.as_tensor(x_train), torch.as_tensor(y_train))
        with contextlib.redirect_stdout(sys.stderr):  # pythae's logs stay off stdout
            trainer = BaseTrainer(
                model=model, train_dataset=data, training_config=cfg, callbacks=list(callbacks)
            )
            trainer.train_step = timer.wrap(trainer.train_step)
            t0 = time.perf_counter()
            trainer.train()
            t_fit = time.perf_counter() - t0
    return trainer.model.eval(), timer, t_fit


def mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class VAEEncoder(BaseEncoder):
    """64-256-256 (ReLU) then linear heads for the posterior mean and log-variance."""

    def __init__(self):
        BaseEncoder.__init__(self)
        self.body = nn.Sequential(mlp([64, C.HIDDEN, C.HIDDEN]), nn.ReLU())
        self.mu = nn.Linear(C.HIDDEN, C.LATENT_DIM)
        self.logvar = nn.Linear(C.HIDDEN, C.LATENT_DIM)

    def forward(self, x):
        h = self.body(x.reshape(x.shape[0], -1))
        return ModelOutput(embedding=self.mu(h), log_covariance=self.logvar(h))


class AEEncoder(BaseEncoder):
    """64-256-256-8 (ReLU) deterministic encoder (AE, WAE, RAE)."""

    def __init__(self):
        BaseEncoder.__init__(self)
        self.net = mlp([64, C.HIDDEN, C.HIDDEN, C.LATENT_DIM])

    def forward(self, x):
        return ModelOutput(embedding=self.net(x.reshape(x.shape[0], -1)))


class Decoder(BaseDecoder):
    """Mirror MLP with sigmoid output; ``logits`` exposes the pre-sigmoid output."""

    def __init__(self, in_dim):
        BaseDecoder.__init__(self)
        self.net = mlp([in_dim, C.HIDDEN, C.HIDDEN, 64])

    def logits(self, z):
        return self.net(z.reshape(z.shape[0], -1))

    def forward(self, z):
        return ModelOutput(reconstruction=torch.sigmoid(self.logits(z)))
