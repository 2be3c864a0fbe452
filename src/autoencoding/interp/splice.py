"""Put an SAE inside the host model: splice its reconstruction in, or steer with features.

* :func:`patch` — a context manager that replaces the activation at a hook point by
  ``fn(activation)`` during forward passes of the host model;
* :func:`steer` — add, clamp or zero chosen SAE features at a hook point (clamping keeps
  the SAE's reconstruction error, so only the chosen features change);
* :func:`spliced_metrics` — for causal LMs the next-token cross-entropy with the SAE
  spliced in, clean and with the activation zero-ablated, the fraction of loss recovered
  and the KL from the clean predictions; for encoders the cosine between the clean and
  spliced final embeddings (mean-pooled last hidden state).

Python::

    with steer(model, "blocks.2.resid_post", sae.module, {123: 5.0}, mode="clamp"):
        logits = model(input_ids).logits
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AutoencodingError
from ..model import Autoencoder
from .models import HOOK_RE, _captures


def _replace(output: Any, new: torch.Tensor) -> Any:
    if isinstance(output, tuple):
        return (new, *output[1:])
    if isinstance(output, list):
        return [new, *output[1:]]
    return new


@contextmanager
def patch(
    model: nn.Module, hook: str, fn: Callable[[torch.Tensor], torch.Tensor]
) -> Iterator[None]:
    """Within the block, the activation at ``hook`` (B, T, d) is replaced by ``fn`` of it."""
    (cap,) = _captures(model, [hook])
    if cap.pre:

        def pre_hook(mod, args, kwargs):
            if args:
                return (fn(args[0]), *args[1:]), kwargs
            kwargs = dict(kwargs)
            kwargs["hidden_states"] = fn(kwargs["hidden_states"])
            return args, kwargs

        handle = cap.module.register_forward_pre_hook(pre_hook, with_kwargs=True)
    else:

        def post_hook(mod, args, output):
            first = output[0] if isinstance(output, (tuple, list)) else output
            return _replace(output, fn(first))

        handle = cap.module.register_forward_hook(post_hook)
    try:
        yield
    finally:
        handle.remove()


def _check_sae(sae: nn.Module, d: int) -> None:
    if not isinstance(sae, Autoencoder):
        raise AutoencodingError(f"expected an autoencoding SAE, got {type(sae).__name__}")
    if sae.n_features != d:
        raise AutoencodingError(
            f"the SAE expects {sae.n_features}-dimensional activations, the hook point gives {d}"
        )


def reconstruct_activations(sae: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """The SAE's reconstruction of activations shaped (..., d)."""
    flat = h.reshape(-1, h.shape[-1])
    _check_sae(sae, flat.shape[1])
    with torch.no_grad():
        rec = sae.run(flat.float()).out.flatten(1)
    return rec.to(h.dtype).reshape(h.shape)


@contextmanager
def steer(
    model: nn.Module,
    hook: str,
    sae: nn.Module,
    features: Mapping[int, float],
    mode: Literal["add", "clamp"] = "clamp",
) -> Iterator[None]:
    """Steer the host model with SAE features at ``hook``.

    ``add``: h + Σ_i value_i · d_i, with d_i the decoder direction of latent i in the
    activations' units. ``clamp``: set latent i to value_i in the SAE's code and add the
    change, h + Σ_i (value_i − z_i) · d_i, so the SAE's reconstruction error is kept and
    only the chosen features move (clamping to 0 ablates a feature).
    """
    if mode not in ("add", "clamp"):
        raise AutoencodingError(f"steer mode must be 'add' or 'clamp', got {mode!r}")
    if not HOOK_RE.match(hook):
        raise AutoencodingError(f"unknown hook point {hook!r}")
    n = sae.config.latent_dim
    bad = [i for i in features if not 0 <= int(i) < n]
    if bad:
        raise AutoencodingError(f"features {bad} out of range: the SAE has {n} latents")
    idx = torch.tensor([int(i) for i in features], dtype=torch.long)
    vals = torch.tensor([float(v) for v in features.values()])
    dirs = (sae.decoder.directions() / sae.decoder.input_scale).detach()[idx]  # (m, d)

    def fn(h: torch.Tensor) -> torch.Tensor:
        _check_sae(sae, h.shape[-1])
        d = dirs.to(h.device, h.dtype)
        v = vals.to(h.device, h.dtype)
        if mode == "add":
            return h + v @ d
        with torch.no_grad():
            flat = h.reshape(-1, h.shape[-1]).float()
            z = sae.run(flat, decode=False).bottleneck.z[:, idx.to(h.device)].to(h.dtype)
        delta = (v - z) @ d
        return h + delta.reshape(h.shape)

    with patch(model, hook, fn):
        yield


