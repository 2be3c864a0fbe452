"""Training settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..config import require


@dataclass
class TrainConfig:
    epochs: int = 50
    """Passes over the training data."""
    batch_size: int = 64
    """Samples per optimizer step (the global batch under torchrun)."""
    lr: float = 1e-3
    """Peak learning rate."""
    optimizer: Literal["adam", "adamw"] = "adam"
    """Adam (weight decay added to the gradient) or AdamW (decoupled weight decay)."""
    weight_decay: float = 0.0
    """Weight decay."""
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    """Adam's decay rates of the gradient's first and second moment estimates."""
    schedule: Literal["constant", "cosine", "wsd"] = "wsd"
    """Learning-rate schedule after warm-up: constant, cosine decay to min_lr_ratio·lr, or
    warmup-stable-decay (linear decay over the last decay_fraction of steps)."""
    warmup_steps: int = 0
    """Steps of linear learning-rate warm-up from 0."""
    decay_fraction: float = 0.2
    """Fraction of the run spent decaying, for the wsd schedule."""
    min_lr_ratio: float = 0.0
    """Final learning rate as a fraction of lr (cosine and wsd)."""
    grad_clip: float = 0.0
    """Clip the global gradient norm to this value (0 = off)."""
    early_stopping: int = 0
    """Stop after this many epochs without a better validation loss and keep the best
    weights (0 = off; needs validation data)."""
    val_fraction: float = 0.1
    """Fraction of the training data held out for validation when none is given (0 = none)."""
    seed: int = 0
    """One seed for the split, initialisation, shuffling and noise."""
    checkpoint_every: int = 0
    """Write a resumable checkpoint every this many steps (0 = at the end of every epoch)."""
    progress: bool = True
    """Show a progress bar with the live loss terms."""
    device: str = "cpu"
    """Torch device: cpu, cuda, cuda:1, ... or auto."""
    manual_gradients: bool = True
    """Train MLP autoencoders and VAEs with their hand-derived gradients and one fused Adam
    step over a flat parameter buffer (about twice as fast on small models; same results).
    Models with other parts, and runs under torchrun, use autograd whatever this says."""

    def validate(self) -> None:
        require(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        require(
            len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
            f"betas must be two numbers in [0, 1), got {self.betas}",
        )
        require(self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}")
        require(
            0 < self.decay_fraction <= 1,
            f"decay_fraction must be in (0, 1], got {self.decay_fraction}",
        )
        require(
            0 <= self.min_lr_ratio <= 1, f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}"
        )
        require(self.grad_clip >= 0, f"grad_clip must be >= 0, got {self.grad_clip}")
        require(self.early_stopping >= 0, "early_stopping must be >= 0")
        require(
            0 <= self.val_fraction < 1, f"val_fraction must be in [0, 1), got {self.val_fraction}"
        )
        require(self.checkpoint_every >= 0, "checkpoint_every must be >= 0")
