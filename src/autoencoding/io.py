"""Model folders: ``config.json`` (recipe, every hyperparameter, scaler, library version) plus
``model.safetensors``. Loading never unpickles anything."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .errors import AutoencodingError
from .train.checkpoint import atomic_write

FORMAT = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"


def _version_tuple(v: str) -> tuple[int, ...]:
    # leading digits of each part, so a pre-release such as 0.2.0rc1 still reads as 0.2.0
    parts = [re.match(r"\d*", p).group() for p in v.split(".")[:3]]
    return tuple(int(p) for p in itertools.takewhile(bool, parts)) or (0,)


#: the key, in config.json and in the weights file's metadata, of the weights' digest
DIGEST = "weights_sha256"


def weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the tensors' names, dtypes, shapes and bytes: what pairs a config with the
    weights it was saved with."""
    h = hashlib.sha256()
    for k in sorted(tensors):
        t = tensors[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{list(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


def save_folder(path: str | Path, module: torch.nn.Module, payload: dict[str, Any]) -> Path:
    """Write weights and config, each atomically, as one pair: both carry the weights'
    digest, so a crash between the two renames (new weights beside the old config) is
    found by :func:`read_folder` instead of loading a mismatched pair."""
    from . import __version__

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AutoencodingError(f"save: {path} is a file; give a folder for the model")
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    digest = weights_digest(tensors)
    meta = {DIGEST: digest}
    atomic_write(path / WEIGHTS, lambda tmp: save_file(tensors, str(tmp), metadata=meta))
    doc = {"library": "autoencoding", "version": __version__, "format": FORMAT, **payload}
    doc[DIGEST] = digest
    atomic_write(path / CONFIG, lambda tmp: tmp.write_text(json.dumps(doc, indent=2)))
    return path


def _check_pair(path: Path, doc: dict[str, Any], w_path: Path) -> None:
    """config.json and the weights come from one save (when both carry a digest: folders
    of older releases and hand-made weights files do not)."""
    with safe_open(str(w_path), "pt") as fh:
        held = (fh.metadata() or {}).get(DIGEST)
    named = doc.get(DIGEST)
    if named is not None and held is not None and named != held:
        raise AutoencodingError(
            f"{path}: {CONFIG} and {WEIGHTS} are not from the same save ({CONFIG} was saved "
            f"with weights {str(named)[:12]}…, {WEIGHTS} holds {held[:12]}…): a save was "
            f"interrupted between the two files, or one was replaced. Save the model again "
            f"(for a training run: train again with --resume)"
        )


def read_folder(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(config document, weights) of a model folder, with clear errors for every defect."""
    from . import __version__

    path = Path(path)
    if not path.is_dir():
        raise AutoencodingError(
            f"{path}: not a model folder (expected a folder holding {CONFIG} and {WEIGHTS})"
        )
    cfg_path, w_path = path / CONFIG, path / WEIGHTS
    for p in (cfg_path, w_path):
        if not p.exists():
            raise AutoencodingError(f"{path}: missing {p.name}; is this a trained model folder?")
    try:
        doc = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AutoencodingError(f"{cfg_path}: corrupt JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("library") != "autoencoding":
        raise AutoencodingError(f"{cfg_path}: not an autoencoding model config")
    fmt = doc.get("format")
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise AutoencodingError(
            f"{cfg_path}: written by autoencoding {doc.get('version')} in folder format {fmt}; "
            f"this is autoencoding {__version__}, which reads format <= {FORMAT}. Upgrade "
            f"autoencoding to load it."
        )
    if _version_tuple(str(doc.get("version", "0"))) > _version_tuple(__version__):
        raise AutoencodingError(
            f"{cfg_path}: written by a newer autoencoding ({doc.get('version')} > "
            f"{__version__}); upgrade autoencoding to load it"
        )
    for key in ("model", "scaler"):
        if key not in doc:
            raise AutoencodingError(f"{cfg_path}: missing key {key!r}")
    try:
        weights = load_file(str(w_path))
        _check_pair(path, doc, w_path)
    except (SafetensorError, OSError, ValueError) as e:
        raise AutoencodingError(f"{w_path}: corrupt or truncated weights file ({e})") from None
    return doc, weights


def load_weights(module: torch.nn.Module, weights: dict[str, torch.Tensor], where: Path) -> None:
    expected = set(module.state_dict())
    missing, extra = sorted(expected - set(weights)), sorted(set(weights) - expected)
    if missing or extra:
        raise AutoencodingError(
            f"{where}: weights do not match the config (missing {missing[:5]}, unexpected "
            f"{extra[:5]})"
        )
    try:
        module.load_state_dict(weights)
    except RuntimeError as e:
        raise AutoencodingError(
            f"{where}: weights do not match the config ({str(e).splitlines()[-1].strip()})"
        ) from None
