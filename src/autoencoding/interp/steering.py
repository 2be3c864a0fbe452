"""Compare a host model's output on one text with and without SAE steering.

:func:`steer_text` runs the text clean and under :func:`~autoencoding.interp.splice.steer`
and reports

* for causal LMs: the top next-token predictions at the last position, clean and steered,
  each with its probability under the other run too, and KL(clean ‖ steered);
* for encoders: the cosine between the clean and steered mean-pooled final embeddings;
* for both: the steered latents' mean value over the text's tokens, clean and steered,
  read by the SAE at the hook point (after the steering), so one sees that the intervention
  took hold where it was made.

Python::

    from autoencoding.interp.steering import parse_features, steer_text
    report = steer_text(model, tok, sae.module, "blocks.2.resid_post",
                        parse_features("12=5.0,40=0"), "The capital of France is", mode="add")

Command line: ``autoencoding sae steer RUN --model M --hook H --features 12=5 --text "..."``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AutoencodingError
from .models import check_hooks, max_positions
from .splice import patch, steer

_PAIR = re.compile(r"^\s*(\d+)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


def parse_features(spec: str) -> dict[int, float]:
    """``"12=5.0,40=0"`` → ``{12: 5.0, 40: 0.0}`` (latent index = value, comma-separated)."""
    out: dict[int, float] = {}
    for part in spec.split(","):
        m = _PAIR.match(part)
        if m is None:
            raise AutoencodingError(
                f"--features: expected comma-separated INDEX=VALUE pairs such as "
                f"'12=5.0,40=0', got {part.strip()!r} in {spec!r}"
            )
        i = int(m.group(1))
        if i in out:
            raise AutoencodingError(f"--features: latent {i} is given twice in {spec!r}")
        out[i] = float(m.group(2))
    return out


def check_features(features: Mapping[int, float], n_latents: int) -> None:
    """Every steered latent must exist."""
    bad = sorted(i for i in features if not 0 <= i < n_latents)
    if bad:
        raise AutoencodingError(
            f"features {bad} out of range: the SAE has {n_latents} latents (0 to {n_latents - 1})"
        )


def _is_causal(model: nn.Module) -> bool:
    emb = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return emb is not None


def _run(model: nn.Module, hook: str, inputs: dict[str, torch.Tensor]) -> tuple[Any, torch.Tensor]:
    """(model output, activation at ``hook``); inside :func:`steer` the activation seen is the
    steered one, because this patch is registered after the steering hook."""
    seen: list[torch.Tensor] = []

    def grab(h: torch.Tensor) -> torch.Tensor:
        seen.append(h.detach())
        return h

    with patch(model, hook, grab):
        out = model(**inputs)
    return out, seen[0]


def _top(tokenizer: Any, p: torch.Tensor, other: torch.Tensor, k: int, key: str) -> list[dict]:
    vals, ids = p.topk(min(k, p.numel()))
    return [
        {"id": int(i), "token": tokenizer.decode([int(i)]), "p": float(v), key: float(other[i])}
        for v, i in zip(vals, ids, strict=True)
    ]


@torch.no_grad()
def steer_text(
    model: nn.Module,
    tokenizer: Any,
    sae: nn.Module,
    hook: str,
    features: Mapping[int, float],
    text: str,
    mode: Literal["add", "clamp"] = "clamp",
    top: int = 10,
    device: str = "cpu",
) -> dict[str, Any]:
    """Clean vs steered run of ``model`` on ``text`` (see the module docstring)."""
    if not text or not text.strip():
        raise AutoencodingError("the text to steer on is empty")
    if not features:
        raise AutoencodingError("no features to steer: give INDEX=VALUE pairs")
    if top < 1:
        raise AutoencodingError(f"--top must be >= 1, got {top}")
    check_features(features, sae.config.latent_dim)
    check_hooks(model, [hook])
    enc = tokenizer(text, return_tensors="pt", return_special_tokens_mask=True)
    length = enc["input_ids"].shape[1]
    limit = max_positions(model)
    if length == 0:
        raise AutoencodingError("the text to steer on gives no tokens")
    if limit is not None and length > limit:
        raise AutoencodingError(f"the text is {length} tokens; the model takes at most {limit}")
    model, sae = model.to(device).eval(), sae.to(device).eval()
    inputs = {k: enc[k].to(device) for k in ("input_ids", "attention_mask") if k in enc}
    keep = (1 - enc["special_tokens_mask"]).bool().to(device)
    if not keep.any():
        keep = torch.ones_like(keep)  # only special tokens: read the latents everywhere
    clean, h_clean = _run(model, hook, inputs)
    with steer(model, hook, sae, features, mode=mode):
        steered, h_steered = _run(model, hook, inputs)

    idx = torch.tensor(list(features), dtype=torch.long, device=device)

    def latents(h: torch.Tensor) -> torch.Tensor:
        flat = h[keep].float()
        return sae.run(flat, decode=False).bottleneck.z[:, idx].mean(0)

    zc, zs = latents(h_clean), latents(h_steered)
    report: dict[str, Any] = {
        "hook": hook,
        "mode": mode,
        "features": {str(i): float(v) for i, v in features.items()},
        "tokens": int(length),
        "latents": [
            {"feature": int(i), "value": float(v), "clean": float(a), "steered": float(b)}
            for (i, v), a, b in zip(features.items(), zc, zs, strict=True)
        ],
    }
    if _is_causal(model):
        logp_c = F.log_softmax(clean.logits[0, -1].float(), -1)
        logp_s = F.log_softmax(steered.logits[0, -1].float(), -1)
        pc, ps = logp_c.exp(), logp_s.exp()
        report.update(
            kind="causal-lm",
            last_token=tokenizer.decode([int(inputs["input_ids"][0, -1])]),
            clean=_top(tokenizer, pc, ps, top, "p_steered"),
            steered=_top(tokenizer, ps, pc, top, "p_clean"),
            kl=float((pc * (logp_c - logp_s)).sum().clamp_min(0)),
        )
    else:
        m = inputs.get("attention_mask", torch.ones_like(inputs["input_ids"]))
        m = m.unsqueeze(-1).float()
        ec = (clean.last_hidden_state * m).sum(1) / m.sum(1)
        es = (steered.last_hidden_state * m).sum(1) / m.sum(1)
        report.update(kind="encoder", embedding_cosine=float(F.cosine_similarity(ec, es)[0]))
    return report


def format_report(report: dict[str, Any]) -> str:
    """The human-readable form of :func:`steer_text`'s report."""
    feats = ", ".join(f"{i}={v:g}" for i, v in report["features"].items())
    lines = [f"{report['hook']}: {report['mode']} {feats} ({report['tokens']} tokens)"]
    if report["kind"] == "causal-lm":
        lines.append(f"next token after {report['last_token']!r}:")
        lines.append(f"  {'clean':<28}  steered")
        for a, b in zip(report["clean"], report["steered"], strict=True):
            left = f"{a['token']!r:<18} {a['p']:.4f}"
            right = f"{b['token']!r:<18} {b['p']:.4f}"
            lines.append(f"  {left:<28}  {right}")
        lines.append(f"KL(clean || steered) = {report['kl']:.4g} nats")
    else:
        lines.append(
            f"cosine(clean, steered mean-pooled embedding) = {report['embedding_cosine']:.4f}"
        )
    for r in report["latents"]:
        lines.append(
            f"latent {r['feature']}: mean {r['clean']:.4g} clean -> {r['steered']:.4g} steered"
        )
    return "\n".join(lines)
