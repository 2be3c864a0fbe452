"""Rate–distortion measures: PSNR and the Bjøntegaard deltas between two RD curves.

Bjøntegaard, "Calculation of average PSNR differences between RD-curves" (VCEG-M33, 2001):
interpolate each codec's log-rate as a function of quality, integrate both over the quality
range they share, and report the mean rate difference in percent (negative = the test codec
needs fewer bits for the same quality). ``method="cubic"`` fits the original third-order
polynomial; ``"pchip"`` uses piecewise cubic Hermite interpolation, as the JCT-VC / JVET
common-test-condition sheets do (Bossen, JCTVC-L1100, 2013), which cannot overshoot
between points when a curve bends sharply.
"""

from __future__ import annotations

import numpy as np

from ..errors import AutoencodingError


def psnr(x: np.ndarray, y: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of ``y`` against the reference ``x``."""
    mse = float(np.mean((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


def _curve(rate, quality, who: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, np.float64)
    q = np.asarray(quality, np.float64)
    if r.shape != q.shape or r.ndim != 1 or len(r) < 2:
        raise AutoencodingError(
            f"bd_rate: {who} needs matching 1-D rate and quality lists of >= 2 points, got "
            f"{r.shape} and {q.shape}"
        )
    if (r <= 0).any() or not np.isfinite(r).all() or not np.isfinite(q).all():
        raise AutoencodingError(f"bd_rate: {who} rates must be positive and finite")
    order = np.argsort(q)
    return np.log10(r[order]), q[order]


def _integral(log_r, q, lo, hi, method: str) -> float:
    if method == "cubic":
        deg = min(3, len(q) - 1)
        poly = np.polyint(np.polyfit(q, log_r, deg))
        return float(np.polyval(poly, hi) - np.polyval(poly, lo))
    if method == "pchip":
        from scipy.interpolate import PchipInterpolator

        return float(PchipInterpolator(q, log_r).integrate(lo, hi))
    raise AutoencodingError(f"bd_rate: unknown method {method!r}; expected 'cubic' or 'pchip'")


def bd_rate(rate_anchor, quality_anchor, rate_test, quality_test, method="pchip") -> float:
    """Mean rate difference (%) of the test codec against the anchor at equal quality."""
    la, qa = _curve(rate_anchor, quality_anchor, "anchor")
    lt, qt = _curve(rate_test, quality_test, "test")
    lo, hi = max(qa[0], qt[0]), min(qa[-1], qt[-1])
    if hi <= lo:
        raise AutoencodingError(
            f"bd_rate: the curves share no quality range (anchor {qa[0]:.3g}–{qa[-1]:.3g}, "
            f"test {qt[0]:.3g}–{qt[-1]:.3g})"
        )
    diff = (_integral(lt, qt, lo, hi, method) - _integral(la, qa, lo, hi, method)) / (hi - lo)
    return float((10**diff - 1) * 100)


def codec_metrics(module, x, chunk: int = 64) -> dict[str, float]:
    """What a codec model's bitstreams cost on ``x`` (scaled data, as the model sees it):
    bits per sample and, for images, bits per pixel counted from the bytes actually written
    (container included), the model's own estimate of the rate where it has one, PSNR of the
    decoded samples (peak 1: data in [0, 1]), their MS-SSIM for images, and encode / decode
    seconds per sample."""
    import time

    import torch

    nbytes, enc_s, dec_s, sq, n_entries, est, msssim = 0, 0.0, 0.0, 0.0, 0, [], []
    for i in range(0, len(x), chunk):
        xb = x[i : i + chunk]
        t = time.perf_counter()
        data = module.compress(xb)
        enc_s += time.perf_counter() - t
        t = time.perf_counter()
        dec = module.decompress(data)
        dec_s += time.perf_counter() - t
        nbytes += len(data)
        if xb.dim() == 4 and min(xb.shape[2:]) >= 11:
            from .image_quality import ms_ssim

            msssim.append(float(ms_ssim(dec.float(), xb.float()).sum()))
        sq += float(((dec.double() - xb.double()) ** 2).sum())
        n_entries += xb.numel()
        with torch.no_grad():
            stats = module.run(xb, decode=False).bottleneck.stats
        if "bpp" in stats:
            est.append(float(stats["bpp"]) * len(xb))
    n = len(x)
    out = {
        "bits_per_sample": 8 * nbytes / n,
        "psnr": float("inf") if sq == 0 else float(10 * np.log10(n_entries / sq)),
        "encode_s_per_sample": enc_s / n,
        "decode_s_per_sample": dec_s / n,
    }
    if x.dim() == 4:
        out["bpp"] = out["bits_per_sample"] / (x.shape[2] * x.shape[3])
        if msssim:
            out["ms_ssim"] = sum(msssim) / n
        if est:
            out["bpp_estimated"] = sum(est) / n
    return out
