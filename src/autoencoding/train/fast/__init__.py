"""The one seam for hand-written training steps ("fast paths").

Parts have one implementation each — their autograd ``forward``. A fast step is a second,
hand-derived implementation of a whole training step (forward, backward into ``.grad``)
for models made of parts it knows, registered here by name and chosen by declared
capability: each step class says, for a given model, why it cannot run it (``why_not``)
or returns None, and the trainer takes the first that can. The kernels inside a step are
registered per part type (``mlp.py``), so a new part gains a fast path by registering a
kernel, never by editing the part or the trainer.

Registered steps (in the order they are tried):

- ``mlp`` (:mod:`.mlp`): MLP encoders/decoders, identity or Gaussian bottleneck, MSE /
  Bernoulli / Gaussian likelihoods, any corruption — about twice the speed of autograd on
  protocol GEN's VAE; :mod:`.mlp_generative` adds the ``rae``, ``iwae`` and ``vamp``
  bottlenecks and the ``decoder-l2`` regularizer;
- ``sae-topk`` (:mod:`.sae_topk`): TopK sparse autoencoders (exact sparse products, bf16
  dense product where the hardware runs it natively);
- ``group`` (:mod:`.group`): a :class:`~autoencoding.model.PipelineGroup` whose every
  member has a fast step (several SAEs trained side by side).

A fast step must produce the same model as autograd: the same noise draws, loss terms and
statistics, gradients equal up to float rounding (``tests/test_manual_gradients.py``,
``tests/interp/test_sae_manual.py``). ``TrainConfig.manual_gradients = False``, DDP, or a
model no step supports takes the autograd path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from ...model import ModelOutput
from ...registry import Registry


class FastStep(ABC):
    """A training step with hand-written gradients for models of one kind.

    Built once per training run (it may keep scratch buffers between steps); calling it
    runs one step's forward and backward and leaves every gradient in the parameters'
    ``.grad`` (which the trainer has made views into one flat buffer)."""

    @classmethod
    @abstractmethod
    def why_not(cls, model: nn.Module) -> str | None:
        """Why this step cannot train ``model`` (None when it can)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    @abstractmethod
    def __call__(self, x: torch.Tensor, step: int) -> ModelOutput:
        """One step: loss terms like ``model(x, step)``, gradients in ``.grad``."""


FAST_STEPS: Registry[type[FastStep]] = Registry("fast step")


def choose(model: nn.Module) -> type[FastStep] | None:
    """The first registered step that can train ``model`` (None: autograd)."""
    for name in FAST_STEPS.order():
        cls = FAST_STEPS.get(name)
        if cls.why_not(model) is None:
            return cls
    return None


def why_no_fast_step(model: nn.Module) -> str:
    """Each registered step's reason for refusing ``model``, for messages and tests."""
    return "; ".join(f"{n}: {FAST_STEPS.get(n).why_not(model)}" for n in FAST_STEPS.order())


# registration order is the order steps are tried
from . import mlp, mlp_generative, sae_topk, group  # noqa: E402, F401, I001
from .flat import FlatAdam, FlatParameters, fused_kernels_available  # noqa: E402

__all__ = [
    "FAST_STEPS",
    "FastStep",
    "FlatAdam",
    "FlatParameters",
    "choose",
    "fused_kernels_available",
    "why_no_fast_step",
]
