"""MaskedAutoencoderImputer: beats mean imputation, keeps observed values, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.impute import SimpleImputer

from autoencoding.estimators import MaskedAutoencoderImputer

FAST = {"epochs": 60, "n_estimators": 1}


def _rmse(x, filled, mask):
    return float(np.sqrt(np.mean((filled[mask] - x[mask]) ** 2)))


def _holes(x, mask):
    xm = x.copy()
    xm[mask] = np.nan
    return xm


@pytest.mark.parametrize(
    "recipe, kw",
    [
        ("ae", {}),
        (
            "remasker",
            {
                "epochs": 40,
                "batch_size": 64,
                "model": {"encoder": {"name": "feature_transformer", "embed_dim": 16, "depth": 1}},
            },
        ),
    ],
)
def test_beats_mean_and_keeps_observed(wine_missing, recipe, kw):
    x, mask = wine_missing
    xm = _holes(x, mask)
    imp = MaskedAutoencoderImputer(recipe, random_state=0, **{**FAST, **kw})
    filled = imp.fit_transform(xm)
    mean = _rmse(x, SimpleImputer().fit_transform(xm), mask)
    ours = _rmse(x, filled, mask)
    assert ours < 0.9 * mean, (ours, mean)
    # observed entries come back bit for bit, and nothing is left missing
    np.testing.assert_array_equal(filled[~mask], xm[~mask])
    assert np.isfinite(filled).all()


@pytest.mark.parametrize("recipe", ["ae", "remasker"])
def test_nan_never_reaches_the_network(wine_missing, recipe, monkeypatch):
    """NaN marks the missing cells on the way in; the corruption record zeroes them, so no
    layer (autograd modules or the fast MLP step's kernels) and no loss ever sees one."""
    import torch

    from autoencoding.model import Autoencoder
    from autoencoding.parts.base import Corruption
    from autoencoding.train.fast import mlp as fast_mlp

    x, mask = wine_missing
    seen = []

    def check(module, args):
        if not isinstance(module, (Autoencoder, Corruption)):  # these take NaN = missing
            seen.extend(bool(torch.isnan(a).any()) for a in args if torch.is_tensor(a))

    kernel = fast_mlp.mlp_forward

    def checked_kernel(net, activation, inp):
        seen.append(bool(torch.isnan(inp).any()))
        return kernel(net, activation, inp)

    monkeypatch.setattr(fast_mlp, "mlp_forward", checked_kernel)
    handle = torch.nn.modules.module.register_module_forward_pre_hook(check)
    try:
        kw = {"model": {"encoder": {"name": "feature_transformer", "embed_dim": 8, "depth": 1,
                                    "heads": 2}}} if recipe == "remasker" else {}  # fmt: skip
        imp = MaskedAutoencoderImputer(recipe, epochs=3, n_estimators=1, random_state=0, **kw)
        filled = imp.fit_transform(_holes(x, mask))
    finally:
        handle.remove()
    assert seen and not any(seen)
    losses = [h["train/loss"] for h in imp.histories_[0]]
    assert np.isfinite(losses).all()
    assert np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[~mask], x[~mask])


def test_transform_new_rows_and_dtypes(wine_missing):
    x, mask = wine_missing
    xm = _holes(x, mask)
    imp = MaskedAutoencoderImputer(random_state=0, epochs=5, n_estimators=1).fit(xm[:100])
    new = xm[100:].astype(np.float32)
    new[0] = np.nan  # a row with nothing observed still gets finite values
    out = imp.transform(new)
    assert out.dtype == np.float32 and out.shape == new.shape
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[~np.isnan(new)], new[~np.isnan(new)])
    complete = x[:5]
    np.testing.assert_array_equal(imp.transform(complete), complete)
    assert list(imp.get_feature_names_out()) == [f"x{i}" for i in range(13)]


def test_same_seed_same_values(wine_missing):
    x, mask = wine_missing
    xm = _holes(x, mask)
    a = MaskedAutoencoderImputer(random_state=1, epochs=5).fit_transform(xm)
    b = MaskedAutoencoderImputer(random_state=1, epochs=5).fit_transform(xm)
    np.testing.assert_array_equal(a, b)


def test_all_missing_column_is_a_clear_error(wine_missing):
    x, mask = wine_missing
    xm = _holes(x, mask)
    xm[:, 4] = np.nan
    with pytest.raises(ValueError, match=r"column\(s\) \[4\] have no observed value"):
        MaskedAutoencoderImputer(epochs=2).fit(xm)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 5, np.inf, x), "infinity"),
        (lambda x: x[:1], "minimum of 2"),
        (lambda x: x.astype(str).astype(object) + "a", "convert|numeric|string"),
    ],
    ids=["inf", "one-row", "non-numeric"],
)
def test_bad_input(wine_missing, bad, match):
    x, mask = wine_missing
    with pytest.raises(ValueError, match=match):
        MaskedAutoencoderImputer(epochs=2).fit(bad(_holes(x, mask)))


def test_wrong_feature_count_and_bad_params(wine_missing):
    x, mask = wine_missing
    xm = _holes(x, mask)
    imp = MaskedAutoencoderImputer(epochs=2, random_state=0).fit(xm)
    with pytest.raises(ValueError, match="13 features"):
        imp.transform(xm[:, :4])
    with pytest.raises(ValueError, match="mask_rate"):
        MaskedAutoencoderImputer(mask_rate=1.0).fit(xm)
    with pytest.raises(ValueError, match="remask"):
        MaskedAutoencoderImputer(model={"corruption": {"name": "gaussian"}}).fit(xm)