@torch.no_grad()
def spliced_metrics(
    model: nn.Module,
    sae: nn.Module,
    hook: str,
    batches: Iterator[dict[str, torch.Tensor]] | list[dict[str, torch.Tensor]],
) -> dict[str, float]:
    """Clean vs SAE-spliced vs zero-ablated forward passes over ``batches`` of
    ``input_ids`` / ``attention_mask`` (and ``keep``: the positions that count, and the only
    ones whose activation is replaced — as in training, special and padding tokens are not
    the SAE's to reconstruct)."""
    sae.eval()
    causal = hasattr(model, "get_output_embeddings") and model.get_output_embeddings() is not None
    sums = {"ce_clean": 0.0, "ce_spliced": 0.0, "ce_zero": 0.0, "kl": 0.0, "cosine": 0.0}
    n = 0
    for batch in batches:
        keep = batch.get("keep", batch["attention_mask"].bool())
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        outs = {}
        # only the positions the SAE was trained on (no special or padding tokens) are
        # replaced; the others keep their clean activations
        kept = keep.unsqueeze(-1)

        def spliced(h: torch.Tensor, kept=kept) -> torch.Tensor:
            return torch.where(kept.to(h.device), reconstruct_activations(sae, h), h)

        def zeroed(h: torch.Tensor, kept=kept) -> torch.Tensor:
            return torch.where(kept.to(h.device), torch.zeros_like(h), h)

        for name, fn in (("clean", None), ("spliced", spliced), ("zero", zeroed)):
            if fn is None:
                outs[name] = model(**inputs)
            else:
                with patch(model, hook, fn):
                    outs[name] = model(**inputs)
        if causal:
            # position t predicts token t+1; both must be kept positions
            mask = (keep[:, :-1] & keep[:, 1:]).reshape(-1)
            target = inputs["input_ids"][:, 1:].reshape(-1)[mask]
            logp = {
                k: F.log_softmax(o.logits[:, :-1].float(), -1).reshape(-1, o.logits.shape[-1])[mask]
                for k, o in outs.items()
            }
            for k in ("clean", "spliced", "zero"):
                sums[f"ce_{k}"] += float(F.nll_loss(logp[k], target, reduction="sum"))
            sums["kl"] += float(
                F.kl_div(logp["spliced"], logp["clean"], log_target=True, reduction="sum")
            )
            n += int(mask.sum())
        else:
            m = inputs["attention_mask"].unsqueeze(-1).float()
            emb = {
                k: (o.last_hidden_state * m).sum(1) / m.sum(1).clamp_min(1) for k, o in outs.items()
            }
            sums["cosine"] += float(F.cosine_similarity(emb["clean"], emb["spliced"]).sum())
            n += len(emb["clean"])
    if n == 0:
        raise AutoencodingError("no tokens to evaluate the splice on")
    if causal:
        out = {k: sums[k] / n for k in ("ce_clean", "ce_spliced", "ce_zero", "kl")}
        gap = out["ce_zero"] - out["ce_clean"]
        out["loss_recovered"] = (out["ce_zero"] - out["ce_spliced"]) / gap if gap else float("nan")
        return out
    return {"embedding_cosine": sums["cosine"] / n}
