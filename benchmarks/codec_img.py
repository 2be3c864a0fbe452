"""Protocol CODEC-IMG: learned image codecs against JPEG / WebP / AVIF, rate from bytes.

Training: 16,000 random 64×64 RGB patches (seed 0) from images that ship in scikit-learn
(china.jpg, flower.jpg) and scikit-image (rocket, retina, hubble_deep_field,
immunohistochemistry). Test: astronaut, chelsea, coffee and the left view of
stereo_motorcycle, centre-cropped to multiples of 64. Every rate is 8 × (bytes written) /
pixels; quality is PSNR on 8-bit pixels. BD-rate (PCHIP, :func:`autoencoding.evaluate.rd.bd_rate`)
against JPEG per image, averaged over the 4 images. One thread.

    python benchmarks/codec_img.py                                   # all three recipes
    python benchmarks/codec_img.py --recipes mbt-mean-scale --cpu-minutes 3
    AE_WRITE_RESULTS=1 python benchmarks/codec_img.py ...            # update committed figures

Needs scikit-image (``pip install scikit-image``) and the codec extra (constriction).
"""

from __future__ import annotations

import argparse
import io
import os
import time

import _bench  # noqa: F401,I001  (threads and BLAS pinned before torch)
import numpy as np
from _bench import write_result

import autoencoding as ae
from autoencoding.evaluate.rd import bd_rate, psnr

LAMBDAS = (0.0035, 0.013, 0.0483)  # CompressAI's three lowest quality levels


def training_patches(n=16000, size=64, seed=0) -> np.ndarray:
    import skimage.data as sk
    from sklearn.datasets import load_sample_images

    images = list(load_sample_images().images)
    images += [sk.rocket(), sk.retina(), sk.hubble_deep_field(), sk.immunohistochemistry()]
    rng = np.random.default_rng(seed)
    out = np.empty((n, 3, size, size), np.float32)
    for i in range(n):
        im = images[rng.integers(len(images))]
        y = rng.integers(im.shape[0] - size + 1)
        x = rng.integers(im.shape[1] - size + 1)
        out[i] = im[y : y + size, x : x + size].transpose(2, 0, 1) / 255.0
    return out


def test_images() -> dict[str, np.ndarray]:
    import skimage.data as sk

    raw = {
        "astronaut": sk.astronaut(),
        "chelsea": sk.chelsea(),
        "coffee": sk.coffee(),
        "motorcycle": sk.stereo_motorcycle()[0],
    }
    out = {}
    for name, im in raw.items():
        h, w = (im.shape[0] // 64) * 64, (im.shape[1] // 64) * 64
        y, x = (im.shape[0] - h) // 2, (im.shape[1] - w) // 2
        out[name] = np.ascontiguousarray(im[y : y + h, x : x + w, :3])
    return out


def pillow_curve(img: np.ndarray, fmt: str, qualities, **kw) -> list[tuple[float, float]]:
    from PIL import Image

    points = []
    for q in qualities:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format=fmt, quality=q, **kw)
        dec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        bpp = 8 * len(buf.getvalue()) / (img.shape[0] * img.shape[1])
        points.append((bpp, psnr(img, dec, peak=255.0)))
    return points


def ours_point(model, img: np.ndarray) -> tuple[float, float, float, float]:
    x = img.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    t = time.perf_counter()
    data = model.compress(x)
    enc = time.perf_counter() - t
    t = time.perf_counter()
    dec = model.decompress(data)
    dec_s = time.perf_counter() - t
    pixels = np.clip(np.round(dec[0].transpose(1, 2, 0) * 255), 0, 255)
    bpp = 8 * len(data) / (img.shape[0] * img.shape[1])
    return bpp, psnr(img, pixels, peak=255.0), enc, dec_s


