"""A model folder's weights and config are one unit: both carry the weights' digest, so a save
that died between its two renames (new weights beside the old config) is refused on load with
a message that says so, instead of loading weights under a config they were not saved with."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors import safe_open

import autoencoding as ae
from autoencoding import AutoencodingError
from autoencoding.api import TrainedModel
from autoencoding.data import Scaler
from autoencoding.io import CONFIG, DIGEST, WEIGHTS, weights_digest


def _model(seed, latent=3):
    torch.manual_seed(seed)
    module = ae.Autoencoder(ae.resolve("ae", [5], (-2.0, 2.0), {"latent_dim": latent}))
    return TrainedModel(module.eval(), Scaler.fit("none", torch.zeros(4, 5).numpy()), {})


def _save_dying_before_config(model, folder, monkeypatch):
    """``model.save(folder)`` killed after the weights' rename, before the config's."""
    import autoencoding.io as io

    real = io.atomic_write

    def write(path, fn):
        if path.name == CONFIG:
            raise KeyboardInterrupt  # the process dies here
        real(path, fn)

    monkeypatch.setattr(io, "atomic_write", write)
    with pytest.raises(KeyboardInterrupt):
        model.save(folder)
    monkeypatch.setattr(io, "atomic_write", real)


def test_both_files_carry_the_weights_digest(tmp_path):
    folder = _model(0).save(tmp_path / "m")
    doc = json.loads((folder / CONFIG).read_text())
    with safe_open(str(folder / WEIGHTS), "pt") as fh:
        held = fh.metadata()[DIGEST]
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    assert doc[DIGEST] == held == weights_digest(tensors)
    mask = os.umask(0)
    os.umask(mask)
    assert (folder / WEIGHTS).stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize("latent", [3, 4])  # same architecture, and another one
def test_new_weights_beside_the_old_config_are_refused(tmp_path, monkeypatch, latent):
    folder = _model(0).save(tmp_path / "m")
    _save_dying_before_config(_model(1, latent), folder, monkeypatch)
    assert not list(folder.glob(".*.tmp-*"))
    with pytest.raises(AutoencodingError, match="not from the same save.*interrupted"):
        ae.load(folder)
    _model(1, latent).save(folder)  # saving again mends the pair
    back = ae.load(folder)
    for k, v in _model(1, latent).module.state_dict().items():
        assert torch.equal(back.module.state_dict()[k], v)


def test_a_save_dying_before_its_rename_leaves_the_old_pair(tmp_path, monkeypatch):
    """Killed mid-write: the temporary is left, the old pair still loads, and the next save
    removes the temporary."""
    folder = _model(0).save(tmp_path / "m")
    dead = folder / f".{WEIGHTS}.tmp-99999999"  # a writer killed with kill -9
    dead.write_bytes(b"half a file")
    old = ae.load(folder)
    for k, v in _model(0).module.state_dict().items():
        assert torch.equal(old.module.state_dict()[k], v)
    _model(2).save(folder)
    assert not dead.exists()


def test_other_edits_of_the_config_keep_the_pair(tmp_path):
    """The digest pairs files; it does not freeze config.json (a note in ``info`` is fine)."""
    folder = _model(0).save(tmp_path / "m")
    doc = json.loads((folder / CONFIG).read_text())
    doc["info"]["note"] = "reviewed"
    (folder / CONFIG).write_text(json.dumps(doc))
    assert ae.load(folder).info["note"] == "reviewed"
