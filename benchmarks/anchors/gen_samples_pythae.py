"""Protocol GEN-SAMPLES anchor: pythae 0.1.2 (run with benchmarks/.venvs/pythae/bin/python).

    python gen_samples_pythae.py --model {ae,rae,wae,iwae,vamp,vae} --seed S --epochs E --out result.json

Trains pythae's AE, RAE_L2, WAE_MMD, IWAE (k = 10), VAMP (50 components) or VAE with the
protocol GEN nets (Bernoulli likelihood where pythae offers one: IWAE, VAMP, VAE) through its
BaseTrainer, then draws 1000 samples with pythae's own samplers and writes them to
result.npz as ``samples_<sampler>``:

- ``gmm``: GaussianMixtureSampler, 10 components, fitted on the training codes (ae, rae,
  wae, vae); pythae fits it on ``model(x).z``, a posterior draw for the VAE;
- ``prior``: NormalSampler (wae, iwae, vae) or VAMPSampler (vamp).

For iwae, vamp and vae the arrays also hold ``log_px`` (importance-sampled, 200 proposals from
q(z|x), _common.evaluate_vae; VAMP's log p(z) is its mixture prior). No figure is computed
here: benchmarks/gen_samples.py scores every library's arrays with one function.
"""

from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

#: model -> the samplers drawn from it
SAMPLERS = {
    "ae": ("gmm",),
    "rae": ("gmm",),
    "wae": ("gmm", "prior"),
    "iwae": ("prior",),
    "vamp": ("prior",),
    "vae": ("prior", "gmm"),
}
N_SAMPLES = 1000
args = C.parse_args(tuple(SAMPLERS), __doc__)
C.setup_process(args.threads)

import numpy as np  # noqa: E402
import pythae  # noqa: E402
import torch  # noqa: E402
from _pythae import AEEncoder, Decoder, VAEEncoder, train  # noqa: E402
from pythae.models import (  # noqa: E402
    AE,
    IWAE,
    RAE_L2,
    VAE,
    VAMP,
    WAE_MMD,
    AEConfig,
    IWAEConfig,
    RAE_L2_Config,
    VAEConfig,
    VAMPConfig,
    WAE_MMD_Config,
)
from pythae.samplers import (  # noqa: E402
    GaussianMixtureSampler,
    GaussianMixtureSamplerConfig,
    NormalSampler,
    VAMPSampler,
)


def build_model(kind):
    common = dict(input_dim=(64,), latent_dim=C.LATENT_DIM)
    dec = Decoder(C.LATENT_DIM)
    if kind == "ae":
        return AE(AEConfig(**common), encoder=AEEncoder(), decoder=dec)
    if kind == "rae":
        return RAE_L2(RAE_L2_Config(**common), encoder=AEEncoder(), decoder=dec)
    if kind == "wae":
        return WAE_MMD(WAE_MMD_Config(**common), encoder=AEEncoder(), decoder=dec)
    if kind == "iwae":
        cfg = IWAEConfig(**common, reconstruction_loss="bce", number_samples=10)
        return IWAE(cfg, encoder=VAEEncoder(), decoder=dec)
    if kind == "vamp":
        cfg = VAMPConfig(**common, reconstruction_loss="bce", number_components=50)
        return VAMP(cfg, encoder=VAEEncoder(), decoder=dec)
    cfg = VAEConfig(**common, reconstruction_loss="bce")
    return VAE(cfg, encoder=VAEEncoder(), decoder=dec)


def draw(model, sampler, x_train, seed):
    """1000 samples from pythae's sampler; its GMM and normal draws use the global RNGs,
    seeded here so a run is repeatable."""
    np.random.seed(seed + 20_000)
    torch.manual_seed(seed + 20_000)
    if sampler == "gmm":
        s = GaussianMixtureSampler(model, GaussianMixtureSamplerConfig(n_components=10))
        s.fit(torch.as_tensor(x_train))
    elif isinstance(model, VAMP):
        s = VAMPSampler(model)
    else:
        s = NormalSampler(model)
    with torch.no_grad():
        out = s.sample(num_samples=N_SAMPLES, return_gen=True)
    return out.reshape(N_SAMPLES, -1).numpy().astype(np.float32)


def vamp_log_prior(model):
    """log p(z) under VAMP's mixture prior, pythae's ``_log_p_z`` plus the Gaussian
    normaliser −d/2 log 2π that it leaves out (it cancels in pythae's KL, not in an NLL)."""
    const = -0.5 * C.LATENT_DIM * math.log(2 * math.pi)
    return lambda z: model._log_p_z(z) + const


def main():
    x_tr, x_te, y_tr, y_te = C.load_gen_data()
    torch.manual_seed(args.seed)
    model = build_model(args.model)
    model, timer, t_fit = train(model, x_tr, y_tr, args.epochs, args.seed)

    arrays = {f"samples_{s}": draw(model, s, x_tr, args.seed) for s in SAMPLERS[args.model]}
    summary = {}
    if args.model in ("iwae", "vamp", "vae"):
        enc = lambda x: tuple(getattr(model.encoder(x), k) for k in ("embedding", "log_covariance"))  # noqa: E731
        ev = C.evaluate_vae(
            encode=enc,
            decode=model.decoder.logits,
            x_train=x_tr,
            x_test=x_te,
            seed=args.seed,
            uses_logits=True,
            log_prior=vamp_log_prior(model) if args.model == "vamp" else None,
        )
        arrays["log_px"] = ev["log_px"]
        summary["nll"] = float(-ev["log_px"].mean())
    meta = {
        "library": "pythae",
        "library_version": getattr(pythae, "__version__", "0.1.2"),
        "torch_version": torch.__version__,
        "model": args.model,
        "samplers": list(SAMPLERS[args.model]),
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": C.BATCH_SIZE,
        "lr": C.LR,
        "threads": args.threads,
        "s_per_epoch": float(np.mean(timer.times)),
        "cpu_s_per_epoch": float(np.mean(timer.cpu)),
        "s_fit_total": t_fit,
        "summary": summary,
    }
    C.write_result(args.out, meta, arrays, x_te, y_tr, y_te)
    print(
        f"{os.path.basename(__file__)} {args.model} seed={args.seed}: "
        f"s/epoch={meta['s_per_epoch']:.4f} {summary}"
    )


if __name__ == "__main__":
    main()
