"""Protocol GEN anchor: pythae 0.1.2 (run with benchmarks/.venvs/pythae/bin/python).

    python gen_pythae.py --model {vae,vqvae,vqvae-ema,wae,rae,iwae,vamp} --seed S --epochs E --out result.json [--threads N]

Trains pythae's VAE (Bernoulli / "bce" likelihood) or VQVAE (its default quantizer, or the EMA
quantizer) with the protocol nets through pythae's own BaseTrainer, then writes result.json and
result.npz (see README.md in this folder). WAE-MMD, RAE-L2, IWAE (k = 10) and VAMP (50
components) run with pythae's defaults for timing (benchmarks/gen_models_speed.py); their
result holds the test reconstructions only.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

#: models timed by gen_models_speed.py (pythae defaults; deterministic encoders for wae, rae)
TIMED = ("wae", "rae", "iwae", "vamp")
args = C.parse_args(("vae", "vqvae", "vqvae-ema", *TIMED), __doc__)
C.setup_process(args.threads)

import numpy as np  # noqa: E402
import pythae  # noqa: E402
import torch  # noqa: E402
from _pythae import AEEncoder, Decoder, VAEEncoder, mlp, train  # noqa: E402
from pythae.models import (  # noqa: E402
    IWAE,
    RAE_L2,
    VAE,
    VAMP,
    VQVAE,
    WAE_MMD,
    IWAEConfig,
    RAE_L2_Config,
    VAEConfig,
    VAMPConfig,
    VQVAEConfig,
    WAE_MMD_Config,
)
from pythae.models.base.base_utils import ModelOutput  # noqa: E402
from pythae.models.nn import BaseEncoder  # noqa: E402
from pythae.trainers.training_callbacks import TrainingCallback  # noqa: E402


class VQEncoder(BaseEncoder):
    """64-256-256-64 MLP; output laid out as (B, 16, 1, 4) so pythae's quantizer sees 4 vectors of 16."""

    def __init__(self):
        BaseEncoder.__init__(self)
        self.net = mlp([64, C.HIDDEN, C.HIDDEN, C.N_VQ * C.VQ_DIM])

    def forward(self, x):
        e = self.net(x.reshape(x.shape[0], -1)).reshape(x.shape[0], 1, C.N_VQ, C.VQ_DIM)
        return ModelOutput(embedding=e.permute(0, 3, 1, 2))  # (B, C=16, H=1, W=4)


class VQDecoder(Decoder):
    def logits(self, z):  # z: (B, 16, 1, 4) -> vectors in (B, 4, 16) order, flattened
        return self.net(z.permute(0, 2, 3, 1).reshape(z.shape[0], -1))


def build_timed_model(kind):
    common = dict(input_dim=(64,), latent_dim=C.LATENT_DIM)
    if kind == "wae":
        return WAE_MMD(WAE_MMD_Config(**common), encoder=AEEncoder(), decoder=Decoder(C.LATENT_DIM))
    if kind == "rae":
        return RAE_L2(RAE_L2_Config(**common), encoder=AEEncoder(), decoder=Decoder(C.LATENT_DIM))
    if kind == "iwae":
        cfg = IWAEConfig(**common, reconstruction_loss="bce", number_samples=10)
        return IWAE(cfg, encoder=VAEEncoder(), decoder=Decoder(C.LATENT_DIM))
    cfg = VAMPConfig(**common, reconstruction_loss="bce", number_components=50)
    return VAMP(cfg, encoder=VAEEncoder(), decoder=Decoder(C.LATENT_DIM))


def build_model(kind):
    if kind in TIMED:
        return build_timed_model(kind)
    if kind == "vae":
        cfg = VAEConfig(input_dim=(64,), latent_dim=C.LATENT_DIM, reconstruction_loss="bce")
        return VAE(cfg, encoder=VAEEncoder(), decoder=Decoder(C.LATENT_DIM))
    cfg = VQVAEConfig(
        input_dim=(64,),
        latent_dim=C.VQ_DIM,
        num_embeddings=C.CODEBOOK_SIZE,
        commitment_loss_factor=C.COMMITMENT,
        use_ema=(kind == "vqvae-ema"),
    )
    return VQVAE(cfg, encoder=VQEncoder(), decoder=VQDecoder(C.N_VQ * C.VQ_DIM))


class LoopTimer(TrainingCallback):
    """Wall time of pythae's whole epoch loop (first epoch start to last epoch's log)."""

    def __init__(self):
        self.t_start = None
        self.t_last = None

    def on_epoch_begin(self, training_config, **kw):
        if self.t_start is None:
            self.t_start = time.perf_counter()

    def on_log(self, training_config, logs, **kw):
        self.t_last = time.perf_counter()


def main():
    x_tr, x_te, y_tr, y_te = C.load_gen_data()
    torch.manual_seed(args.seed)
    model = build_model(args.model)

    loop_timer = LoopTimer()
    model, timer, t_fit = train(model, x_tr, y_tr, args.epochs, args.seed, callbacks=[loop_timer])

    # Evaluate the live model after the last epoch (pythae's saved "best" is the lowest-train-loss
    # deepcopy; we use the final weights, as the protocol trains for exactly E epochs).
    meta = {
        "library": "pythae",
        "library_version": getattr(pythae, "__version__", "0.1.2"),
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
        "s_per_epoch_loop": (loop_timer.t_last - loop_timer.t_start) / args.epochs,
        "s_fit_total": t_fit,
        "epoch_times": [round(t, 5) for t in timer.times],
    }

    if args.model == "vae":
        arrays = C.evaluate_vae(
            encode=lambda x: tuple(
                getattr(model.encoder(x), k) for k in ("embedding", "log_covariance")
            ),
            decode=model.decoder.logits,
            x_train=x_tr,
            x_test=x_te,
            seed=args.seed,
            uses_logits=True,
        )
        meta.update(latent_dim=C.LATENT_DIM, nll_samples=C.NLL_SAMPLES, elbo_draws=C.ELBO_DRAWS)
        meta["summary"] = C.vae_summary(arrays, x_te)
        meta["summary"]["probe"] = C.probe_accuracy(arrays["mu_train"], y_tr, arrays["mu"], y_te)
    elif args.model in TIMED:
        with torch.no_grad():
            xhat = model.decoder(model.encoder(torch.as_tensor(x_te)).embedding).reconstruction
        arrays = {"xhat_mean": xhat.numpy()}
        meta["summary"] = {"mse": float(((arrays["xhat_mean"] - x_te) ** 2).mean())}
    else:

        def run(x):
            with torch.no_grad():
                out = model({"data": torch.as_tensor(x)})
            z = out.z.permute(0, 2, 3, 1).reshape(
                len(x), C.N_VQ * C.VQ_DIM
            )  # (B, 4*16), vector-major
            codes = out.quantized_indices.reshape(len(x), C.N_VQ)
            return (
                out.recon_x.reshape(len(x), -1).numpy(),
                z.numpy(),
                codes.numpy().astype(np.int64),
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
