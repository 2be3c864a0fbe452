"""Load sparse autoencoders saved by other libraries (SAELens, sparsify) as our model.

Python::

    from autoencoding.interp import load_external
    sae = load_external("saes/blocks.2.hook_resid_post")      # SAELens or sparsify folder
    z = sae.encode(x)            # the library's own latent activations
    x_hat = sae.reconstruct(x)   # the library's own reconstruction

Command line (``sae evaluate`` and ``sae features`` accept such folders)::

    autoencoding sae evaluate path/to/saelens_sae acts/blocks.2.resid_post

Every format is read into one neutral record, :class:`ExternalSAE`::

    pre = (x − b_dec) W_encᵀ + b_enc          W_enc: L×d
    z   = act(pre)                           relu | topk (k per row, ReLU'd) | jumprelu (θ)
    x̂   = (z ⊙ scale) W_dec + b_dec           W_dec: L×d, rows of any norm

and then built as an :class:`~autoencoding.model.Autoencoder` with the encoder ``sae``, the
matching bottleneck and a float32 encoder product. Our decoder keeps unit-norm rows, so each
row norm ‖W_dec[i]‖ (times ``scale``) becomes a fixed gain of the decoder ``sae-gain``
(:mod:`autoencoding.parts.sae_gain`): ``encode`` then returns exactly the library's latent
values, and ``reconstruct`` its reconstruction. Where the gains are all 1 the plain decoder
``sae`` is used. ``fold_decoder_norms=True`` instead folds the gains into the encoder (as
SAELens's ``fold_W_dec_norm``) — exact for ReLU and JumpReLU, whose latent values then
become contributions' lengths; TopK selects on the unscaled pre-activations, so there it
is refused unless the gains are uniform.

What each library's folder means (read from their code, SAELens 6.54 and sparsify 1.3):

* **SAELens** — ``cfg.json`` + ``sae_weights.safetensors``; ``W_enc`` is d×L. The input has
  ``b_dec`` subtracted only when ``apply_b_dec_to_input`` (otherwise ``W_enc b_dec`` moves
  into ``b_enc``). ``standard``: z = ReLU(pre). ``topk``: z = ReLU of the k largest pre; with
  ``rescale_acts_by_decoder_norm`` the pre-activations are multiplied by ‖W_dec[i]‖ before
  the selection and divided out on decoding (a fold into the encoder; saved inference
  weights are already folded). ``jumprelu``: z = ReLU(pre)·[pre > θ] (``threshold``, or
  ``log_threshold`` in older files). ``batchtopk`` as saved for inference *is* ``jumprelu``;
  a training checkpoint (``topk_threshold``) is converted the way SAELens converts it on
  saving. Configs older than 6.0 (``activation_fn_str``) are read like SAELens reads them,
  and a ``scaling_factor`` different from 1 multiplies z before decoding. The
  ``normalize_activations`` modes that SAELens's own disk loader treats as the identity
  (``none``, ``expected_average_only_in``, ``covariance_whitening``; their statistics are
  folded into the weights on saving) load; the per-row ones (``constant_norm_rescale``,
  ``layer_norm``) are refused. ``hook_z`` SAEs read flattened head outputs.
* **sparsify** — ``cfg.json`` + ``sae.safetensors`` in one folder per hook point (a run
  folder holds several: pass the subfolder or ``hook=``); ``encoder.weight`` is L×d.
  z = the k largest of ReLU(pre) (the same latents and values as TopK-then-ReLU). Its decoder
  is renormalised *before* each step, so saved rows are close to, not exactly, unit norm —
  which is why the gains above matter. Transcoders (``transcode``), skip connections
  (``W_skip``) and ``groupmax`` are refused with a message.

JumpReLU thresholds below 1e-6 act as 1e-6 (our bottleneck keeps θ positive), a difference
only for pre-activations in (θ, 1e-6].
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..api import TrainedModel
from ..data.scaling import Scaler
from ..errors import AutoencodingError
from ..model import Autoencoder, ModelConfig
from ..registry import Registry

#: gains within this of 1 use the plain decoder 'sae'
UNIT_TOLERANCE = 1e-6

SAELENS_WEIGHTS = "sae_weights.safetensors"
SPARSIFY_WEIGHTS = "sae.safetensors"
CFG = "cfg.json"


@dataclass
class ExternalSAE:
    """An SAE in one neutral form (see the module docstring for the formula)."""

    library: str
    architecture: str
    """The architecture as the library names it (e.g. SAELens 'topk', 'batchtopk')."""
    activation: str
    """Our bottleneck: 'relu', 'topk' or 'jumprelu'."""
    W_enc: torch.Tensor
    """(L, d) encoder weights."""
    b_enc: torch.Tensor
    """(L,) encoder bias, applied after subtracting b_dec from the input."""
    W_dec: torch.Tensor
    """(L, d) decoder rows, of any norm."""
    b_dec: torch.Tensor
    """(d,) decoder bias, subtracted from the input before encoding."""
    k: int | None = None
    """Active latents per row (TopK)."""
    threshold: torch.Tensor | None = None
    """(L,) JumpReLU thresholds, in units of pre."""
    scale: torch.Tensor | None = None
    """(L,) multiplier of z before decoding (SAELens's old finetuning scaling factor)."""
    info: dict[str, Any] = field(default_factory=dict)

    def check(self, where: str) -> None:
        L, d = self.W_enc.shape
        shapes = {
            "W_dec": (self.W_dec, (L, d)),
            "b_enc": (self.b_enc, (L,)),
            "b_dec": (self.b_dec, (d,)),
            "threshold": (self.threshold, (L,)),
            "scale": (self.scale, (L,)),
        }
        for name, (t, shape) in shapes.items():
            if t is not None and tuple(t.shape) != shape:
                raise AutoencodingError(
                    f"{where}: {name} has shape {tuple(t.shape)}, expected {shape} for "
                    f"{L} latents × {d} features"
                )
        for name, t in (("W_enc", self.W_enc), ("W_dec", self.W_dec), ("b_dec", self.b_dec)):
            if not torch.isfinite(t).all():
                raise AutoencodingError(f"{where}: {name} contains NaN or inf")
        if self.activation == "topk" and not (self.k and 1 <= self.k < L):
            raise AutoencodingError(f"{where}: TopK needs 1 <= k < {L} latents, got k={self.k}")
        if self.activation == "jumprelu" and self.threshold is None:
            raise AutoencodingError(f"{where}: a JumpReLU SAE needs thresholds")


# ------------------------------------------------------------------------------ formats
@dataclass
class Format:
    """A folder format: how to recognise it and how to read it."""

    name: str
    describe: str
    """What the folder holds, for error messages."""
    detect: Callable[[Path], bool]
    read: Callable[[Path, str | None], ExternalSAE]


FORMATS: Registry[Format] = Registry("external SAE format")


def _register(fmt: Format) -> Format:
    FORMATS.register(fmt.name)(fmt)
    return fmt


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AutoencodingError(f"{path}: unreadable JSON ({e})") from None
    if not isinstance(doc, dict):
        raise AutoencodingError(f"{path}: expected a JSON object")
    return doc


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return {k: v.to(torch.float32) for k, v in load_file(str(path)).items()}
    except (SafetensorError, OSError, ValueError) as e:
        raise AutoencodingError(f"{path}: corrupt or truncated weights file ({e})") from None


def _need(weights: dict[str, torch.Tensor], keys: list[str], where: Path) -> None:
    missing = [k for k in keys if k not in weights]
    if missing:
        raise AutoencodingError(
            f"{where}: missing weight(s) {missing}; the file holds {sorted(weights)}"
        )


# -- SAELens ---------------------------------------------------------------------------
SAELENS_ARCHITECTURES = ("standard", "topk", "jumprelu", "batchtopk")
IDENTITY_NORMALIZATIONS = ("none", "expected_average_only_in", "covariance_whitening")


def _saelens_config(doc: dict[str, Any], where: Path) -> dict[str, Any]:
    """The config as SAELens 6 reads it (older configs renamed and defaulted as it does)."""
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    version = str(doc.get("sae_lens_version") or meta.get("sae_lens_version") or "0")
    cfg = dict(doc)
    major = re.match(r"v?(\d*)", version).group(1)
    if int(major or 0) < 6:
        if "activation_fn_str" in cfg:
            cfg.setdefault("activation_fn", cfg.pop("activation_fn_str"))
        cfg.setdefault("apply_b_dec_to_input", True)
        cfg.setdefault("architecture", "standard")
        kwargs = cfg.get("activation_fn_kwargs") or {}
        if cfg.get("activation_fn") == "topk" and kwargs.get("k") is not None:
            cfg["architecture"], cfg["k"] = "topk", kwargs["k"]
        elif cfg["architecture"] == "standard" and cfg.get("activation_fn", "relu") != "relu":
            raise AutoencodingError(
                f"{where}: SAELens activation {cfg['activation_fn']!r} is not supported "
                f"(supported: relu, topk)"
            )
        if isinstance(cfg.get("normalize_activations"), bool):
            cfg["normalize_activations"] = (
                "expected_average_only_in" if cfg["normalize_activations"] else "none"
            )
    cfg["sae_lens_version"] = version
    for key in ("d_in", "d_sae", "architecture"):
        if key not in cfg:
            raise AutoencodingError(f"{where}: SAELens config has no {key!r}")
    return cfg


def _read_saelens(path: Path, hook: str | None) -> ExternalSAE:
    cfg_path, w_path = path / CFG, path / SAELENS_WEIGHTS
    cfg = _saelens_config(_read_json(cfg_path), cfg_path)
    arch = cfg["architecture"]
    if arch not in SAELENS_ARCHITECTURES:
        raise AutoencodingError(
            f"{cfg_path}: SAELens architecture {arch!r} is not supported; supported: "
            f"{', '.join(SAELENS_ARCHITECTURES)}"
        )
    norm = cfg.get("normalize_activations") or "none"
    if norm not in IDENTITY_NORMALIZATIONS:
        raise AutoencodingError(
            f"{cfg_path}: normalize_activations {norm!r} rescales every row by its own "
            f"statistics, which a fixed affine encoder cannot reproduce; supported: "
            f"{', '.join(IDENTITY_NORMALIZATIONS)}"
        )
    w = _read_weights(w_path)
    _need(w, ["W_enc", "W_dec", "b_dec", "b_enc"], w_path)
    W_enc, b_enc, W_dec, b_dec = w["W_enc"].T.contiguous(), w["b_enc"], w["W_dec"], w["b_dec"]
    d, L = int(cfg["d_in"]), int(cfg["d_sae"])
    if tuple(W_enc.shape) != (L, d):
        raise AutoencodingError(
            f"{w_path}: W_enc has shape {tuple(w['W_enc'].shape)}, but cfg.json says d_in={d}, "
            f"d_sae={L} (expected {(d, L)})"
        )
    if not cfg.get("apply_b_dec_to_input", True):
        # pre = x W_enc + b_enc = (x − b_dec) W_enc + (b_enc + b_dec W_enc)
        b_enc = b_enc + W_enc @ b_dec
    scale = None
    for key in ("scaling_factor", "finetuning_scaling_factor"):
        if key in w and not torch.allclose(w[key], torch.ones_like(w[key])):
            scale = w[key]
    rescale = bool(cfg.get("rescale_acts_by_decoder_norm", False))
    if rescale and arch in ("topk", "batchtopk"):
        # TopK on pre·‖W_dec[i]‖, decoded with W_dec[i]/‖W_dec[i]‖: fold the norms into the
        # encoder, as SAELens does when it saves an inference SAE
        n = W_dec.norm(dim=1).clamp_min(1e-8)
        W_enc, b_enc, W_dec = W_enc * n[:, None], b_enc * n, W_dec / n[:, None]
    k, threshold = None, None
    activation = {"standard": "relu", "topk": "topk"}.get(arch, "jumprelu")
    if arch == "topk":
        k = int(cfg.get("k", 0))
    elif arch == "batchtopk" and "threshold" not in w:
        # a training checkpoint: SAELens saves it as JumpReLU with θ = topk_threshold
        _need(w, ["topk_threshold"], w_path)
        threshold = torch.full((L,), float(w["topk_threshold"]))
    elif activation == "jumprelu":
        if "threshold" not in w and "log_threshold" in w:
            threshold = w["log_threshold"].exp()
        else:
            _need(w, ["threshold"], w_path)
            threshold = w["threshold"]
    info = {
        "version": cfg["sae_lens_version"],
        "hook_name": cfg.get("hook_name") or (cfg.get("metadata") or {}).get("hook_name"),
        "normalize_activations": norm,
        "reshape_activations": cfg.get("reshape_activations", "none"),
    }
    return ExternalSAE(
        "sae_lens", arch, activation, W_enc, b_enc, W_dec, b_dec, k, threshold, scale, info
    )


_register(
    Format(
        "sae_lens",
        f"SAELens: {CFG} + {SAELENS_WEIGHTS}",
        lambda p: (p / CFG).is_file() and (p / SAELENS_WEIGHTS).is_file(),
        _read_saelens,
    )
)


# -- sparsify --------------------------------------------------------------------------
def _sparsify_folder(path: Path) -> bool:
    return (path / CFG).is_file() and (path / SPARSIFY_WEIGHTS).is_file()


def _sparsify_hooks(path: Path) -> list[str]:
    """Hook points of a sparsify run folder: subfolders (at any depth) holding an SAE."""
    return sorted(
        str(p.parent.relative_to(path))
        for p in path.rglob(SPARSIFY_WEIGHTS)
        if (p.parent / CFG).is_file() and p.parent != path
    )


def _read_sparsify(path: Path, hook: str | None) -> ExternalSAE:
    if hook is not None or not _sparsify_folder(path):
        hooks = _sparsify_hooks(path)
        if hook is None and len(hooks) == 1:
            hook = hooks[0]
        if hook is None or hook not in hooks:
            raise AutoencodingError(
                f"{path}: a sparsify run folder with hook points {hooks}; "
                + (f"no hook point {hook!r}" if hook else "choose one")
                + " (pass the subfolder, or hook=...)"
            )
        path = path / hook
    cfg_path, w_path = path / CFG, path / SPARSIFY_WEIGHTS
    cfg = _read_json(cfg_path)
    if "d_in" not in cfg:
        raise AutoencodingError(f"{cfg_path}: sparsify config has no 'd_in'")
    if cfg.get("transcode"):
        raise AutoencodingError(
            f"{cfg_path}: a sparsify transcoder predicts another module's output from its "
            f"input; it is not an autoencoder and cannot load as one"
        )
    if cfg.get("activation", "topk") != "topk":
        raise AutoencodingError(
            f"{cfg_path}: sparsify activation {cfg.get('activation')!r} is not supported "
            f"(supported: topk)"
        )
    w = _read_weights(w_path)
    if cfg.get("skip_connection") or "W_skip" in w:
        raise AutoencodingError(
            f"{cfg_path}: the SAE has a linear skip connection (x̂ += x W_skipᵀ), which our "
            f"model does not have"
        )
    _need(w, ["encoder.weight", "encoder.bias", "W_dec", "b_dec"], w_path)
    d = int(cfg["d_in"])
    W_enc = w["encoder.weight"]
    if W_enc.dim() != 2 or W_enc.shape[1] != d:
        raise AutoencodingError(
            f"{w_path}: encoder.weight has shape {tuple(W_enc.shape)}, but cfg.json says d_in={d}"
        )
    info = {"version": cfg.get("version"), "hook_name": path.name}
    return ExternalSAE(
        "sparsify",
        "topk",
        "topk",
        W_enc,
        w["encoder.bias"],
        w["W_dec"],
        w["b_dec"],
        k=int(cfg.get("k", 32)),
        info=info,
    )


_register(
    Format(
        "sparsify",
        f"sparsify: {CFG} + {SPARSIFY_WEIGHTS}, or a run folder of hook-point subfolders "
        f"holding them",
        lambda p: _sparsify_folder(p) or bool(_sparsify_hooks(p)),
        _read_sparsify,
    )
)


# ------------------------------------------------------------------------------- loading
def detect_format(path: str | Path) -> str | None:
    """The name of the external format of the folder ``path``, or None."""
    p = Path(path)
    if not p.is_dir():
        return None
    for name in FORMATS:
        if FORMATS.get(name).detect(p):
            return name
    return None


def is_external(path: str | Path) -> bool:
    """Whether ``path`` is an SAE folder of another library (and not one of ours)."""
    p = Path(path)
    ours = (p / "config.json").is_file() and (p / "model.safetensors").is_file()
    return not ours and detect_format(p) is not None


def read_external(path: str | Path, hook: str | None = None) -> ExternalSAE:
    """Read an SAELens or sparsify folder into the neutral :class:`ExternalSAE`."""
    p = Path(path)
    if not p.is_dir():
        raise AutoencodingError(
            f"{p}: not a folder (expected an SAE folder of SAELens or sparsify)"
        )
    name = detect_format(p)
    if name is None:
        known = "; ".join(FORMATS.get(n).describe for n in FORMATS)
        found = sorted(q.name for q in p.iterdir())[:8]
        raise AutoencodingError(
            f"{p}: not an SAE folder of a known library (it holds {found}); known formats — {known}"
        )
    sae = FORMATS.get(name).read(p, hook)
    sae.info = {"format": name, "path": str(p), **({"hook": hook} if hook else {}), **sae.info}
    sae.check(str(p))
    return sae


def load_external(
    path: str | Path,
    hook: str | None = None,
    *,
    fold_decoder_norms: bool = False,
    device: str = "cpu",
) -> TrainedModel:
    """An SAE saved by SAELens or sparsify as our :class:`~autoencoding.api.TrainedModel`,
    with the library's encode and decode maths (module docstring); ``hook`` picks a hook
    point of a sparsify run folder."""
    return to_trained_model(read_external(path, hook), fold_decoder_norms, device)


def to_trained_model(
    sae: ExternalSAE, fold_decoder_norms: bool = False, device: str = "cpu"
) -> TrainedModel:
    """Build our model from the neutral record."""
    W_enc, b_enc, threshold = sae.W_enc, sae.b_enc, sae.threshold
    norms = sae.W_dec.norm(dim=1)
    units = sae.W_dec / norms.clamp_min(1e-12)[:, None]
    gain = norms if sae.scale is None else norms * sae.scale
    spread = float((gain - gain.mean()).abs().max())
    uniform = spread <= UNIT_TOLERANCE * max(1.0, float(gain.mean()))
    if fold_decoder_norms and not bool((gain - 1).abs().max() <= UNIT_TOLERANCE):
        if sae.activation == "topk" and not uniform:
            raise AutoencodingError(
                "fold_decoder_norms: TopK selects latents on the unscaled pre-activations, so "
                "folding unequal decoder norms into the encoder would change which latents "
                "are kept; load without folding (the decoder then applies the norms)"
            )
        if bool((gain <= 0).any()):
            raise AutoencodingError(
                "fold_decoder_norms: some latents have a zero or negative decoder gain, which "
                "cannot be folded into the encoder"
            )
        # pre·g through ReLU / JumpReLU(θ·g) equals g·(the original latent): exact
        W_enc, b_enc = W_enc * gain[:, None], b_enc * gain
        threshold = threshold * gain if threshold is not None else None
        gain = torch.ones_like(gain)
    plain = bool((gain - 1).abs().max() <= UNIT_TOLERANCE)
    L, d = W_enc.shape
    bottleneck: dict[str, Any] = {"name": sae.activation}
    if sae.activation == "topk":
        bottleneck["k"] = int(sae.k or 0)
    nets = {"name": "sae", "matmul": "float32", "normalize": False, "bias_init": "zeros"}
    cfg = ModelConfig(
        recipe=f"sae-{sae.activation}",
        input_shape=[d],
        latent_dim=L,
        encoder=dict(nets),
        decoder={**nets, "name": "sae" if plain else "sae-gain"},
        bottleneck=bottleneck,
        reconstruction={"name": "fvu"},
    )
    module = Autoencoder(cfg)
    with torch.no_grad():
        module.decoder.weight.copy_(units)
        module.decoder.bias.copy_(sae.b_dec)
        module.decoder.input_scale.fill_(1.0)
        if not plain:
            module.decoder.gain.copy_(gain)
        module.encoder.weight.copy_(W_enc)
        module.encoder.bias.copy_(b_enc)
        if threshold is not None:
            module.bottleneck.threshold_param.copy_(threshold)
    module.to(device).eval()
    info = {
        "external": {
            "library": sae.library,
            "architecture": sae.architecture,
            "folded_decoder_norms": bool(fold_decoder_norms),
            **{k: v for k, v in sae.info.items() if v is not None},
        }
    }
    return TrainedModel(module, Scaler.fit("none", np.zeros((1, d), np.float32)), info)
