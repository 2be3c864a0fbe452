"""Save real SAEs with SAELens or sparsify, and record the library's own forward on fixed
inputs (run with that library's venv python; used by benchmarks/claims/external_sae.py).

    python sae_export_check.py --library {saelens,sparsify} --x X.npy --out DIR

For every case DIR/<case>/ is the folder the library wrote and DIR/<case>.npz holds
``z`` (the library's dense latent activations) and ``xhat`` (its reconstruction) for the
rows of X, computed by loading that folder back with the library's own loader.
DIR/cases.json lists the cases. Weights are the library's initialisation, a short run of its
own trainer, and random perturbations that move every parameter away from its special
initial value (decoder rows of unequal norm, non-zero biases, thresholds), so that a loader
that ignored any of them would fail.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _sae_common as C

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--library", required=True, choices=["saelens", "sparsify"])
p.add_argument("--x", required=True, help=".npy of (n, d) float32 inputs")
p.add_argument("--out", required=True)
args = p.parse_args()
C.setup_process(1)

import numpy as np
import torch

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
x = torch.from_numpy(np.load(args.x).astype(np.float32))
D, L, K = x.shape[1], 8 * x.shape[1], 8
cases: list[dict] = []


@torch.no_grad()
def perturb(module, seed: int, dec_name: str = "W_dec") -> None:
    """Noise on every parameter, and decoder rows rescaled to unequal norms."""
    g = torch.Generator().manual_seed(seed)
    for name, prm in module.named_parameters():
        if prm.dim() >= 1 and "threshold" not in name:
            prm.add_(0.05 * prm.abs().mean().clamp_min(0.1) * torch.randn(prm.shape, generator=g))
    w = dict(module.named_parameters())[dec_name]
    w.mul_(torch.empty(w.shape[0], 1).uniform_(0.5, 1.5, generator=g))


def record(case: str, z: torch.Tensor, xhat: torch.Tensor, note: str) -> None:
    np.savez(out / f"{case}.npz", z=z.detach().numpy(), xhat=xhat.detach().numpy())
    cases.append({"case": case, "folder": case, "note": note})
    print(f"{case}: saved ({note})", flush=True)


def train_batches(n_steps: int, batch: int = 256, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n_steps):
        yield x[torch.randint(len(x), (batch,), generator=g)]


if args.library == "saelens":
    from sae_lens import (
        SAE,
        BatchTopKTrainingSAE,
        BatchTopKTrainingSAEConfig,
        JumpReLUTrainingSAE,
        JumpReLUTrainingSAEConfig,
        LoggingConfig,
        SAETrainer,
        StandardTrainingSAE,
        StandardTrainingSAEConfig,
        TopKTrainingSAE,
        TopKTrainingSAEConfig,
    )
    from sae_lens.config import SAETrainerConfig

    def fit(sae, steps=30):
        cfg = SAETrainerConfig(
            total_training_samples=steps * 256,
            train_batch_size_samples=256,
            lr=3e-3,
            lr_end=3e-3,
            logger=LoggingConfig(log_to_wandb=False),
        )
        SAETrainer(cfg=cfg, sae=sae, data_provider=train_batches(steps)).fit()

    def reference(case: str, note: str) -> None:
        inf = SAE.load_from_disk(str(out / case))
        with torch.no_grad():
            z = inf.encode(x)
            record(case, z, inf.decode(z), note)

    torch.manual_seed(0)
    sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=D, d_sae=L, k=K))
    fit(sae)
    perturb(sae, 1)
    sae.save_inference_model(str(out / "topk"))
    reference("topk", "TopK, trained by SAETrainer, rescale_acts_by_decoder_norm (folded on save)")

    torch.manual_seed(1)
    sae = TopKTrainingSAE(
        TopKTrainingSAEConfig(d_in=D, d_sae=L, k=K, rescale_acts_by_decoder_norm=False)
    )
    perturb(sae, 2)
    sae.save_inference_model(str(out / "topk_norescale"))
    reference("topk_norescale", "TopK without decoder-norm rescaling, unequal decoder norms")

    torch.manual_seed(2)
    sae = StandardTrainingSAE(
        StandardTrainingSAEConfig(d_in=D, d_sae=L, apply_b_dec_to_input=False)
    )
    perturb(sae, 3)
    sae.save_inference_model(str(out / "standard"))
    reference("standard", "ReLU (standard), apply_b_dec_to_input=False")

    torch.manual_seed(3)
    sae = JumpReLUTrainingSAE(JumpReLUTrainingSAEConfig(d_in=D, d_sae=L))
    perturb(sae, 4)
    with torch.no_grad():
        sae.threshold.uniform_(0.02, 0.3)
    sae.save_inference_model(str(out / "jumprelu"))
    reference("jumprelu", "JumpReLU with thresholds in [0.02, 0.3]")

    torch.manual_seed(4)
    sae = BatchTopKTrainingSAE(BatchTopKTrainingSAEConfig(d_in=D, d_sae=L, k=K))
    fit(sae)
    perturb(sae, 5)
    sae.save_model(str(out / "batchtopk_checkpoint"))  # a training checkpoint
    sae.save_inference_model(str(out / "batchtopk"))  # what SAELens serves: a JumpReLU SAE
    reference("batchtopk", "BatchTopK trained by SAETrainer, saved for inference (JumpReLU)")
    ref = np.load(out / "batchtopk.npz")
    record(
        "batchtopk_checkpoint",
        torch.from_numpy(ref["z"]),
        torch.from_numpy(ref["xhat"]),
        "the same BatchTopK as a training checkpoint (topk_threshold, unfolded norms)",
    )
    version = __import__("importlib.metadata").metadata.version("sae-lens")
else:
    from sparsify import SaeConfig, SparseCoder, TrainConfig, Trainer
    from torch import nn

    def reference(case: str, folder: Path, note: str) -> None:
        sae = SparseCoder.load_from_disk(folder)
        with torch.no_grad():
            fwd = sae(x)
            z = torch.zeros(len(x), sae.num_latents).scatter_(
                1, fwd.latent_indices, fwd.latent_acts
            )
            record(case, z, fwd.sae_out, note)

    torch.manual_seed(0)
    sae = SparseCoder(D, SaeConfig(num_latents=L, k=K))
    perturb(sae, 1)
    sae.save_to_disk(out / "topk")
    reference("topk", out / "topk", "TopK, unequal decoder norms")

    class Rows(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding.from_pretrained(x.clone(), freeze=True)

        base_model = property(lambda self: self)
        device = property(lambda self: self.embed.weight.device)
        dummy_inputs = property(lambda self: {"input_ids": torch.zeros(1, 1, dtype=torch.long)})

        def forward(self, input_ids):
            return self.embed(input_ids)

    g = torch.Generator().manual_seed(0)
    data = [{"input_ids": torch.randint(len(x), (256,), generator=g)} for _ in range(30)]
    cfg = TrainConfig(
        SaeConfig(num_latents=L, k=K),
        batch_size=1,
        hookpoints=["embed"],
        log_to_wandb=False,
        save_dir=str(out / "runs"),
        run_name="run",
    )
    Trainer(cfg, data, Rows()).fit()
    (out / "run").symlink_to(out / "runs" / "run", target_is_directory=True)
    reference("run", out / "run" / "embed", "a run folder written by Trainer.fit (30 steps)")
    version = __import__("importlib.metadata").metadata.version("eai-sparsify")

(out / "cases.json").write_text(
    json.dumps({"library": args.library, "version": version, "cases": cases}, indent=2)
)
