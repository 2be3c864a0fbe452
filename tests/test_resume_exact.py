"""Resume is exact: a run interrupted anywhere and resumed ends with the weights and the
metrics lines of the run that was never interrupted, bit for bit — with early stopping (its
best weights, best value and patience live in the checkpoint), mid-epoch checkpoints (the
interrupted epoch's metric sums too) and the RNG driving noise and sampling.

The real-process version (kill -9 of ``autoencoding train``) is tests/test_kill_resume.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

import autoencoding as ae
from autoencoding.parts.base import BOTTLENECKS, BottleneckOutput
from autoencoding.parts.bottlenecks import Bottleneck
from autoencoding.train import InMemoryBatches, TrainConfig, Trainer
from autoencoding.train.checkpoint import CHECKPOINT

#: fields of a metrics line that measure the clock, not the run
CLOCK = ("seconds", "cpu_seconds")


def _data(n, seed):
    return torch.randn(n, 10, generator=torch.Generator().manual_seed(seed))


def _model(recipe, seed=0):
    torch.manual_seed(seed)
    return ae.Autoencoder(ae.resolve(recipe, [10], (-3.0, 3.0), {"latent_dim": 3}))


def _lines(folder):
    lines = [json.loads(ln) for ln in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in CLOCK} for r in lines]


class _KilledAt(InMemoryBatches):
    """The trainer's own batches (same seed, same order), but the run dies (an exception
    from the batch iterator) when it asks for the batch of global step ``step``."""

    def __init__(self, x, cfg, step):
        super().__init__(x, cfg.batch_size, cfg.seed)
        self.step = step

    def epoch(self, epoch, start=0, rank=0, world=1):
        for i, b in enumerate(super().epoch(epoch, start, rank, world), start):
            if epoch * len(self) + i == self.step:
                raise KeyboardInterrupt
            yield b


def _cfg(**over):
    base = dict(epochs=12, batch_size=16, progress=False, seed=3, lr=3e-2, schedule="cosine")
    return TrainConfig(**{**base, **over})


def _straight(recipe, cfg, x, v, folder):
    m = _model(recipe)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        Trainer(m, cfg, folder).fit(x, v)
    return m


def _killed_then_resumed(recipe, cfg, x, v, folder, step):
    killed = _model(recipe)
    with torch.random.fork_rng(), pytest.raises(KeyboardInterrupt):
        torch.manual_seed(1)
        Trainer(killed, cfg, folder).fit(_KilledAt(x, cfg, step), v)
    assert (folder / CHECKPOINT).exists()
    m = _model(recipe, seed=99)  # another init: the checkpoint must overwrite all of it
    with torch.random.fork_rng():
        torch.manual_seed(12345)  # another RNG: the checkpoint's must win
        Trainer(m, cfg, folder).fit(x, v, resume=True)
    return m


def _assert_same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


@pytest.mark.parametrize(
    "recipe,schedule,every,steps",
    [
        ("dae", "constant", 0, (7, 30, 45)),  # end-of-epoch checkpoints, kills mid-epoch
        ("dae", "constant", 3, (4, 26, 44)),  # mid-epoch checkpoints
        ("vae", "cosine", 2, (5, 11, 21)),  # the posterior sample draws from the RNG
    ],
)
def test_early_stopping_run_resumes_bitwise(tmp_path, recipe, schedule, every, steps):
    x, v = _data(96, 0), _data(48, 1)
    cfg = _cfg(early_stopping=2, checkpoint_every=every, schedule=schedule)
    straight = _straight(recipe, cfg, x, v, tmp_path / "straight")
    expected = _lines(tmp_path / "straight")
    stopped = len(expected)
    assert stopped < cfg.epochs, "the settings must make early stopping end the run"
    best = min(r["val/loss"] for r in expected)
    assert expected[-1]["val/loss"] > best  # so the best weights are not the last ones
    for step in steps:
        assert step < expected[-1]["step"]
        folder = tmp_path / f"killed-{step}"
        resumed = _killed_then_resumed(recipe, cfg, x, v, folder, step)
        _assert_same(resumed, straight)
        assert _lines(folder) == expected, f"killed at step {step}"


def test_interrupted_epoch_line_averages_the_whole_epoch(tmp_path):
    """A mid-epoch checkpoint carries the epoch's sums: the line of the epoch the kill cut
    in two is the uninterrupted run's, not an average of its second part."""
    x = _data(96, 0)
    cfg = _cfg(epochs=3, checkpoint_every=4)  # 6 batches an epoch: a checkpoint at batch 4
    _straight("ae", cfg, x, None, tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        Trainer(_model("ae"), cfg, tmp_path / "k").fit(_KilledAt(x, cfg, 5))
    Trainer(_model("ae"), cfg, tmp_path / "k").fit(x, resume=True)
    assert _lines(tmp_path / "k") == _lines(tmp_path / "straight")
    first = json.loads((tmp_path / "k" / "metrics.jsonl").read_text().splitlines()[0])
    assert first["seconds"] > 0 and first["cpu_seconds"] > 0


def test_resume_after_early_stop_trains_no_further(tmp_path):
    """A run killed after early stopping ended it (while saving the model, say) resumes to
    its best weights without training on."""
    x, v = _data(96, 0), _data(48, 1)
    cfg = _cfg(early_stopping=2)
    straight = _straight("vae", cfg, x, v, tmp_path)
    lines = _lines(tmp_path)
    assert len(lines) < cfg.epochs
    again = _model("vae", seed=7)
    hist = Trainer(again, cfg, tmp_path).fit(x, v, resume=True)
    assert [r["epoch"] for r in hist] == [r["epoch"] for r in lines]
    _assert_same(again, straight)
    assert _lines(tmp_path) == lines


@dataclass
class _NoOptions:
    def validate(self):
        pass


@BOTTLENECKS.register("test-aux-tracker")
class _AuxTracker(Bottleneck):
    """Identity with an auxiliary parameter on its own optimizer: it tracks the mean latent
    (as a learned codec's CDF parameters track the latents)."""

    Config = _NoOptions

    def __init__(self, cfg, latent_dim):
        super().__init__(latent_dim)
        self.centre = nn.Parameter(torch.zeros(latent_dim))
        self.last = None

    def forward(self, h, step=None):
        self.last = h.detach().mean(0) if self.training else self.last
        return BottleneckOutput(z=h)

    def aux_parameters(self):
        return [self.centre]

    def aux_loss(self):
        return ((self.centre - self.last) ** 2).sum()


def test_the_aux_optimizer_resumes_exactly(tmp_path):
    x = _data(96, 0)
    cfg = _cfg(epochs=3, checkpoint_every=4)

    def model():
        torch.manual_seed(0)
        spec = {"latent_dim": 3, "bottleneck": {"name": "test-aux-tracker"}}
        return ae.Autoencoder(ae.resolve("ae", [10], (-3.0, 3.0), spec))

    straight = model()
    Trainer(straight, cfg, tmp_path / "straight").fit(x)
    with pytest.raises(KeyboardInterrupt):
        Trainer(model(), cfg, tmp_path / "k").fit(_KilledAt(x, cfg, 10))
    resumed = model()
    Trainer(resumed, cfg, tmp_path / "k").fit(x, resume=True)
    _assert_same(resumed, straight)
    lines = _lines(tmp_path / "k")
    assert lines == _lines(tmp_path / "straight") and "train/aux_loss" in lines[0]
