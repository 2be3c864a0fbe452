"""Model folders: exact save/load round trips, and a clear error for every defect."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import autoencoding
from autoencoding import AutoencodingError, load, resolve
from autoencoding.api import TrainedModel
from autoencoding.data import Scaler
from autoencoding.io import CONFIG, FORMAT, WEIGHTS, read_folder


@pytest.fixture
def trained(rng):
    """A VAE with a standard scaler on 6 features (untrained weights are enough here)."""
    torch.manual_seed(0)
    x = rng.normal(size=(30, 6)).astype(np.float32) * 3 + 1
    scaler = Scaler.fit("standard", x)
    module = autoencoding.Autoencoder(resolve("vae", [6], (-2.0, 2.0), {"latent_dim": 3}))
    # make every parameter non-trivial (the learned log σ starts constant)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.01 * torch.randn_like(p))
    module.eval()
    return TrainedModel(module, scaler, {"dataset": "array", "note": [1, 2]}), x


@pytest.fixture
def folder(trained, tmp_path):
    model, _ = trained
    return model.save(tmp_path / "model")


def edit_config(folder, change):
    doc = json.loads((folder / CONFIG).read_text())
    change(doc)
    (folder / CONFIG).write_text(json.dumps(doc))


def test_round_trip_is_exact(trained, folder):
    model, x = trained
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG, WEIGHTS]
    back = load(folder)
    sd, sd2 = model.module.state_dict(), back.module.state_dict()
    assert sd.keys() == sd2.keys()
    for k in sd:
        assert torch.equal(sd[k], sd2[k]), k
    assert back.scaler == model.scaler
    assert back.info == model.info
    assert back.config == model.config
    np.testing.assert_array_equal(back.encode(x), model.encode(x))
    np.testing.assert_array_equal(back.reconstruct(x), model.reconstruct(x))
    np.testing.assert_array_equal(back.sample(4, seed=1), model.sample(4, seed=1))
    assert not back.module.training


def test_config_json_holds_everything(folder):
    doc = json.loads((folder / CONFIG).read_text())
    assert doc["library"] == "autoencoding" and doc["version"] == autoencoding.__version__
    assert doc["format"] == FORMAT and doc["recipe"] == "vae"
    assert doc["model"]["latent_dim"] == 3
    assert doc["model"]["reconstruction"] == {
        "name": "gaussian",
        "variance": "learned",
        "sigma": 1.0,
        "min_sigma": 0.001,
    }
    assert doc["scaler"]["kind"] == "standard" and len(doc["scaler"]["shift"]) == 6


def test_saving_again_overwrites_atomically(trained, folder):
    model, _ = trained
    model.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG, WEIGHTS]  # no temp files left


def test_a_trained_model_round_trips(tmp_path, digits01):
    model = autoencoding.fit("ae", digits01, train={"epochs": 1, "progress": False})
    back = load(model.save(tmp_path / "ae"))
    np.testing.assert_array_equal(back.encode(digits01[:20]), model.encode(digits01[:20]))
    assert back.info["n_train"] == model.info["n_train"] and back.info["dataset"] == "array"


# -- defects --------------------------------------------------------------------------------
def test_corrupt_weights_file(folder):
    (folder / WEIGHTS).write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(AutoencodingError, match=r"model.safetensors: corrupt or truncated weights"):
        load(folder)


def test_truncated_weights_file(folder):
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(AutoencodingError, match="corrupt or truncated weights file"):
        load(folder)


def test_empty_weights_file(folder):
    (folder / WEIGHTS).write_bytes(b"")
    with pytest.raises(AutoencodingError, match="corrupt or truncated weights file"):
        load(folder)


def test_a_pickle_is_never_loaded(folder):
    (folder / WEIGHTS).write_bytes(pickle.dumps({"w": np.zeros(3)}))
    with pytest.raises(AutoencodingError, match="corrupt or truncated weights file"):
        load(folder)


def test_weights_that_do_not_match_the_config(folder):
    edit_config(folder, lambda d: d["model"].update(latent_dim=5))
    with pytest.raises(AutoencodingError, match="weights do not match the config"):
        load(folder)
    edit_config(folder, lambda d: d["model"].update(latent_dim=3, bottleneck={"name": "identity"}))
    with pytest.raises(AutoencodingError, match="weights do not match the config"):
        load(folder)


def test_a_weight_tensor_missing(folder):
    from safetensors.torch import load_file, save_file

    w = load_file(str(folder / WEIGHTS))
    w.pop(sorted(w)[0])
    save_file(w, str(folder / WEIGHTS))
    with pytest.raises(AutoencodingError, match=r"weights do not match the config \(missing \["):
        load(folder)


def test_corrupt_json(folder):
    (folder / CONFIG).write_text('{"library": "autoencoding", "model": ')
    with pytest.raises(AutoencodingError, match=r"config.json: corrupt JSON"):
        load(folder)
    (folder / CONFIG).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(AutoencodingError, match=r"config.json: corrupt JSON"):
        load(folder)


@pytest.mark.parametrize("doc", ['["a list"]', '{"library": "other", "format": 1}'])
def test_not_an_autoencoding_config(folder, doc):
    (folder / CONFIG).write_text(doc)
    with pytest.raises(AutoencodingError, match="not an autoencoding model config"):
        load(folder)


@pytest.mark.parametrize("key", ["model", "scaler"])
def test_missing_top_level_key(folder, key):
    edit_config(folder, lambda d: d.pop(key))
    with pytest.raises(AutoencodingError, match=rf"config.json: missing key '{key}'"):
        load(folder)


@pytest.mark.parametrize("key", ["reconstruction", "latent_dim", "input_shape", "bottleneck"])
def test_missing_model_key(folder, key):
    # a default must never stand in for a stored setting: a VAE loaded with the default MSE
    # likelihood would silently return logits as reconstructions
    edit_config(folder, lambda d: d["model"].pop(key))
    with pytest.raises(AutoencodingError, match=rf"config.json: .*{key}"):
        load(folder)


def test_missing_scaler_key(folder):
    edit_config(folder, lambda d: d["scaler"].pop("shift"))
    with pytest.raises(AutoencodingError, match="malformed scaler entry"):
        load(folder)


def test_bad_model_value(folder):
    edit_config(folder, lambda d: d["model"].update(latent_dim=0))
    with pytest.raises(AutoencodingError, match=r"config.json: latent_dim must be >= 1"):
        load(folder)
    edit_config(folder, lambda d: d["model"].update(latent_dim=3, colour="red"))
    with pytest.raises(AutoencodingError, match=r"config.json: .*unknown option\(s\) 'colour'"):
        load(folder)


@pytest.mark.parametrize("name", [CONFIG, WEIGHTS])
def test_missing_files(folder, name):
    (folder / name).unlink()
    with pytest.raises(AutoencodingError, match=rf"missing {name}; is this a trained model folder"):
        load(folder)


def test_missing_folder_and_a_file_instead_of_a_folder(tmp_path, folder):
    with pytest.raises(AutoencodingError, match="not a model folder"):
        load(tmp_path / "nowhere")
    with pytest.raises(AutoencodingError, match="not a model folder"):
        load(folder / CONFIG)


@pytest.mark.parametrize("version", ["0.2.0", "1.0", "99.0.0", "0.2.0rc1", "1.0.0.dev3"])
def test_folder_from_a_newer_version(folder, version):
    edit_config(folder, lambda d: d.update(version=version))
    with pytest.raises(AutoencodingError, match=rf"newer autoencoding \({version} > .*upgrade"):
        load(folder)


@pytest.mark.parametrize("version", ["0.0.9", "0.1.0", "0.1.0rc1", "0.1"])
def test_folder_from_this_or_an_older_version_loads(folder, version):
    edit_config(folder, lambda d: d.update(version=version))
    load(folder)


@pytest.mark.parametrize("fmt", [FORMAT + 1, None, "1"])
def test_folder_in_a_newer_or_unknown_format(folder, fmt):
    edit_config(folder, lambda d: d.update(format=fmt))
    with pytest.raises(AutoencodingError, match=rf"folder format {fmt}.*reads format <= {FORMAT}"):
        load(folder)


def test_read_folder_returns_the_document_and_tensors(folder):
    doc, weights = read_folder(folder)
    assert doc["recipe"] == "vae"
    assert all(isinstance(t, torch.Tensor) for t in weights.values())


def test_saved_files_get_the_usual_mode_and_dead_writers_temporaries_go(tmp_path):
    import os

    import autoencoding as ae
    from autoencoding.train.checkpoint import atomic_write

    model = ae.load(Path(__file__).parent / "data" / "v0_1" / "vae")
    mask = os.umask(0)
    os.umask(mask)
    out = tmp_path / "m"
    out.mkdir()
    dead = out / ".model.safetensors.tmp-99999999"  # a writer killed with kill -9
    alive = out / ".model.safetensors.tmp-1"  # pid 1 is running: maybe mid-write
    dead.write_bytes(b"partial")
    alive.write_bytes(b"partial")
    model.save(out)
    for name in ("model.safetensors", "config.json"):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~mask, name
    assert not dead.exists() and alive.exists()
    atomic_write(tmp_path / "x.txt", lambda tmp: tmp.write_text("hi"))
    assert (tmp_path / "x.txt").read_text() == "hi" and not list(tmp_path.glob(".x.txt.tmp-*"))


def test_a_writer_killed_mid_safetensors_write_leaves_nothing_the_next_write_keeps(tmp_path):
    """safetensors >= 0.8 stages its own ``.tmpXXXXXX`` beside the target; atomic_write gives
    it a private folder, so a kill -9 mid-write leaves only that folder, removed next time."""
    import torch
    from safetensors.torch import save_file

    from autoencoding.train.checkpoint import atomic_write

    out = tmp_path / "run"
    out.mkdir()
    dead = out / ".checkpoint.safetensors.tmp-99999999"  # what a killed writer leaves
    dead.mkdir()
    (dead / ".tmpAbC123").write_bytes(b"half a tensor")
    (dead / "checkpoint.safetensors").write_bytes(b"partial")
    tensors = {"w": torch.arange(6.0)}
    atomic_write(out / "checkpoint.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.safetensors"]
    from safetensors.torch import load_file

    assert torch.equal(load_file(str(out / "checkpoint.safetensors"))["w"], tensors["w"])
