"""The core-v2 contract: shaped samples and latents, the corruption record read by the
encoder, folders saved by release 0.1.0 loading unchanged, declared part hooks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import autoencoding as ae
from autoencoding import Autoencoder, AutoencodingError
from autoencoding.evaluate.metrics import reconstruction_metrics
from autoencoding.model import CONFIG_VERSION, ModelConfig
from autoencoding.parts.base import (
    CORRUPTIONS,
    ENCODERS,
    Corrupted,
    Corruption,
    Encoder,
    Part,
)
from autoencoding.train import TrainConfig, Trainer

V0_1 = Path(__file__).parent / "data" / "v0_1"


# -- folders saved by release 0.1.0 ------------------------------------------------------
@pytest.mark.parametrize("name", ["vae", "vqvae", "sae-topk", "remasker", "conv-ae"])
def test_folders_saved_by_release_0_1_load_and_encode_the_same(name):
    expected = json.loads((V0_1 / "expected.json").read_text())[name]
    doc = json.loads((V0_1 / name / "config.json").read_text())
    assert "config_version" not in doc["model"]  # written before versions existed
    model = ae.load(V0_1 / name)
    assert model.config.config_version == CONFIG_VERSION  # migrated on load
    assert model.config.samplers == []  # none before version 3
    if name == "sae-topk":
        probe = np.random.default_rng(0).normal(size=(512, 16)).astype("float32")[:3]
    elif name == "remasker":
        from sklearn.datasets import load_wine

        probe = load_wine().data[:3]
    else:
        from sklearn.datasets import load_digits

        probe = load_digits().data[:3] / 16
        if name == "conv-ae":
            probe = probe.reshape(-1, 1, 8, 8)
    np.testing.assert_allclose(model.encode(probe), expected["encode"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        model.reconstruct(probe), expected["reconstruct"], rtol=1e-5, atol=1e-5
    )


def test_a_config_from_a_newer_layout_is_refused_with_the_reason():
    with pytest.raises(AutoencodingError, match="config_version 99 is newer"):
        ModelConfig.from_dict({"input_shape": [4], "config_version": 99})


# -- shaped latents: a fully convolutional autoencoder -----------------------------------
def _images(n: int, size: int, seed: int) -> torch.Tensor:
    """Smooth random images: low-frequency patterns a small conv AE can learn."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, size // 4, size // 4, generator=g)
    return nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")


def test_fully_convolutional_autoencoder_trains_and_evaluates_at_two_image_sizes():
    torch.manual_seed(0)
    nets = {"name": "conv2d", "channels": [16, 16], "latent": "spatial"}
    cfg = ModelConfig(input_shape=[1, None, None], latent_dim=[4, None, None],
                      encoder=nets, reconstruction={"name": "mse"})  # fmt: skip
    model = Autoencoder(cfg)
    small, large = _images(256, 16, 0), _images(64, 32, 1)
    # the spatial latent follows the input: (B, 4, H/4, W/4)
    assert model.encode(small[:2]).shape == (2, 4, 4, 4)
    assert model.encode(large[:2]).shape == (2, 4, 8, 8)
    before = reconstruction_metrics(model, large)["mse"]
    Trainer(model, TrainConfig(epochs=15, batch_size=32, lr=3e-3, progress=False)).fit(small)
    # evaluated on both sizes, the one trained size and an unseen one
    after_small = reconstruction_metrics(model, _images(64, 16, 2))["mse"]
    after_large = reconstruction_metrics(model, large)["mse"]
    baseline = float(large.var())  # predicting the mean image
    assert after_large < 0.5 * before and after_large < 0.25 * baseline
    assert after_small < 0.25 * float(small.var())
    rec = model.reconstruct(large[:3])
    assert rec.shape == (3, 1, 32, 32)
    with pytest.raises(AutoencodingError, match="divisible by 2"):
        model.reconstruct(_images(2, 18, 0)[:, :, :18, :18])


def test_shaped_inputs_are_checked_against_their_fixed_sizes():
    nets = {"name": "conv2d", "channels": [8], "latent": "spatial"}
    model = Autoencoder(ModelConfig(input_shape=[3, None, None], latent_dim=[2, None, None],
                                    encoder=nets))  # fmt: skip
    with pytest.raises(AutoencodingError, match=r"expected samples shaped \(3, any, any\)"):
        model.encode(torch.zeros(2, 1, 8, 8))


# -- the corruption record: a visible-only token encoder ---------------------------------
@dataclass
class TokenMaskConfig:
    ratio: float = 0.75
    """Share of the tokens hidden from the encoder."""

    def validate(self) -> None:
        pass


class TokenMask(Corruption):
    """Random token masking (MAE): the same number of visible tokens in every row."""

    Config = TokenMaskConfig

    def __init__(self, cfg: TokenMaskConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, x: torch.Tensor) -> Corrupted:
        b, n, _ = x.shape
        keep = max(1, int(round(n * (1 - self.cfg.ratio))))
        order = torch.rand(b, n).argsort(1)
        visible = order[:, :keep].sort(1).values
        hidden = torch.ones(b, n, dtype=torch.bool).scatter_(1, visible, False)
        where = hidden.unsqueeze(-1).expand_as(x)  # the loss scores the hidden tokens only
        return Corrupted(x, where=where, hidden=hidden, visible=visible)


