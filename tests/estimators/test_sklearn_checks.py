"""scikit-learn's estimator checks for every estimator (small settings to keep them fast)."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from autoencoding.estimators import (
    AutoencoderEmbedder,
    AutoencoderOutlierDetector,
    MaskedAutoencoderImputer,
)

EXPECTED_FAILURES = {}


def _expected(est):
    return EXPECTED_FAILURES.get(type(est).__name__, {})


@parametrize_with_checks(
    [
        AutoencoderOutlierDetector(epochs=3, n_estimators=1, random_state=0),
        MaskedAutoencoderImputer(epochs=3, random_state=0),
        MaskedAutoencoderImputer("ae", epochs=3, random_state=0),
        AutoencoderEmbedder(latent_dim=2, epochs=3, random_state=0),
    ],
    expected_failed_checks=_expected,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
