"""Protocol GEN anchor: vector-quantize-pytorch 1.32.0 wrapped in the protocol MLP
(run with benchmarks/.venvs/autoencoders/bin/python, where the library is installed).

    python gen_vector_quantize.py --model vqvae --seed S --epochs E --out result.json [--threads N]

The library is a layer, not a trainer, so this script supplies the rest the way its README
does: encoder 64-256-256-64 (ReLU) → 4 vectors of 16 → ``VectorQuantize(dim=16,
codebook_size=128, commitment_weight=0.25)`` with every other option at the library default
(EMA decay 0.8, rotation trick on in 1.32, no k-means, no dead-code threshold) → decoder
64-256-256-64 with a sigmoid output; loss = element-mean MSE + the layer's commitment loss;
Adam 1e-3, batch 64, an in-memory loop reshuffled each epoch with ``torch.randperm``. Writes
result.json and result.npz like the other anchors (see README.md here).
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

args = C.parse_args(("vqvae",), __doc__)
C.setup_process(args.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from vector_quantize_pytorch import VectorQuantize  # noqa: E402

try:
    from importlib.metadata import version

    VERSION = version("vector-quantize-pytorch")
except Exception:  # pragma: no cover
    VERSION = "unknown"


def mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class VQAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = mlp([64, C.HIDDEN, C.HIDDEN, C.N_VQ * C.VQ_DIM])
        self.vq = VectorQuantize(
            dim=C.VQ_DIM, codebook_size=C.CODEBOOK_SIZE, commitment_weight=C.COMMITMENT
        )
        self.decoder = mlp([C.N_VQ * C.VQ_DIM, C.HIDDEN, C.HIDDEN, 64])

    def forward(self, x):
        e = self.encoder(x).reshape(len(x), C.N_VQ, C.VQ_DIM)
        q, codes, commit = self.vq(e)
        xhat = torch.sigmoid(self.decoder(q.reshape(len(x), -1)))
        return xhat, q.reshape(len(x), -1), codes, commit.sum()


def main():
    x_tr, x_te, y_tr, y_te = C.load_gen_data()
    torch.manual_seed(args.seed)
    model = VQAE()
    opt = torch.optim.Adam(model.parameters(), lr=C.LR)
    xt = torch.as_tensor(x_tr)
    timer = C.EpochTimer()

    def train_epoch():
        model.train()
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), C.BATCH_SIZE):
            xb = xt[order[i : i + C.BATCH_SIZE]]
            xhat, _, _, commit = model(xb)
            loss = F.mse_loss(xhat, xb) + commit
            opt.zero_grad()
            loss.backward()
            opt.step()

    train_epoch = timer.wrap(train_epoch)
    t0 = time.perf_counter()
    for _ in range(args.epochs):
        train_epoch()
    t_fit = time.perf_counter() - t0

    model.eval()

    def run(x):
        with torch.no_grad():
            xhat, z, codes, _ = model(torch.as_tensor(x))
        return xhat.numpy(), z.numpy(), codes.numpy().astype(np.int64)

    xhat, z_te, codes_te = run(x_te)
    _, z_tr, codes_tr = run(x_tr)
    arrays = {
        "xhat_mean": xhat,
        "codes": codes_te,
        "codes_train": codes_tr,
        "z_train": z_tr,
        "z_test": z_te,
    }
    meta = {
        "library": "vector-quantize-pytorch",
        "library_version": VERSION,
        "torch_version": torch.__version__,
        "model": args.model,
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": C.BATCH_SIZE,
        "lr": C.LR,
        "threads": args.threads,
        "s_per_epoch": float(np.mean(timer.times)),
        "s_per_epoch_loop": t_fit / args.epochs,
        "s_fit_total": t_fit,
        "epoch_times": [round(t, 5) for t in timer.times],
        "codebook_size": C.CODEBOOK_SIZE,
        "n_vectors": C.N_VQ,
        "vector_dim": C.VQ_DIM,
        "commitment": C.COMMITMENT,
    }
    meta["summary"] = C.vq_summary(arrays, x_te)
    meta["summary"]["probe"] = C.probe_accuracy(z_tr, y_tr, z_te, y_te)
    C.write_result(args.out, meta, arrays, x_te, y_tr, y_te)
    print(
        f"{os.path.basename(__file__)} {args.model} seed={args.seed}: "
        f"s/epoch={meta['s_per_epoch']:.4f} {meta['summary']}"
    )


if __name__ == "__main__":
    main()
