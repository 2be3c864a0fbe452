"""The pipeline module: every recipe builds and trains a step; the use methods check inputs."""

from __future__ import annotations

import pytest
import torch

from autoencoding import Autoencoder, AutoencodingError, ModelConfig, resolve
from autoencoding.recipes import RECIPES, auto_reconstruction

# recipes whose nets read one token per table column: images get a clear error instead
TABLE_ONLY = {"remasker"}
#: masked patch recipes take series, images or video only (a flat row is refused at build);
#: a small sample shape each builds on
PATCH_SHAPES = {"mae": (1, 8, 8), "mae-video": (1, 2, 8, 8), "patch-mae": (2, 16), "pits": (2, 16)}
#: image codecs (GDN conv nets, 4 stride-2 stages; the hyperprior 2 more): images only, sides a
#: multiple of 16 (64 with a hyperprior); any size, so the stored shape is (C, None, None)
IMAGE_SHAPES = {"bmshj-factorized": (3, 16, 16), "bmshj-hyperprior": (3, 64, 64)}
IMAGE_SHAPES["mbt-mean-scale"] = (3, 64, 64)


def build(recipe="ae", shape=(64,), data_range=(0.0, 1.0), **overrides):
    torch.manual_seed(0)
    return Autoencoder(resolve(recipe, list(shape), data_range, overrides or None))


@pytest.mark.parametrize("shape, data_range", [((64,), (0.0, 1.0)), ((1, 8, 8), (-3.0, 3.0))])
@pytest.mark.parametrize("recipe", RECIPES.names())
def test_every_recipe_builds_and_its_terms_sum_to_the_loss(recipe, shape, data_range):
    if recipe in TABLE_ONLY and len(shape) > 1:
        with pytest.raises(AutoencodingError, match="expects table rows"):
            build(recipe, shape, data_range)
        return
    if recipe in PATCH_SHAPES:
        if len(shape) == 1:
            with pytest.raises(AutoencodingError, match="expects samples shaped like a series"):
                build(recipe, shape, data_range)
            return
        shape = PATCH_SHAPES[recipe]
    if recipe in IMAGE_SHAPES:
        if len(shape) == 1:
            with pytest.raises(AutoencodingError, match="works on images"):
                build(recipe, shape, data_range)
        shape = IMAGE_SHAPES[recipe]
    model = build(recipe, shape, data_range).train()
    lo, hi = data_range
    x = lo + (hi - lo) * torch.rand(16, *shape, generator=torch.Generator().manual_seed(1))
    out = model(x, step=0)
    assert out.terms and "reconstruction" in out.terms
    for name, term in out.terms.items():
        assert term.dim() == 0 and torch.isfinite(term), name
    torch.testing.assert_close(out.loss, sum(out.terms.values()))
    assert out.out.shape[0] == 16
    for name, value in out.metrics.items():
        assert not value.requires_grad, name
    out.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("recipe", RECIPES.names())
def test_every_recipe_stores_a_complete_config(recipe):
    shape = PATCH_SHAPES.get(recipe, IMAGE_SHAPES.get(recipe, (64,)))
    model = build(recipe, shape)
    doc = model.config_dict()
    stored = [shape[0], None, None] if recipe in IMAGE_SHAPES else list(shape)
    assert doc["recipe"] == recipe and doc["input_shape"] == stored
    assert doc["reconstruction"]["name"] != "auto"
    again = Autoencoder(doc)  # the stored config rebuilds the same module
    assert again.config == model.config
    assert again.state_dict().keys() == model.state_dict().keys()


@pytest.mark.parametrize("net", ["mlp", "conv2d"])
@pytest.mark.parametrize("recipe", ["ae", "vae"])
def test_encode_decode_reconstruct_shapes(recipe, net):
    model = build(recipe, (1, 8, 8), latent_dim=5, encoder={"name": net})
    x = torch.rand(7, 1, 8, 8)
    z = model.encode(x)
    assert z.shape == (7, 5) and not z.requires_grad
    assert model.decode(z).shape == (7, 1, 8, 8)
    assert model.reconstruct(x).shape == (7, 1, 8, 8)
    # flat rows are accepted for image-shaped models
    torch.testing.assert_close(model.encode(x.flatten(1)), z)


