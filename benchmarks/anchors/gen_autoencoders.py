"""Protocol GEN anchor: `autoencoders` 0.6.8 (run with benchmarks/.venvs/autoencoders/bin/python).

    python gen_autoencoders.py --model {vae,vqvae} --seed S --epochs E --out result.json [--threads N]

Trains the library's VariationalAutoencoderModel (with a Bernoulli reconstruction term, KL weight
1 and free bits 0) or VectorQuantizedAutoencoderModel (library defaults: MSE reconstruction,
plain codebook loss, no EMA / dead-code reset) with the protocol nets through the library's own
VAETrainer / VQTrainer.fit, then writes result.json and result.npz (see README.md here).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

args = C.parse_args(("vae", "vqvae"), __doc__)
C.setup_process(args.threads)

import autoencoders  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from autoencoders import TrainingConfig, VAETrainer, VQTrainer  # noqa: E402
from autoencoders.data.base import DatasetLoaders, TensorSpec  # noqa: E402
from autoencoders.models.vae import VariationalAutoencoderConfig, VariationalAutoencoderModel  # noqa: E402
from autoencoders.models.vqvae import (
    VectorQuantizedAutoencoderConfig,
    VectorQuantizedAutoencoderModel,
)  # noqa: E402
from autoencoders.modules import BaseAutoencoderModule  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402


def mlp(sizes, final_relu=False):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or final_relu:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Backbone(BaseAutoencoderModule):
    """Encoder backbone with a declared output spec (the library's built-in "mlp" module leaves the
    last layer linear, so 64-256-256 ReLU needs a custom module)."""

    def __init__(self, net: nn.Module, in_shape, out_shape):
        super().__init__(config=None, input_spec=TensorSpec(shape=in_shape))
        self.output_spec = TensorSpec(shape=out_shape)
        self.net = net
        self.out_shape = out_shape

    def forward(self, inputs):
        return self.net(inputs).reshape(inputs.shape[0], *self.out_shape)


class Decoder(nn.Module):
    """Mirror MLP with sigmoid output; ``logits`` exposes the pre-sigmoid output."""

    def __init__(self, in_dim):
        super().__init__()
        self.net = mlp([in_dim, C.HIDDEN, C.HIDDEN, 64])

    def logits(self, z):
        return self.net(z.reshape(z.shape[0], -1))

    def forward(self, z):
        return torch.sigmoid(self.logits(z))


class BernoulliVAE(VariationalAutoencoderModel):
    """The library VAE with a Bernoulli likelihood: per-image summed BCE, batch mean (its built-in
    choices are only "mse" / "l1", both element means)."""

    def compute_loss(self, reconstruction, targets):
        return F.binary_cross_entropy(reconstruction, targets, reduction="sum") / targets.shape[0]


def build_model(kind):
    if kind == "vae":
        cfg = VariationalAutoencoderConfig(latent_dim=C.LATENT_DIM, kl_weight=1.0, free_bits=0.0)
        enc = Backbone(mlp([64, C.HIDDEN, C.HIDDEN], final_relu=True), (64,), (C.HIDDEN,))
        return BernoulliVAE(
            config=cfg,
            sample_spec=TensorSpec(shape=(64,)),
            encoder=enc,
            decoder=Decoder(C.LATENT_DIM),
        )
    cfg = VectorQuantizedAutoencoderConfig(
        latent_dim=C.VQ_DIM, codebook_size=C.CODEBOOK_SIZE, commitment_weight=C.COMMITMENT
    )
    enc = Backbone(mlp([64, C.HIDDEN, C.HIDDEN, C.N_VQ * C.VQ_DIM]), (64,), (C.N_VQ, C.VQ_DIM))
    return VectorQuantizedAutoencoderModel(
        config=cfg,
        sample_spec=TensorSpec(shape=(64,)),
        encoder=enc,
        decoder=Decoder(C.N_VQ * C.VQ_DIM),
    )


def main():
    x_tr, x_te, y_tr, y_te = C.load_gen_data()
    torch.manual_seed(args.seed)  # the trainer's `seed` argument is never applied by the library
    model = build_model(args.model)

    xt_tr, xt_te = torch.as_tensor(x_tr), torch.as_tensor(x_te)
    loaders = DatasetLoaders(
        train=DataLoader(xt_tr, batch_size=C.BATCH_SIZE, shuffle=True),
        validation=DataLoader(
            xt_te, batch_size=C.BATCH_SIZE, shuffle=False
        ),  # only picks the "best" checkpoint
        test=DataLoader(xt_te, batch_size=C.BATCH_SIZE, shuffle=False),
    )
    tmp = tempfile.TemporaryDirectory(prefix="gen_autoencoders_")
    targs = TrainingConfig(
        output_dir=tmp.name,
        epochs=args.epochs,
        learning_rate=C.LR,
        optimizer_name="adam",
        batch_size=C.BATCH_SIZE,
        device="cpu",
        seed=args.seed,
    )
    trainer_cls = VAETrainer if args.model == "vae" else VQTrainer
    timer = C.EpochTimer()
    gc_timer = C.EpochTimer()
    marks = {}
    with contextlib.redirect_stdout(sys.stderr):
        trainer = trainer_cls(model=model, args=targs)
        trainer.train_epoch = timer.wrap(trainer.train_epoch)
        gc_fn = gc_timer.wrap(trainer.collect_runtime_garbage)

        def gc_and_mark():
            gc_fn()
            marks["last"] = time.perf_counter()

        trainer.collect_runtime_garbage = gc_and_mark
        orig_start = trainer.on_epoch_start

        def epoch_start(epoch):
            marks.setdefault("first", time.perf_counter())
            orig_start(epoch)

        trainer.on_epoch_start = epoch_start
        torch.manual_seed(args.seed)
        t0 = time.perf_counter()
        trainer.fit(loaders, metadata={"dataset": "digits", "model": args.model})
        t_fit = time.perf_counter() - t0
    tmp.cleanup()

    model = trainer.model.eval()  # live weights after the last epoch
    meta = {
        "library": "autoencoders",
        "library_version": autoencoders.__version__,
        "torch_version": torch.__version__,
        "model": args.model,
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": C.BATCH_SIZE,
        "lr": C.LR,
        "threads": args.threads,
        "s_per_epoch": float(np.mean(timer.times)),
        "cpu_s_per_epoch": float(np.mean(timer.cpu)),
        "s_per_epoch_median": float(np.median(timer.times)),
        "s_per_epoch_loop": (marks["last"] - marks["first"]) / args.epochs,
        "s_gc_per_epoch": float(np.mean(gc_timer.times)),
        "s_fit_total": t_fit,
        "epoch_times": [round(t, 5) for t in timer.times],
    }

    if args.model == "vae":
        arrays = C.evaluate_vae(
            encode=model.encode,
            decode=model.decoder.logits,
            x_train=x_tr,
            x_test=x_te,
            seed=args.seed,
            uses_logits=True,
        )
        meta.update(latent_dim=C.LATENT_DIM, nll_samples=C.NLL_SAMPLES, elbo_draws=C.ELBO_DRAWS)
        meta["summary"] = C.vae_summary(arrays, x_te)
        meta["summary"]["probe"] = C.probe_accuracy(arrays["mu_train"], y_tr, arrays["mu"], y_te)
    else:

        def run(x):
            with torch.no_grad():
                out = model(inputs=torch.as_tensor(x), return_dict=True)
            z = out.quantized_latents.reshape(len(x), C.N_VQ * C.VQ_DIM)
            return (
                out.reconstruction.numpy(),
                z.numpy(),
                out.codebook_indices.numpy().astype(np.int64),
            )

        xhat, z_te, codes_te = run(x_te)
        _, z_tr, codes_tr = run(x_tr)
        arrays = {
            "xhat_mean": xhat,
            "codes": codes_te,
            "codes_train": codes_tr,
            "z_train": z_tr,
            "z_test": z_te,
        }
        meta.update(
            codebook_size=C.CODEBOOK_SIZE,
            n_vectors=C.N_VQ,
            vector_dim=C.VQ_DIM,
            commitment=C.COMMITMENT,
        )
        meta["summary"] = C.vq_summary(arrays, x_te)
        meta["summary"]["probe"] = C.probe_accuracy(z_tr, y_tr, z_te, y_te)

    C.write_result(args.out, meta, arrays, x_te, y_tr, y_te)
    print(
        f"{os.path.basename(__file__)} {args.model} seed={args.seed}: s/epoch={meta['s_per_epoch']:.4f} {meta['summary']}"
    )


if __name__ == "__main__":
    main()
