"""A static, offline HTML feature browser for a trained SAE.

For every latent: its activation density on the store, its top-activating tokens shown in
their context with the token highlighted (contexts come from the store's token ids,
sequence indices and positions), and — where the host model has an unembedding — the
tokens its decoder direction promotes most. ``index.html`` lists the latents; each has a
page under ``features/``. No JavaScript, no network.

Python::

    write_feature_browser(sae.module, store, "browser/", tokenizer=tok, unembedding=W_U)
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import AutoencodingError
from .store import ActivationStore

STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:1em auto}"
    "td,th{padding:2px 8px;text-align:left}.ctx{font-family:monospace;white-space:pre-wrap}"
    "mark{background:#fd6;font-weight:bold}.bar{background:#49c;height:.8em;display:inline-block}"
)


@torch.no_grad()
def top_activations(
    sae: torch.nn.Module, store: ActivationStore, top: int = 10, chunk: int = 8192
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values (top, L), store rows (top, L), firing counts (L,)) over the whole store."""
    sae.eval()
    L = sae.config.latent_dim
    best_v = torch.full((top, L), -float("inf"))
    best_i = torch.full((top, L), -1, dtype=torch.long)
    counts = torch.zeros(L, dtype=torch.long)
    offset = 0
    for x in store.iter_chunks(chunk):
        if x.shape[1] != sae.n_features:
            raise AutoencodingError(
                f"store holds {x.shape[1]}-dimensional activations; the SAE expects "
                f"{sae.n_features}"
            )
        z = sae.run(x, decode=False).bottleneck.z.float()
        counts += (z != 0).sum(0)
        k = min(top, len(z))
        v, i = z.topk(k, dim=0)
        allv = torch.cat([best_v, v])
        alli = torch.cat([best_i, i + offset])
        keep = allv.topk(top, dim=0).indices
        best_v, best_i = allv.gather(0, keep), alli.gather(0, keep)
        offset += len(z)
    return best_v.numpy(), best_i.numpy(), counts.numpy()


def _token_text(tokenizer: Any, ids: list[int]) -> list[str]:
    if tokenizer is None:
        return [f"#{i}" for i in ids]
    return [t.replace("Ġ", " ").replace("▁", " ") for t in tokenizer.convert_ids_to_tokens(ids)]


def write_feature_browser(
    sae: torch.nn.Module,
    store: ActivationStore,
    out: str | Path,
    tokenizer: Any = None,
    unembedding: torch.Tensor | None = None,
    top: int = 10,
    context: int = 8,
    latents: list[int] | None = None,
) -> Path:
    """Write ``out/index.html`` and one page per latent (all, or ``latents``)."""
    out = Path(out)
    (out / "features").mkdir(parents=True, exist_ok=True)
    vals, rows, counts = top_activations(sae, store, top)
    meta = store.read("meta")  # (n, 3): token id, sequence, position
    n = len(meta)
    L = vals.shape[1]
    chosen = list(range(L)) if latents is None else [int(i) for i in latents]
    bad = [i for i in chosen if not 0 <= i < L]
    if bad:
        raise AutoencodingError(f"latents {bad[:5]} out of range: the SAE has {L}")
    dirs = (sae.decoder.directions() / sae.decoder.input_scale).detach()
    promoted: dict[int, list[str]] = {}
    if unembedding is not None:
        logits = dirs[chosen].float() @ unembedding.detach().float().T
        for i, row in zip(chosen, logits.topk(10, dim=1).indices.tolist(), strict=True):
            promoted[i] = _token_text(tokenizer, row)
    index = [
        f"<html><head><meta charset='utf-8'><title>SAE features</title><style>{STYLE}</style>"
        f"</head><body><h1>SAE features</h1><p>{L} latents, {n} tokens of "
        f"{html.escape(str(store.manifest.get('model', '?')))} at "
        f"{html.escape(str(store.manifest.get('hook', '?')))}; dead (never active): "
        f"{int((counts == 0).sum())}.</p><table><tr><th>latent</th><th>density</th>"
        "<th>max</th><th>top tokens</th></tr>"
    ]
    for i in chosen:
        density = counts[i] / max(1, n)
        good = rows[:, i] >= 0
        top_rows = rows[good, i]
        top_vals = vals[good, i]
        toks = _token_text(tokenizer, [int(meta[r, 0]) for r in top_rows[:3]])
        index.append(
            f"<tr><td><a href='features/{i}.html'>{i}</a></td><td><span class='bar' "
            f"style='width:{max(1, int(200 * density**0.5))}px'></span> {density:.2e}</td>"
            f"<td>{(top_vals[0] if len(top_vals) else 0):.3g}</td>"
            f"<td>{html.escape(' | '.join(toks))}</td></tr>"
        )
        page = [
            f"<html><head><meta charset='utf-8'><title>latent {i}</title><style>{STYLE}</style>"
            f"</head><body><p><a href='../index.html'>index</a></p><h1>latent {i}</h1>"
            f"<p>density {density:.3e} ({int(counts[i])} of {n} tokens)</p>"
        ]
        if i in promoted:
            page.append("<p>promotes: " + html.escape(" | ".join(promoted[i])) + "</p>")
        page.append("<table><tr><th>activation</th><th>context</th></tr>")
        for r, v in zip(top_rows, top_vals, strict=True):
            if v <= 0:
                continue
            seq = meta[r, 1]
            lo, hi = max(0, r - context), min(n, r + context + 1)
            span = [j for j in range(lo, hi) if meta[j, 1] == seq]
            words = _token_text(tokenizer, [int(meta[j, 0]) for j in span])
            ctx = "".join(
                f"<mark>{html.escape(w)}</mark>" if j == r else html.escape(w + " ")
                for j, w in zip(span, words, strict=True)
            )
            page.append(f"<tr><td>{v:.3g}</td><td class='ctx'>{ctx}</td></tr>")
        page.append("</table></body></html>")
        (out / "features" / f"{i}.html").write_text("\n".join(page), encoding="utf-8")
    index.append("</table></body></html>")
    (out / "index.html").write_text("\n".join(index), encoding="utf-8")
    return out
