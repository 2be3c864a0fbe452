"""Training: the trainer, schedules, batches, checkpoints and DDP helpers."""

from .batches import InMemoryBatches
from .config import TrainConfig
from .trainer import Trainer

__all__ = ["InMemoryBatches", "TrainConfig", "Trainer"]
