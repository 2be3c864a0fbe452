"""Model folders: ``config.json`` (recipe, every hyperparameter, scaler, library version) plus
``model.safetensors``. Loading never unpickles anything."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
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


def save_folder(path: str | Path, module: torch.nn.Module, payload: dict[str, Any]) -> Path:
    """Write weights and config atomically (weights first, so a config never points at
    missing weights)."""
    from . import __version__

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AutoencodingError(f"save: {path} is a file; give a folder for the model")
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write(path / WEIGHTS, lambda tmp: save_file(tensors, str(tmp)))
    doc = {"library": "autoencoding", "version": __version__, "format": FORMAT, **payload}
    atomic_write(path / CONFIG, lambda tmp: tmp.write_text(json.dumps(doc, indent=2)))
    return path


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
