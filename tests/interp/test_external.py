"""Loading SAEs saved by SAELens and sparsify (interp.external).

Each test writes a folder in the library's format by hand (known random weights, no
dependency on the libraries) and checks that our loaded model's latents and reconstruction
equal the library's formula, computed here independently in numpy. The check against the
libraries themselves is benchmarks/claims/external_sae.py.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

import autoencoding as ae
from autoencoding.errors import AutoencodingError
from autoencoding.interp import load_external
from autoencoding.interp.external import detect_format, is_external

D, L, K = 12, 40, 5


def _rng(seed=0):
    return np.random.default_rng(seed)


def _weights(seed=0, dec_norm_range=(0.05, 2.0)):
    """(W_enc (d, L) SAELens orientation, b_enc, W_dec (L, d) with unequal row norms, b_dec)."""
    r = _rng(seed)
    W_enc = r.normal(size=(D, L)).astype(np.float32) / np.sqrt(D)
    b_enc = (0.1 * r.normal(size=L)).astype(np.float32)
    W_dec = r.normal(size=(L, D)).astype(np.float32)
    W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)
    W_dec *= r.uniform(*dec_norm_range, size=(L, 1)).astype(np.float32)
    b_dec = r.normal(size=D).astype(np.float32)
    return W_enc, b_enc, W_dec, b_dec


def _x(n=64, seed=1):
    return _rng(seed).normal(size=(n, D)).astype(np.float32) * 2.0


def _topk_relu(pre, k):
    z = np.zeros_like(pre)
    idx = np.argsort(-pre, axis=1)[:, :k]
    rows = np.arange(len(pre))[:, None]
    z[rows, idx] = np.maximum(pre[rows, idx], 0)
    return z


def _write_saelens(path, cfg, weights):
    path.mkdir(parents=True, exist_ok=True)
    base = {
        "d_in": D,
        "d_sae": L,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {"sae_lens_version": "6.54.12", "hook_name": "blocks.0.hook_resid_post"},
    }
    (path / "cfg.json").write_text(json.dumps({**base, **cfg}))
    save_file(
        {k: np.ascontiguousarray(v) for k, v in weights.items()},
        str(path / "sae_weights.safetensors"),
    )
    return path


def _write_sparsify(path, cfg, weights):
    path.mkdir(parents=True, exist_ok=True)
    base = {
        "activation": "topk",
        "expansion_factor": 32,
        "normalize_decoder": True,
        "num_latents": L,
        "k": K,
        "multi_topk": False,
        "skip_connection": False,
        "transcode": False,
        "d_in": D,
    }
    (path / "cfg.json").write_text(json.dumps({**base, **cfg}))
    save_file(
        {k: np.ascontiguousarray(v) for k, v in weights.items()}, str(path / "sae.safetensors")
    )
    return path


def _check(model, x, z_ref, xhat_ref, atol=1e-5):
    z = model.encode(x)
    np.testing.assert_allclose(z, z_ref, atol=atol, rtol=1e-5)
    np.testing.assert_allclose(model.reconstruct(x), xhat_ref, atol=atol, rtol=1e-5)
    np.testing.assert_allclose(model.decode(z_ref), xhat_ref, atol=atol, rtol=1e-5)


# ----------------------------------------------------------------------------- SAELens
@pytest.mark.parametrize("apply_b_dec", [True, False])
def test_saelens_standard(tmp_path, apply_b_dec):
    W_enc, b_enc, W_dec, b_dec = _weights()
    path = _write_saelens(
        tmp_path / "std",
        {"architecture": "standard", "apply_b_dec_to_input": apply_b_dec},
        {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec},
    )
    x = _x()
    z = np.maximum((x - b_dec * apply_b_dec) @ W_enc + b_enc, 0)
    model = load_external(path)
    assert model.config.bottleneck["name"] == "relu"
    assert model.config.decoder["name"] == "sae-gain"  # unequal decoder norms kept exactly
    _check(model, x, z, z @ W_dec + b_dec)
    assert model.info["external"]["library"] == "sae_lens"


def test_saelens_standard_fold_decoder_norms(tmp_path):
    W_enc, b_enc, W_dec, b_dec = _weights()
    path = _write_saelens(
        tmp_path / "std",
        {"architecture": "standard"},
        {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec},
    )
    x = _x()
    z = np.maximum((x - b_dec) @ W_enc + b_enc, 0)
    model = load_external(path, fold_decoder_norms=True)
    assert model.config.decoder["name"] == "sae"
    norms = np.linalg.norm(W_dec, axis=1)
    # latents become contributions' lengths; the reconstruction is unchanged
    _check(model, x, z * norms, z @ W_dec + b_dec)


@pytest.mark.parametrize("rescale", [True, False])
def test_saelens_topk(tmp_path, rescale):
    W_enc, b_enc, W_dec, b_dec = _weights(seed=2)
    path = _write_saelens(
        tmp_path / "topk",
        {"architecture": "topk", "k": K, "rescale_acts_by_decoder_norm": rescale},
        {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec},
    )
    x = _x()
    norms = np.linalg.norm(W_dec, axis=1)
    pre = (x - b_dec) @ W_enc + b_enc
    if rescale:
        pre = pre * norms
    z = _topk_relu(pre, K)
    xhat = (z / norms if rescale else z) @ W_dec + b_dec
    model = load_external(path)
    assert model.config.bottleneck == {**model.config.bottleneck, "name": "topk", "k": K}
    _check(model, x, z, xhat)
    assert ((model.encode(x) != 0).sum(1) <= K).all()
    if not rescale:
        with pytest.raises(AutoencodingError, match="TopK selects"):
            load_external(path, fold_decoder_norms=True)


def test_saelens_topk_pre_6_config(tmp_path):
    """SAELens 5 wrote activation_fn_str + activation_fn_kwargs; read as SAELens 6 reads it."""
    W_enc, b_enc, W_dec, b_dec = _weights(seed=3)
    path = tmp_path / "old"
    _write_saelens(path, {}, {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec})
    old = {
        "d_in": D,
        "d_sae": L,
        "dtype": "float32",
        "activation_fn_str": "topk",
        "activation_fn_kwargs": {"k": K},
        "hook_point": "blocks.0.hook_resid_post",
        "normalize_activations": False,
        "sae_lens_training_version": "5.3.0",
    }
    (path / "cfg.json").write_text(json.dumps(old))
    x = _x()
    z = _topk_relu((x - b_dec) @ W_enc + b_enc, K)
    _check(load_external(path), x, z, z @ W_dec + b_dec)


@pytest.mark.parametrize("key", ["threshold", "log_threshold"])
def test_saelens_jumprelu(tmp_path, key):
    W_enc, b_enc, W_dec, b_dec = _weights(seed=4)
    theta = _rng(5).uniform(0.05, 0.6, size=L).astype(np.float32)
    stored = theta if key == "threshold" else np.log(theta)
    path = _write_saelens(
        tmp_path / "jr",
        {"architecture": "jumprelu"},
        {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec, key: stored},
    )
    x = _x()
    pre = (x - b_dec) @ W_enc + b_enc
    z = np.maximum(pre, 0) * (pre > theta)
    model = load_external(path)
    assert model.config.bottleneck["name"] == "jumprelu"
    _check(model, x, z, z @ W_dec + b_dec)
    folded = load_external(path, fold_decoder_norms=True)
    _check(folded, x, z * np.linalg.norm(W_dec, axis=1), z @ W_dec + b_dec)


def test_saelens_batchtopk_training_checkpoint(tmp_path):
    """A BatchTopK training save (topk_threshold, unfolded norms, rescale on) loads as the
    JumpReLU SAELens would save for inference."""
    W_enc, b_enc, W_dec, b_dec = _weights(seed=6)
    path = _write_saelens(
        tmp_path / "btk",
        {"architecture": "batchtopk", "k": 4.0, "rescale_acts_by_decoder_norm": True},
        {
            "W_enc": W_enc,
            "b_enc": b_enc,
            "W_dec": W_dec,
            "b_dec": b_dec,
            "topk_threshold": np.array(0.3, dtype=np.float64),
        },
    )
    x = _x()
    norms = np.linalg.norm(W_dec, axis=1)
    pre = ((x - b_dec) @ W_enc + b_enc) * norms
    z = np.maximum(pre, 0) * (pre > 0.3)
    model = load_external(path)
    assert model.config.bottleneck["name"] == "jumprelu"
    _check(model, x, z, (z / norms) @ W_dec + b_dec)


def test_saelens_scaling_factor_scales_latents_before_decoding(tmp_path):
    W_enc, b_enc, W_dec, b_dec = _weights(seed=7)
    s = _rng(8).uniform(0.5, 1.5, size=L).astype(np.float32)
    path = _write_saelens(
        tmp_path / "sf",
        {"architecture": "standard"},
        {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec, "scaling_factor": s},
    )
    x = _x()
    z = np.maximum((x - b_dec) @ W_enc + b_enc, 0)
    _check(load_external(path), x, z, (z * s) @ W_dec + b_dec)


def test_saelens_unit_norm_decoder_uses_plain_decoder(tmp_path):
    W_enc, b_enc, W_dec, b_dec = _weights(seed=9, dec_norm_range=(1.0, 1.0))
    path = _write_saelens(
        tmp_path / "unit",
        {"architecture": "topk", "k": K},
        {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec},
    )
    model = load_external(path)
    assert model.config.decoder["name"] == "sae"
    x = _x()
    z = _topk_relu((x - b_dec) @ W_enc + b_enc, K)
    _check(model, x, z, z @ W_dec + b_dec)


# ----------------------------------------------------------------------------- sparsify
def _sparsify_weights(seed=10):
    W_enc, b_enc, W_dec, b_dec = _weights(seed, dec_norm_range=(0.97, 1.03))
    return {"encoder.weight": W_enc.T.copy(), "encoder.bias": b_enc, "W_dec": W_dec, "b_dec": b_dec}


def _sparsify_ref(w, x):
    pre = np.maximum((x - w["b_dec"]) @ w["encoder.weight"].T + w["encoder.bias"], 0)
    z = _topk_relu(pre, K)  # top-k of ReLU(pre)
    return z, z @ w["W_dec"] + w["b_dec"]


def test_sparsify_folder(tmp_path):
    w = _sparsify_weights()
    path = _write_sparsify(tmp_path / "layers.0", {}, w)
    assert detect_format(path) == "sparsify" and is_external(path)
    model = load_external(path)
    x = _x()
    _check(model, x, *_sparsify_ref(w, x))
    assert model.info["external"]["library"] == "sparsify"


def test_sparsify_run_folder_picks_hook_point(tmp_path):
    run = tmp_path / "run"
    w0, w1 = _sparsify_weights(11), _sparsify_weights(12)
    _write_sparsify(run / "layers.0", {}, w0)
    _write_sparsify(run / "layers.1", {}, w1)
    (run / "config.json").write_text("{}")  # sparsify's training config sits beside them
    assert is_external(run)
    x = _x()
    _check(load_external(run, hook="layers.1"), x, *_sparsify_ref(w1, x))
    with pytest.raises(AutoencodingError, match=r"hook points \['layers.0', 'layers.1'\]"):
        load_external(run)
    with pytest.raises(AutoencodingError, match="no hook point 'layers.7'"):
        load_external(run, hook="layers.7")


@pytest.mark.parametrize(
    ("cfg", "extra", "match"),
    [
        ({"transcode": True}, {}, "transcoder"),
        ({"activation": "groupmax"}, {}, "groupmax"),
        ({"skip_connection": True}, {"W_skip": np.zeros((D, D), np.float32)}, "skip connection"),
    ],
)
def test_sparsify_unsupported(tmp_path, cfg, extra, match):
    path = _write_sparsify(tmp_path / "s", cfg, {**_sparsify_weights(), **extra})
    with pytest.raises(AutoencodingError, match=match):
        load_external(path)


# ------------------------------------------------------------------------------ errors
def test_unknown_folder_lists_known_formats(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(AutoencodingError, match="known formats — SAELens: .*sparsify"):
        load_external(tmp_path)
    with pytest.raises(AutoencodingError, match="not a folder"):
        load_external(tmp_path / "missing")


def test_missing_weight_is_named(tmp_path):
    W_enc, b_enc, W_dec, b_dec = _weights()
    path = _write_saelens(
        tmp_path / "m",
        {"architecture": "standard"},
        {"W_enc": W_enc, "W_dec": W_dec, "b_dec": b_dec},
    )
    with pytest.raises(AutoencodingError, match=r"missing weight\(s\) \['b_enc'\]"):
        load_external(path)
    path = _write_saelens(
        tmp_path / "j",
        {"architecture": "jumprelu"},
        {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec},
    )
    with pytest.raises(AutoencodingError, match="threshold"):
        load_external(path)


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        ({"architecture": "gated"}, "architecture 'gated' is not supported"),
        ({"architecture": "standard", "normalize_activations": "layer_norm"}, "layer_norm"),
        ({"architecture": "standard", "d_sae": L + 1}, "d_sae"),
        ({"architecture": "topk", "k": L}, "k"),
    ],
)
def test_saelens_unsupported_or_inconsistent(tmp_path, cfg, match):
    W_enc, b_enc, W_dec, b_dec = _weights()
    path = _write_saelens(
        tmp_path / "u", cfg, {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec}
    )
    with pytest.raises(AutoencodingError, match=match):
        load_external(path)


# ----------------------------------------------------------------- save, load and the CLI
def test_saved_copy_loads_with_autoencoding_load(tmp_path):
    W_enc, b_enc, W_dec, b_dec = _weights(seed=13)
    path = _write_saelens(
        tmp_path / "topk",
        {"architecture": "topk", "k": K},
        {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec},
    )
    model = load_external(path)
    model.save(tmp_path / "ours")
    again = ae.load(tmp_path / "ours")
    x = _x()
    np.testing.assert_array_equal(again.reconstruct(x), model.reconstruct(x))
    assert not is_external(tmp_path / "ours")


def test_cli_evaluate_accepts_external_folder(tmp_path, capsys):
    from autoencoding.interp import store_from_array
    from autoencoding.interp.cli import add_sae_parser

    w = _sparsify_weights()
    path = _write_sparsify(tmp_path / "sae", {}, w)
    x = _x(500, seed=3)
    store = store_from_array(x, tmp_path / "store")
    parser = argparse.ArgumentParser(prog="autoencoding")
    add_sae_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sae", "evaluate", str(path), str(store.path)])
    assert args.func(args, parser) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    _, xhat = _sparsify_ref(w, x)
    fvu = ((x - xhat) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
    assert out["fvu"] == pytest.approx(float(fvu), rel=1e-4)
    assert out["l0"] <= K


def test_loaded_model_is_float32_and_keeps_exact_product():
    # the encoder product must not run in bfloat16 (auto elsewhere): libraries' maths are fp32
    from autoencoding.interp.external import ExternalSAE, to_trained_model

    W_enc, b_enc, W_dec, b_dec = (torch.from_numpy(a) for a in _weights(seed=14))
    model = to_trained_model(ExternalSAE("x", "topk", "topk", W_enc.T, b_enc, W_dec, b_dec, k=K))
    assert model.config.encoder["matmul"] == "float32"
    assert next(model.module.parameters()).dtype == torch.float32
