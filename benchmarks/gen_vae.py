"""Protocol GEN, VAE part (shared/BENCHMARKS.md): our `vae` side by side with pythae and
`autoencoders`, same data, splits, nets and seeds, one metric function for all.

Nets: encoder MLP 64-256-256-8 (ReLU), mirrored decoder, Bernoulli likelihood, batch 64, 100
epochs. Ours runs with its recipe defaults (Adam, peak lr 3e-3 with warmup-stable-decay, KL
warm-up); the anchors with Adam 1e-3 as the protocol states. The anchors run in their own
virtual environments (create them with `bash benchmarks/setup_anchors.sh`); when a venv is
missing its column is skipped with a message.

    python benchmarks/gen_vae.py                 # seeds 0 1 2, 100 epochs
    python benchmarks/gen_vae.py --seeds 0 --epochs 20 --no-anchors
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402,I001

import numpy as np  # noqa: E402
import torch  # noqa: E402

import autoencoding as ae  # noqa: E402
from autoencoding.evaluate.metrics import linear_probe, log_likelihood_terms  # noqa: E402

ANCHORS = {"pythae": "gen_pythae.py", "autoencoders": "gen_autoencoders.py"}


def gen_metrics(a: dict[str, np.ndarray], x_test, y_train, y_test) -> dict[str, float]:
    """The one metric function: every library's arrays go through it."""
    p = np.clip(a["xhat_mean"].astype(np.float64), 1e-7, 1 - 1e-7)
    bce = -(x_test * np.log(p) + (1 - x_test) * np.log(1 - p)).sum(1).mean()
    return {
        "nll": float(-np.mean(a["log_px"])),
        "neg_elbo": float(-np.mean(a["elbo"])),
        "mse": float(((a["xhat_mean"] - x_test) ** 2).mean()),
        "bce": float(bce),
        "active_units": int((a["mu"].var(0) > 0.01).sum()),
        "probe": linear_probe(a["mu_train"], y_train, a["mu"], y_test),
    }


def run_ours(seed: int, epochs: int, xtr, xte) -> tuple[dict[str, np.ndarray], float, float]:
    m = ae.fit("vae", xtr, seed=seed, scaling="none",
               model={"latent_dim": 8, "encoder": {"name": "mlp", "hidden": [256, 256]}},
               train={"epochs": epochs, "batch_size": 64, "val_fraction": 0, "progress": False})
    s_per_epoch = float(np.mean([h["seconds"] for h in m.history]))
    cpu_per_epoch = float(np.mean([h["cpu_seconds"] for h in m.history]))
    mod = m.module.eval()
    xt = torch.from_numpy(xte)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 10_000)
        ll, lw = log_likelihood_terms(mod, xt, 200)
        log_px = (torch.logsumexp(ll + lw, 0) - np.log(200)).double().numpy()
        ll10, lw10 = log_likelihood_terms(mod, xt, 10)
        elbo = (ll10 + lw10).mean(0).double().numpy()
    with torch.no_grad():
        mu, logvar = mod.bottleneck.posterior(mod.run(xt, decode=False).h)
        xhat = mod.decode(mu)
    arrays = {"mu": mu.numpy(), "logvar": logvar.numpy(), "xhat_mean": xhat.numpy(),
              "log_px": log_px, "elbo": elbo, "mu_train": m.encode(xtr)}
    return arrays, s_per_epoch, cpu_per_epoch


def run_anchor(lib: str, seed: int, epochs: int
               ) -> tuple[dict[str, np.ndarray], float, float] | None:
    py = _bench.ROOT / ".venvs" / lib / "bin" / "python"
    if not py.exists():
        print(f"[{lib}] skipped: no venv at {py} (run bash benchmarks/setup_anchors.sh {lib})")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run([str(py), str(_bench.ROOT / "anchors" / ANCHORS[lib]), "--model", "vae",
                        "--seed", str(seed), "--epochs", str(epochs), "--out", str(out)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        meta = json.loads(out.read_text())
        arrays = dict(np.load(out.with_suffix(".npz")))
    return arrays, float(meta["s_per_epoch"]), float(meta["cpu_s_per_epoch"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--no-anchors", action="store_true")
    p.add_argument("--anchors", nargs="+", choices=list(ANCHORS), default=list(ANCHORS),
                   help="which reference libraries to run (default: all)")
    args = p.parse_args()
    xtr, xte, ytr, yte = _bench.gen_digits()
    libs = ["autoencoding"] + ([] if args.no_anchors else args.anchors)
    res: dict[str, dict[str, list]] = {lib: {} for lib in libs}
    for seed in args.seeds:
        for lib in libs:
            got = run_ours(seed, args.epochs, xtr, xte) if lib == "autoencoding" \
                else run_anchor(lib, seed, args.epochs)
            if got is None:
                continue
            arrays, spe, cpu = got
            met = gen_metrics(arrays, xte, ytr, yte)
            met["s_per_epoch"] = spe
            met["cpu_s_per_epoch"] = cpu
            for k, v in met.items():
                res[lib].setdefault(k, []).append(v)
            print(f"seed {seed} {lib:13s} " + " ".join(f"{k}={v:.4g}" for k, v in met.items()),
                  flush=True)
    res = {k: v for k, v in res.items() if v}
    ours_t = np.mean(res["autoencoding"]["s_per_epoch"])
    ours_c = np.mean(res["autoencoding"]["cpu_s_per_epoch"])
    keys = ["nll", "neg_elbo", "mse", "bce", "active_units", "probe", "s_per_epoch",
            "cpu_s_per_epoch"]
    table = [f"GEN VAE, seeds {args.seeds}, {args.epochs} epochs (mean ± std)", "",
             "| library | " + " | ".join(keys) + " | wall ÷ ours | CPU ÷ ours |",
             "|---|" + "---|" * (len(keys) + 2)]
    for lib, met in res.items():
        ratio = np.mean(met["s_per_epoch"]) / ours_t
        cratio = np.mean(met["cpu_s_per_epoch"]) / ours_c
        table.append(f"| {lib} | " + " | ".join(_bench.mean_std(met[k]) for k in keys)
                     + f" | {ratio:.2f} | {cratio:.2f} |")
    _bench.write_result("gen_vae", {"seeds": args.seeds, "epochs": args.epochs, "results": res},
                        "\n".join(table))


if __name__ == "__main__":
    main()