class VisibleOnlyEncoder(Encoder):
    """Mean of a linear map over the visible tokens only; records what it was given."""

    def __init__(self, cfg, input_shape, out_features) -> None:
        super().__init__()
        self.proj = nn.Linear(input_shape[-1], out_features)
        self.seen: list[torch.Tensor] = []

    def encode(self, c: Corrupted) -> torch.Tensor:
        x = c.x
        if c.visible is not None:  # gather the visible tokens: the hidden never enter
            x = x.gather(1, c.visible.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        self.seen.append(x.detach())
        return self.proj(x).mean(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(Corrupted(x))


@pytest.fixture
def token_parts():
    CORRUPTIONS.register("test-token-mask")(TokenMask)
    ENCODERS.register("test-visible-only")(VisibleOnlyEncoder)
    yield
    CORRUPTIONS._items.pop("test-token-mask")
    ENCODERS._items.pop("test-visible-only")


def test_a_token_encoder_receives_only_the_visible_positions(token_parts):
    torch.manual_seed(0)
    cfg = ModelConfig(input_shape=[8, 3], latent_dim=4,
                      encoder={"name": "test-visible-only"}, decoder={"name": "mlp"},
                      corruption={"name": "test-token-mask", "ratio": 0.75})  # fmt: skip
    model = Autoencoder(cfg).train()
    x = torch.arange(2 * 8 * 3, dtype=torch.float32).view(2, 8, 3)
    out = model(x)
    seen = model.encoder.seen[-1]
    assert seen.shape == (2, 2, 3)  # 2 of 8 tokens visible per row
    for row in range(2):  # each seen token is one of the row's tokens, and they differ
        rows = {tuple(t.tolist()) for t in x[row]}
        assert all(tuple(t.tolist()) in rows for t in seen[row])
        assert len({tuple(t.tolist()) for t in seen[row]}) == 2
    # the loss counted the hidden tokens only: changing a visible token's target would
    # change it, so compare against the loss restricted by hand
    assert torch.isfinite(out.loss)
    # inference sees every token (no corruption)
    model.encode(x)
    assert model.encoder.seen[-1].shape == (2, 8, 3)


# -- declared hooks: parameter groups, an auxiliary loss with its own optimizer, the end --
class CountingCorruption(Corruption):
    """No corruption, but it declares every trainer hook and records the calls."""

    identity = True

    def __init__(self, cfg=None) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(3.0))  # trained only by its aux loss
        self.calls: list[str] = []
        self.seen_rows = 0

    def forward(self, x: torch.Tensor) -> Corrupted:
        return Corrupted(x)

    def aux_parameters(self) -> list[nn.Parameter]:
        return [self.scale]

    def aux_loss(self) -> torch.Tensor:
        return (self.scale - 1.0).pow(2)

    def on_train_start(self, total_steps: int) -> None:
        self.calls.append(f"start {total_steps}")

    def on_train_end(self, batches) -> None:
        self.calls.append("end")
        self.seen_rows = sum(len(b) for b in batches())


def test_trainer_runs_the_declared_hooks(tmp_path):
    torch.manual_seed(0)
    model = Autoencoder(ModelConfig(input_shape=[6], latent_dim=2))
    model.corruption = CountingCorruption()
    x = torch.randn(40, 6)
    t = Trainer(model, TrainConfig(epochs=3, batch_size=4, lr=0.1, progress=False), tmp_path)
    main_params = {id(p) for g in t._param_groups() for p in g["params"]}
    assert id(model.corruption.scale) not in main_params  # aux parameters stay out
    history = t.fit(x)
    assert model.corruption.calls == ["start 30", "end"]
    assert model.corruption.seen_rows == 40  # on_train_end re-read the training data
    assert model.corruption.scale.item() < 2.0  # its own optimizer moved it toward 1
    assert "train/aux_loss" in history[-1]
    assert isinstance(model.corruption, Part)


def test_a_part_on_the_wrong_layout_is_refused_at_build_time():
    # flat rows with a spatial latent: an MLP encoder produces flat codes only
    cfg = ModelConfig(input_shape=[16], latent_dim=[4, None, None])
    with pytest.raises(AutoencodingError, match=r"encoder 'mlp' works on flat data .* \[4, null"):
        Autoencoder(cfg)


def test_run_samples_from_a_stochastic_bottleneck_only_when_asked():
    torch.manual_seed(0)
    vae = Autoencoder(ModelConfig(input_shape=[6], latent_dim=2,
                                  bottleneck={"name": "gaussian"}))  # fmt: skip
    x = torch.randn(5, 6)
    vae.eval()
    mean = vae.run(x, decode=False).bottleneck
    drawn = vae.run(x, sample=True, decode=False).bottleneck
    assert torch.equal(mean.z, mean.params["mean"])
    assert not torch.allclose(drawn.z, mean.z)  # a posterior draw, not the mean
    assert not vae.bottleneck.training  # the module's mode is restored
    vae.train()
    assert torch.equal(vae.run(x, sample=False, decode=False).bottleneck.z, mean.z)


def test_huge_finite_values_scale_in_float64_and_decode_refuses_nan():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    x[:, 2] = 1e30 * (1 + 0.1 * rng.normal(size=200))  # a float32 variance would be inf
    m = ae.fit("ae", x, train={"epochs": 2, "progress": False})
    assert np.isfinite(m.scaler.scale).all()
    assert np.isfinite(m.encode(x[:5])).all() and np.isfinite(m.reconstruct(x[:5])).all()
    with pytest.raises(AutoencodingError, match="decode: latents hold NaN or inf"):
        m.decode(np.full((2, 8), np.nan))
    from autoencoding.data import Scaler

    tiny = Scaler("standard", [0.0] * 4, [1e-20] * 4)  # 1e30 / 1e-20 does not fit in float32
    with pytest.raises(AutoencodingError, match="feature 2: .* beyond what float32 holds"):
        tiny.transform(x)
    with pytest.raises(AutoencodingError, match="scale must be finite and positive"):
        Scaler("standard", [0.0] * 4, [1.0, 0.0, 1.0, 1.0])
