"""Encoder/decoder networks: shapes, sizing from the data, the exact contractive Jacobian."""

from __future__ import annotations

import pytest
import torch
from torch.func import jacrev, vmap

from autoencoding import AutoencodingError
from autoencoding.parts import DECODERS, ENCODERS
from autoencoding.parts.base import Encoder, build
from autoencoding.parts.nets import auto_width


def mlp(input_shape, out, **opts):
    return build(ENCODERS, {"name": "mlp", **opts}, input_shape=input_shape, out_features=out)


def autograd_jacobian_sq(encoder, x):
    jac = vmap(jacrev(lambda row: encoder(row.unsqueeze(0)).squeeze(0)))(x)
    return jac.pow(2).flatten(1).sum(1)


@pytest.mark.parametrize(
    "n, width", [(1, 64), (10, 64), (16, 64), (17, 128), (64, 256), (300, 1024), (5000, 1024)]
)
def test_auto_width(n, width):
    assert auto_width(n) == width


def test_mlp_shapes_and_default_widths(torch_gen):
    enc = mlp((1, 8, 8), 6)
    dec = build(DECODERS, {"name": "mlp"}, latent_dim=3, output_shape=(1, 8, 8), factor=2)
    widths = [m.out_features for m in enc.net if isinstance(m, torch.nn.Linear)]
    assert widths == [256, 256, 6]
    x = torch.rand(5, 1, 8, 8, generator=torch_gen)
    assert enc(x).shape == (5, 6)
    assert enc(x.flatten(1)).shape == (5, 6)  # flattened rows work too
    assert dec(torch.zeros(5, 3)).shape == (5, 2 * 64)


def test_mlp_hidden_override_and_mirrored_decoder():
    enc = mlp((20,), 4, hidden=[32, 16], activation="tanh")
    dec = build(DECODERS, {"name": "mlp", "hidden": [32, 16]}, latent_dim=4, output_shape=(20,))
    assert [m.out_features for m in enc.net if isinstance(m, torch.nn.Linear)] == [32, 16, 4]
    assert [m.out_features for m in dec.net if isinstance(m, torch.nn.Linear)] == [16, 32, 20]
    assert any(isinstance(m, torch.nn.Tanh) for m in enc.net)


def test_mlp_rejects_bad_widths_and_activations():
    with pytest.raises(AutoencodingError, match="hidden widths must be >= 1"):
        mlp((4,), 2, hidden=[8, 0])
    with pytest.raises(AutoencodingError, match=r"encoder 'mlp'.activation: expected one of"):
        mlp((4,), 2, activation="swish")


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("hidden", [[16, 12], [9], []])
def test_closed_form_jacobian_equals_autograd(activation, hidden):
    torch.manual_seed(0)
    enc = mlp((7,), 3, hidden=hidden, activation=activation).double()
    x = torch.randn(6, 7, dtype=torch.float64)
    got = enc.jacobian_frobenius_sq(x)
    assert got.shape == (6,)
    torch.testing.assert_close(got, autograd_jacobian_sq(enc, x))


def test_closed_form_jacobian_on_image_shaped_input():
    torch.manual_seed(1)
    enc = mlp((1, 4, 4), 2, hidden=[8]).double()
    x = torch.rand(3, 1, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(enc.jacobian_frobenius_sq(x), autograd_jacobian_sq(enc, x))


@pytest.mark.parametrize("activation", ["gelu", "silu", "elu"])
def test_jacobian_falls_back_to_autograd(activation):
    torch.manual_seed(0)
    enc = mlp((5,), 2, hidden=[10], activation=activation).double()
    x = torch.randn(4, 5, dtype=torch.float64)
    torch.testing.assert_close(enc.jacobian_frobenius_sq(x), autograd_jacobian_sq(enc, x))
    torch.testing.assert_close(Encoder.jacobian_frobenius_sq(enc, x), autograd_jacobian_sq(enc, x))


def test_closed_form_jacobian_is_differentiable():
    # the contractive penalty trains through it
    torch.manual_seed(0)
    enc = mlp((5,), 2, hidden=[6])
    enc.jacobian_frobenius_sq(torch.randn(4, 5)).mean().backward()
    assert all(p.grad is not None for p in enc.parameters() if p.dim() == 2)


@pytest.mark.parametrize("size, n_layers", [(8, 1), (16, 2)])
def test_conv2d_shapes_and_default_channels(size, n_layers, torch_gen):
    shape = (1, size, size)
    enc = build(ENCODERS, {"name": "conv2d"}, input_shape=shape, out_features=10)
    dec = build(DECODERS, {"name": "conv2d"}, latent_dim=5, output_shape=shape, factor=2)
    convs = [m for m in enc.convs if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64][:n_layers]
    x = torch.rand(3, *shape, generator=torch_gen)
    assert enc(x).shape == (3, 10)
    assert dec(torch.randn(3, 5, generator=torch_gen)).shape == (3, 2 * size * size)


def test_conv2d_custom_channels_on_colour_images(torch_gen):
    shape = (3, 16, 12)
    enc = build(ENCODERS, {"name": "conv2d", "channels": [8, 8]}, input_shape=shape, out_features=4)
    dec = build(DECODERS, {"name": "conv2d", "channels": [8, 8]}, latent_dim=4, output_shape=shape)
    x = torch.rand(2, *shape, generator=torch_gen)
    assert enc(x).shape == (2, 4)
    assert dec(enc(x)).shape == (2, 3 * 16 * 12)


def test_conv2d_indivisible_size_gives_a_clear_error():
    with pytest.raises(AutoencodingError, match=r"image size 10×10 must be divisible by 2\^3 = 8"):
        build(
            ENCODERS,
            {"name": "conv2d", "channels": [8, 8, 8]},
            input_shape=(1, 10, 10),
            out_features=4,
        )
    # odd sizes fit no stride-2 layer at all: an error, not an IndexError or a conv-less net
    with pytest.raises(AutoencodingError, match=r"image size 7×7 is not divisible by 2"):
        build(DECODERS, {"name": "conv2d"}, latent_dim=2, output_shape=(1, 7, 7))
    with pytest.raises(AutoencodingError, match=r"image size 7×8 is not divisible by 2"):
        build(ENCODERS, {"name": "conv2d"}, input_shape=(1, 7, 8), out_features=4)


def test_conv2d_needs_image_shaped_data():
    with pytest.raises(
        AutoencodingError, match=r"need image data shaped \(channels, height, width\)"
    ):
        build(ENCODERS, {"name": "conv2d"}, input_shape=(64,), out_features=4)
    with pytest.raises(AutoencodingError, match="non-empty list of positive ints"):
        build(ENCODERS, {"name": "conv2d", "channels": []}, input_shape=(1, 8, 8), out_features=4)
