"""Protocol SAE anchor: SAELens 6.54.12 TopK SAE at its defaults (run with
benchmarks/.venvs/saelens/bin/python).

    python sae_saelens.py --data X --rows N --order ORDER.npy --batch-size 4096 \\
        --latents 3072 --k 32 --seed S --out DIR [--threads T]

Driven through SAELens's own ``SAETrainer`` with an iterator of activation batches (its
language-model runner takes only TransformerLens / causal-LM models, not cached
activations). Everything is built the way ``LanguageModelSAERunner`` builds it: a
``LanguageModelSAERunnerConfig`` with a ``TopKTrainingSAEConfig`` gives the trainer config
(``to_sae_trainer_config``) and the SAE (``TrainingSAE.from_dict``). Set by the protocol:
k, latents, tokens per step (``train_batch_size_tokens``), training tokens (rows × epochs)
and the batches themselves (``--order``, the same as ours). Everything else is SAELens's
default: Adam lr 3e-4 constant, gradient clipping 1.0, decoder rows initialised at norm 0.1,
b_dec = 0, pre-activations rescaled by the decoder norms, AuxK coefficient 1 with a dead
window of 1000 *steps* (longer than a 241-step run, so AuxK never triggers), fp32.
``torch.manual_seed(S)`` runs before the SAE is built.

Timed: ``SAETrainer.fit`` (the training loop; nothing else runs in it at these settings:
no activation-norm estimate, no checkpoints, no W&B). Afterwards the SAE is saved with
``save_inference_model`` (what the runner writes), loaded back with ``SAE.load_from_disk`` and
exported in the common layout (``_sae_common``), checked against SAELens's own forward.
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
from sae_lens import (
    SAE,
    LanguageModelSAERunnerConfig,
    LoggingConfig,
    SAETrainer,
    TopKTrainingSAEConfig,
)
from sae_lens.saes.sae import TrainingSAE, TrainingSAEConfig

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
x = C.load_rows(args.data, args.rows)
order = np.load(args.order)
d = x.shape[1]
total = int(order.shape[0] * order.shape[1])
xt = torch.from_numpy(x)

runner_cfg = LanguageModelSAERunnerConfig(
    sae=TopKTrainingSAEConfig(d_in=d, d_sae=args.latents, k=args.k, dtype="float32", device="cpu"),
    training_tokens=total,
    train_batch_size_tokens=args.batch_size,
    device="cpu",
    checkpoint_path=None,
    output_path=None,
    logger=LoggingConfig(log_to_wandb=False),
    verbose=False,
)
torch.manual_seed(args.seed)
sae = TrainingSAE.from_dict(
    TrainingSAEConfig.from_dict(runner_cfg.get_training_sae_cfg_dict()).to_dict()
)
trainer_cfg = runner_cfg.to_sae_trainer_config()
batches = (xt[torch.from_numpy(idx)] for idx in C.batch_indices(order, args.batch_size))
trainer = SAETrainer(cfg=trainer_cfg, sae=sae, data_provider=batches, evaluator=None)

timer = C.LoopTimer()
timer.start()
trainer.fit()
timer.stop()
steps = trainer.n_training_steps
assert trainer.n_training_samples == total, (trainer.n_training_samples, total)

native = out / "native"
sae.save_inference_model(str(native))
inf = SAE.load_from_disk(str(native))
with torch.no_grad():
    n = (
        inf.W_dec.norm(dim=-1)
        if getattr(inf.cfg, "rescale_acts_by_decoder_norm", False)
        else torch.ones(inf.cfg.d_sae)
    )
    w = {
        "W_enc": inf.W_enc.T * n[:, None],
        "b_enc": inf.b_enc * n,
        "W_dec": inf.W_dec / n[:, None],
        "b_dec": inf.b_dec,
    }
    if not inf.cfg.apply_b_dec_to_input:
        w["b_enc"] = w["b_enc"] + w["W_enc"] @ inf.b_dec
    probe = xt[:2048]
    _, ours = C.topk_forward(w, probe, args.k)
    diff = float((ours - inf(probe)).abs().max())
C.finish(
    out,
    args,
    library="sae_lens",
    version=version("sae-lens"),
    order=order,
    steps=steps,
    timer=timer,
    weights=w,
    diff=diff,
    lr=trainer_cfg.lr,
    lr_scheduler=trainer_cfg.lr_scheduler_name,
    dead_feature_window_steps=trainer_cfg.dead_feature_window,
    dead_at_end=int(trainer.dead_neurons.sum()),
)