def test_use_methods_run_in_eval_mode_and_restore_the_mode():
    model = build("vae").train()
    x = torch.rand(5, 64)
    z1, z2 = model.encode(x), model.encode(x)
    assert torch.equal(z1, z2)  # posterior means, no sampling
    assert model.training
    h = model.encoder(x)
    torch.testing.assert_close(z1, h[:, : model.config.latent_dim])


def test_dae_corruption_only_in_training():
    model = build("dae-masking")
    x = torch.rand(4, 64) + 0.5
    model.eval()
    torch.testing.assert_close(model.reconstruct(x), model.reconstruct(x))
    first = model.reconstruct(x)
    model.train()
    torch.manual_seed(0)
    noisy = model(x).out
    torch.testing.assert_close(model.reconstruct(x), first)
    assert not torch.allclose(noisy, model.eval()(x).out)


def test_bernoulli_reconstructions_are_probabilities():
    model = build("vae")
    rec = model.reconstruct(torch.rand(6, 64))
    assert rec.min() >= 0 and rec.max() <= 1


@pytest.mark.parametrize("method", ["encode", "reconstruct"])
def test_wrong_feature_count_names_expected_and_got(method):
    model = build("ae", (1, 8, 8))
    with pytest.raises(AutoencodingError) as e:
        getattr(model, method)(torch.rand(3, 50))
    msg = str(e.value)
    assert msg.startswith(method)
    assert "(1, 8, 8)" in msg and "64 features" in msg and "(50,)" in msg
    with pytest.raises(AutoencodingError, match=r"expected samples shaped \(64,\).*got \(8, 8\)"):
        getattr(build("ae"), method)(torch.rand(3, 8, 8))


def test_a_single_vector_is_rejected_with_a_hint():
    with pytest.raises(AutoencodingError, match=r"expected a batch shaped \(n, 64\).*x\[None\]"):
        build("ae").encode(torch.rand(64))


def test_an_empty_batch_is_rejected():
    with pytest.raises(AutoencodingError, match="encode: the batch is empty"):
        build("ae").encode(torch.zeros(0, 64))
    with pytest.raises(AutoencodingError, match="reconstruct: the batch is empty"):
        build("ae", (1, 8, 8)).reconstruct(torch.zeros(0, 1, 8, 8))


def test_integer_and_numpy_inputs_are_converted():
    model = build("ae")
    z = model.encode(torch.ones(2, 64, dtype=torch.int64))
    torch.testing.assert_close(z, model.encode(torch.ones(2, 64)))
    import numpy as np

    assert model.encode(np.ones((2, 64), dtype=np.float32)).shape == (2, 8)


def test_decode_checks_the_latent_shape():
    model = build("ae", latent_dim=4)
    with pytest.raises(AutoencodingError, match=r"expected latents shaped \(n, 4\), got \(3, 5\)"):
        model.decode(torch.zeros(3, 5))
    with pytest.raises(AutoencodingError, match=r"expected latents shaped \(n, 4\), got \(4,\)"):
        model.decode(torch.zeros(4))


def test_codes_on_a_continuous_bottleneck_error_clearly():
    model = build("ae")
    with pytest.raises(AutoencodingError, match="bottleneck 'identity' has no discrete codes"):
        model.encode(torch.rand(2, 64), codes=True)
    with pytest.raises(AutoencodingError, match="integer codes but bottleneck 'identity'"):
        model.decode(torch.zeros(2, 8, dtype=torch.int64))


@pytest.mark.parametrize("recipe", ["ae", "cae", "lorae", "dae"])
def test_sample_before_the_latent_sampler_is_fitted_errors_clearly(recipe):
    # these recipes generate through a gmm fitted at the end of training; an untrained
    # model has nothing fitted yet
    with pytest.raises(AutoencodingError, match=r"sampler 'gmm' was never fitted"):
        build(recipe).sample(4)


def test_sample_on_a_model_without_prior_or_sampler_errors_clearly():
    model = Autoencoder(resolve("ae", [8], overrides={"latent_dim": 2, "samplers": []}))
    with pytest.raises(AutoencodingError, match=r"no prior and no fitted latent sampler"):
        model.sample(4)


