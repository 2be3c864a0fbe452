"""SAE training-step speed: ours vs the same TopK SAE written the way sparsify writes it.

Protocol SAE's shapes (4096 tokens per step, d = 384, 3072 latents, k = 32). The reference
is sparsify's algorithm in plain PyTorch — ReLU(linear) → topk → embedding_bag decode, with
autograd's dense backward through the encoder — and the same fused Adam; ours is the
`sae-topk` Autoencoder (sparse COO gradient into the encoder, bfloat16 encoder product where
the CPU runs it natively). Both run interleaved in one process; the best of REPS steps each.
This is a proxy until the side-by-side run against the sparsify package itself.

    python benchmarks/sae_step_speed.py        # THREADS=2 REPS=5
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["OMP_NUM_THREADS"] = os.environ.get("THREADS", "1")
import _bench  # noqa: E402,I001

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from autoencoding.model import Autoencoder  # noqa: E402
from autoencoding.recipes import resolve  # noqa: E402

B, L, D, K = 4096, 3072, 384, 32


def main(reps: int = 5) -> dict:
    torch.manual_seed(0)
    x = torch.randn(B, D)
    over = {"latent_dim": L, "bottleneck": {"name": "topk", "k": K, "dead_tokens": 10**12}}
    ours = Autoencoder(resolve("sae-topk", [D], overrides=over))
    ours.init_from_data(x)
    opt = torch.optim.Adam(ours.parameters(), lr=1e-4, fused=True)

    def step_ours():
        out = ours(x, step=0)
        opt.zero_grad()
        out.loss.backward()
        opt.step()

    w_enc = torch.nn.Parameter(torch.randn(L, D) / D**0.5)
    b_enc = torch.nn.Parameter(torch.zeros(L))
    w_dec = torch.nn.Parameter(w_enc.detach().clone())
    b_dec = torch.nn.Parameter(torch.zeros(D))
    opt_ref = torch.optim.Adam([w_enc, b_enc, w_dec, b_dec], lr=1e-4, fused=True)

    def step_ref():
        pre = F.relu(F.linear(x - b_dec, w_enc, b_enc))
        vals, idx = pre.topk(K, sorted=False)
        y = F.embedding_bag(idx, w_dec, per_sample_weights=vals, mode="sum") + b_dec
        loss = (y - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum()
        opt_ref.zero_grad()
        loss.backward()
        opt_ref.step()

    steps = {"ours": step_ours, "sparsify-style reference": step_ref}
    for f in steps.values():
        f()
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(reps):
        for name, f in steps.items():
            t0 = time.perf_counter()
            f()
            best[name] = min(best[name], time.perf_counter() - t0)
    tok = {n: B / s for n, s in best.items()}
    ratio = best["sparsify-style reference"] / best["ours"]
    table = [
        f"| threads {os.environ['OMP_NUM_THREADS']} | step ms | tokens/s |",
        "|---|---|---|",
        *[f"| {n} | {best[n] * 1e3:.0f} | {tok[n]:.0f} |" for n in steps],
        f"\nours / reference speed: {ratio:.2f}x",
    ]
    _bench.write_result("sae_step_speed", {"seconds": best, "ratio": ratio}, "\n".join(table))
    return best


if __name__ == "__main__":
    main(int(os.environ.get("REPS", "5")))
