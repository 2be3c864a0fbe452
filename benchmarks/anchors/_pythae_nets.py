"""Protocol GEN nets as pythae encoder / decoder modules (64-256-256-latent MLPs).

Shared by gen_pythae.py and gen_samples_pythae.py; import it after
``_common.setup_process`` (it imports torch and pythae).
"""

from __future__ import annotations

import _common as C
import torch
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder
from torch import nn


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
