"""Protocol SAE anchor: sparsify (eai-sparsify 1.3.3) TopK SAE at its defaults (run with
benchmarks/.venvs/sparsify/bin/python).

    python sae_sparsify.py --data X --rows N --order ORDER.npy --batch-size 4096 \\
        --latents 3072 --k 32 --seed S --out DIR [--threads T]

sparsify trains only through forward hooks on a model fed token ids, so the cached
activations are served by a frozen ``nn.Embedding`` (row i = activation i) inside a tiny
model, and its own ``Trainer.fit`` trains on the hook point ``embed``. Each dataset item is
one whole batch — a "sequence" of the batch's row indices, in the order of ``--order`` — and
the trainer's ``batch_size`` is 1 sequence, so every step sees exactly our batch (including
the shorter last batch of each epoch). Set by the protocol: k, ``num_latents``, the batches
and their number. Everything else is sparsify's default: signSGD in a schedule-free wrapper
(momentum 0.95) with lr 5e-3 / sqrt(L / 2^14), b_dec = the first batch's mean, encoder
bias 0, decoder renormalised to unit rows before every step, no AuxK (``auxk_alpha`` 0),
fp32. ``init_seeds=[S]`` (the trainer seeds torch before building the SAE).

Timed: ``Trainer.fit`` up to the entry of its final ``save`` (the training loop, including
its per-step bookkeeping). The saved SAE — written by the trainer, with the schedule-free
averaged weights — is loaded back with ``SparseCoder.load_from_disk`` and exported in the
common layout (``_sae_common``), checked against sparsify's own forward.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _sae_common as C

args = C.parse_args(__doc__)
C.setup_process(args.threads)

from importlib.metadata import version

import numpy as np
import torch
from sparsify import SaeConfig, SparseCoder, TrainConfig, Trainer
from torch import nn

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
x = C.load_rows(args.data, args.rows)
order = np.load(args.order)
total = int(order.shape[0] * order.shape[1])


class CachedActivations(nn.Module):
    """A 'model' whose hook point ``embed`` outputs cached activation rows by index."""

    def __init__(self, rows: np.ndarray) -> None:
        super().__init__()
        self.embed = nn.Embedding.from_pretrained(torch.from_numpy(rows), freeze=True)

    @property
    def base_model(self) -> nn.Module:
        return self

    @property
    def device(self) -> torch.device:
        return self.embed.weight.device

    @property
    def dummy_inputs(self) -> dict:
        return {"input_ids": torch.zeros(1, 1, dtype=torch.long)}

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embed(input_ids)


model = CachedActivations(x)
dataset = [
    {"input_ids": torch.from_numpy(idx.astype(np.int64))}
    for idx in C.batch_indices(order, args.batch_size)
]
cfg = TrainConfig(
    SaeConfig(num_latents=args.latents, k=args.k),
    batch_size=1,
    hookpoints=["embed"],
    init_seeds=[args.seed],
    log_to_wandb=False,
    save_dir=str(out / "native_run"),
    run_name="run",
)
trainer = Trainer(cfg, dataset, model)
lr = trainer.optimizers[0].param_groups[0]["lr"]

timer = C.LoopTimer()
save = trainer.save


def timed_save():
    timer.stop()  # the loop is over when fit saves for the last time
    save()


trainer.save = timed_save
timer.start()
trainer.fit()
timer.stop()
steps = trainer.global_step

native = out / "native_run" / "run" / "embed"
sae = SparseCoder.load_from_disk(native)
with torch.no_grad():
    w = {
        "W_enc": sae.encoder.weight,
        "b_enc": sae.encoder.bias,
        "W_dec": sae.W_dec,
        "b_dec": sae.b_dec,
    }
    probe = torch.from_numpy(x[:2048])
    _, ours = C.topk_forward(w, probe, args.k)
    diff = float((ours - sae(probe).sae_out).abs().max())
C.finish(
    out,
    args,
    library="sparsify",
    version=version("eai-sparsify"),
    order=order,
    steps=steps,
    timer=timer,
    weights=w,
    diff=diff,
    lr=lr,
    optimizer=cfg.optimizer,
    auxk_alpha=cfg.auxk_alpha,
    dead_at_end=int((trainer.num_tokens_since_fired["embed"] > cfg.dead_feature_threshold).sum()),
    native=str(native),
)