def test_vae_samples_are_seeded_and_shaped():
    model = build("vae", (1, 8, 8))
    a = model.sample(3, generator=torch.Generator().manual_seed(0))
    b = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert a.shape == (3, 1, 8, 8) and torch.equal(a, b)
    with pytest.raises(AutoencodingError, match="n must be >= 1"):
        model.sample(0)


# -- configs and resolve --------------------------------------------------------------------
def test_resolve_picks_bernoulli_for_unit_interval_data():
    cfg = resolve("vae", [64], (0.0, 1.0))
    assert cfg.reconstruction == {"name": "bernoulli"}
    assert cfg.bottleneck["name"] == "gaussian"


def test_resolve_picks_a_learned_gaussian_for_standardized_data():
    cfg = resolve("vae", [13], (-2.5, 3.1))
    assert cfg.reconstruction["name"] == "gaussian"
    assert cfg.reconstruction["variance"] == "learned"
    assert auto_reconstruction(0.0, 1.0001)["name"] == "gaussian"
    assert auto_reconstruction(-0.0001, 1.0)["name"] == "gaussian"


def test_resolve_auto_likelihood_needs_the_data_range():
    with pytest.raises(AutoencodingError, match="picks its likelihood from the data"):
        resolve("vae", [64])


def test_resolve_keeps_explicit_likelihoods_and_fills_defaults():
    cfg = resolve("ae", [64], (0.0, 1.0))
    assert cfg.reconstruction == {"name": "mse"}
    assert cfg.encoder == {"name": "mlp", "hidden": None, "activation": "relu", "mask_input": False}
    assert cfg.decoder == cfg.encoder  # None mirrors the encoder
    cfg = resolve("vae", [64], (0.0, 1.0), {"reconstruction": {"name": "mse"}})
    assert cfg.reconstruction == {"name": "mse"}


def test_overrides_merge_part_options_by_name():
    cfg = resolve("beta-vae", [64], (0, 1), {"bottleneck": {"warmup_steps": 10}})
    assert cfg.bottleneck["beta"] == 4.0 and cfg.bottleneck["warmup_steps"] == 10
    cfg = resolve("beta-vae", [64], (0, 1), {"bottleneck": {"name": "gaussian", "beta": 2.0}})
    assert cfg.bottleneck["beta"] == 2.0
    # a different part replaces the recipe's one, options and all
    cfg = resolve("lorae", [64], (0, 1), {"bottleneck": {"name": "identity"}})
    assert cfg.bottleneck == {"name": "identity"}


def test_bad_overrides_are_rejected_with_the_location():
    with pytest.raises(
        AutoencodingError, match=r"bottleneck 'identity': unknown option\(s\) 'beta'"
    ):
        resolve("ae", [64], overrides={"bottleneck": {"beta": 2}})
    with pytest.raises(AutoencodingError, match=r"recipe 'ae': unknown option\(s\) 'latent'"):
        resolve("ae", [64], overrides={"latent": 2})
    with pytest.raises(AutoencodingError, match="unknown recipe 'nope'"):
        resolve("nope", [64])


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"latent_dim": 0}, "latent_dim must be >= 1, got 0"),
        ({"latent_dim": -3}, "latent_dim must be >= 1"),
        ({"input_shape": []}, "input_shape must be a non-empty list"),
        ({"input_shape": [0, 4]}, "input_shape must be a non-empty list of positive sizes"),
        ({"reconstruction": {"name": "auto"}}, "must be resolved from the data"),
        ({"encoder": {"name": "transformer"}}, "unknown encoder 'transformer'; known encoders"),
        ({"encoder": {"hidden": [8]}}, "expected a name or a mapping with a 'name' key"),
        ({"latent_dim": "8"}, "model.latent_dim: expected int or list"),
    ],
)
def test_bad_model_configs(settings, message):
    with pytest.raises(AutoencodingError, match=message):
        Autoencoder({"input_shape": [4], **settings})


def test_model_config_normalized_does_not_mutate():
    cfg = ModelConfig(input_shape=[4], encoder={"name": "mlp"})
    norm = cfg.normalized()
    assert cfg.encoder == {"name": "mlp"} and cfg.decoder is None
    assert norm.decoder == {
        "name": "mlp",
        "hidden": None,
        "activation": "relu",
        "mask_input": False,
    }
