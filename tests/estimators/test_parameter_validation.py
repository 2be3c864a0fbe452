"""The estimators' declared parameter constraints: one per ``__init__`` parameter, the shared
ones declared once in the base class, and a bad value fails before training, naming itself."""

from __future__ import annotations

import inspect

import pytest
from sklearn.datasets import load_iris
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import check_param_validation

from autoencoding.estimators import (
    AutoencoderEmbedder,
    AutoencoderOutlierDetector,
    MaskedAutoencoderImputer,
)
from autoencoding.estimators.base import AutoencoderEstimatorBase

ESTIMATORS = [AutoencoderEmbedder, AutoencoderOutlierDetector, MaskedAutoencoderImputer]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_constraints_cover_exactly_the_init_parameters(cls):
    params = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert set(cls._parameter_constraints) == params
    assert issubclass(cls, AutoencoderEstimatorBase)
    assert set(AutoencoderEstimatorBase._parameter_constraints) <= params


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_scikit_learn_param_validation_check(cls):
    # scikit-learn runs this check on its own estimators (test_common), not in
    # parametrize_with_checks: every parameter set to a wrong type, then to a value just
    # outside each declared constraint, must fail fit, fit_transform and fit_predict
    check_param_validation(cls.__name__, cls())


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "name, value",
    [
        ("random_state", "x"),
        ("epochs", -1),
        ("batch_size", 0),
        ("latent_dim", 0),
        ("lr", 0.0),
        ("n_jobs", 0),
        ("hidden", 8),
        ("model", "big"),
        ("train", [("epochs", 2)]),
        ("recipe", 3),
    ],
)
def test_a_bad_shared_parameter_is_named(cls, name, value):
    x = load_iris().data[:20]
    match = rf"The '{name}' parameter of {cls.__name__} must be .* Got .* instead"
    with pytest.raises(InvalidParameterError, match=match) as info:
        cls(**{name: value}).fit(x)
    assert isinstance(info.value, ValueError)  # callers catching ValueError still do


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_an_unregistered_recipe_lists_the_known_ones(cls):
    with pytest.raises(ValueError, match=r"unknown recipe 'nope'.*\bvae\b"):
        cls("nope").fit(load_iris().data[:20])
