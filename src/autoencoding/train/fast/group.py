"""Fast step ``group``: a :class:`~autoencoding.model.PipelineGroup` member by member, each
with the fast step it would take alone."""

from __future__ import annotations

import torch
from torch import nn

from ...model import ModelOutput, PipelineGroup
from . import FAST_STEPS, FastStep, choose, why_no_fast_step


@FAST_STEPS.register("group")
class GroupStep(FastStep):
    """Each member's own fast step on its share of the batch; losses combined."""

    @classmethod
    def why_not(cls, model: nn.Module) -> str | None:
        if not isinstance(model, PipelineGroup):
            return f"{type(model).__name__} is not a group of pipelines"
        for i, m in enumerate(model.members):
            if choose(m) is None:
                return f"member {i}: {why_no_fast_step(m)}"
        return None

    def __init__(self, model: PipelineGroup) -> None:
        super().__init__(model)
        self.steps = [choose(m)(m) for m in model.members]  # type: ignore[misc]

    def __call__(self, x: torch.Tensor, step: int) -> ModelOutput:
        parts = self.model.split(x)
        return self.model.combine(
            [s(xs, step) for s, (_, xs) in zip(self.steps, parts, strict=True)]
        )