def plot(summary: dict, path) -> None:
    """Mean PSNR against mean bpp of every codec (the RD curves), one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for codec, s in summary.items():
        pts = np.asarray(s["mean_points"])
        order = np.argsort(pts[:, 0])
        label = f"{codec} ({s['bd_rate_vs_jpeg']:+.1f}%)"
        ax.plot(pts[order, 0], pts[order, 1], "o-", ms=3, label=label)
    ax.set_xlabel("bits per pixel (bytes written)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_xlim(0, 2.0)
    ax.set_title("CODEC-IMG: mean over 4 test images (BD-rate vs JPEG)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipes", default="bmshj-factorized,bmshj-hyperprior,mbt-mean-scale")
    ap.add_argument("--cpu-minutes", type=float, default=15.0, help="training budget per model")
    ap.add_argument("--patches", type=int, default=16000, help="64x64 patches' worth of pixels")
    ap.add_argument(
        "--patch",
        type=int,
        default=128,
        help="training patch side (the protocol's 64 gives the hyperprior a 1x1 side latent that "
        "does not carry over to whole images); the pixel count stays that of --patches 64x64s",
    )
    ap.add_argument("--batch", type=int, default=0, help="batch size (0: 16 x (64 / patch)^2)")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    patches = training_patches(args.patches * 64 * 64 // args.patch**2, size=args.patch)
    batch = args.batch or max(1, 16 * 64 * 64 // args.patch**2)
    tests = test_images()
    curves: dict[str, dict[str, list]] = {"jpeg": {}, "webp": {}, "avif": {}}
    for name, img in tests.items():
        curves["jpeg"][name] = pillow_curve(img, "JPEG", (5, 10, 20, 30, 50, 70, 85, 95))
        curves["webp"][name] = pillow_curve(img, "WEBP", (5, 20, 40, 60, 80, 95), method=6)
        curves["avif"][name] = pillow_curve(img, "AVIF", (10, 30, 50, 70, 85, 95), speed=6)
    training = {}
    for recipe in args.recipes.split(","):
        curves[recipe] = {name: [] for name in tests}
        for lmbda in LAMBDAS:
            # The budget is spent in optimizer steps at the pace of a first short run (100
            # steps of the same model): ceil(steps / steps-per-epoch) epochs over an equal
            # share of the patches, so a budget of 1.5 epochs trains 2 epochs of 3/4 of them
            # instead of flooring to 1.
            name = {"bmshj-factorized": "factorized"}.get(recipe, "hyperprior")
            bottleneck = {"bottleneck": {"name": name, "lmbda": lmbda}}
            probe = ae.fit(recipe, patches[: 100 * batch], model=bottleneck,
                           train={"epochs": 1, "batch_size": batch, "progress": False,
                                  "val_fraction": 0.0})  # fmt: skip
            per_step = probe.history[-1]["cpu_seconds"] / 100
            steps = max(1, int(args.cpu_minutes * 60 / per_step))
            epochs = max(1, -(-steps * batch // len(patches)))
            used = patches[: min(len(patches), steps * batch // epochs)]
            c0, t0 = time.process_time(), time.perf_counter()
            model = ae.fit(
                recipe,
                used,
                model=bottleneck,
                train={"epochs": epochs, "batch_size": batch, "progress": False,
                       "val_fraction": 0.0},  # fmt: skip
            )
            training[f"{recipe}@{lmbda}"] = {
                "epochs": epochs,
                "patches": len(used),
                "steps": epochs * (len(used) // batch),
                "cpu_s": time.process_time() - c0,
                "wall_s": time.perf_counter() - t0,
                "final_bpp_estimate": model.history[-1]["train/bpp"],
            }
            for img_name, img in tests.items():
                bpp, q, enc, dec = ours_point(model, img)
                curves[recipe][img_name].append((bpp, q))
                training[f"{recipe}@{lmbda}"][f"{img_name}_enc_dec_s"] = (enc, dec)
            print(recipe, lmbda, training[f"{recipe}@{lmbda}"], flush=True)
    rows = []
    summary = {}
    for codec, per_image in curves.items():
        rates = []
        for img_name in tests:
            jp = curves["jpeg"][img_name]
            pts = per_image[img_name]
            try:
                rates.append(bd_rate([r for r, _ in jp], [q for _, q in jp],
                                     [r for r, _ in pts], [q for _, q in pts]))  # fmt: skip
            except ae.AutoencodingError:
                rates.append(float("nan"))
        mean_pts = np.mean([[p for p in per_image[n]] for n in tests], axis=0)
        summary[codec] = {"bd_rate_vs_jpeg": float(np.nanmean(rates)), "per_image": rates,
                          "mean_points": mean_pts.tolist()}  # fmt: skip
        pts = ", ".join(f"{q:.1f} dB @ {r:.2f}" for r, q in mean_pts)
        rows.append(f"| {codec} | {np.nanmean(rates):+.1f}% | {pts} |")
    load1 = os.getloadavg()[0]
    table = "\n".join(
        [
            f"CODEC-IMG: BD-rate vs JPEG (PSNR, PCHIP), mean over 4 test images; budget "
            f"{args.cpu_minutes} CPU-min per model, {len(patches)} patches of {args.patch}x"
            f"{args.patch} (batch {batch}); load "
            f"{load0:.1f}->{load1:.1f}",
            "",
            "| codec | BD-rate vs JPEG | mean PSNR @ bpp |",
            "|---|---|---|",
            *rows,
        ]
    )
    out = write_result(
        "codec_img",
        {
            "curves": curves,
            "summary": summary,
            "training": training,
            "cpu_minutes": args.cpu_minutes,
            "patch": args.patch,
            "batch": batch,
            "load": [load0, load1],
        },  # fmt: skip
        table,
    )
    plot(summary, out.with_suffix(".png"))


if __name__ == "__main__":
    main()
