"""Rate–distortion measures: BD-rate against a published worked example, PSNR."""

import numpy as np
import pytest

from autoencoding.errors import AutoencodingError
from autoencoding.evaluate.rd import bd_rate, psnr

# The worked example of FAU-LMS/bjontegaard (libx265 presets measured with ffmpeg); its
# reference implementation gives -4.420462706 % (cubic) and -4.417485351 % (PCHIP, which
# its README reports equal to the JVET common-test-conditions sheet to 10 decimals).
RATE_A = [9487.76, 4593.60, 2486.44, 1358.24]
PSNR_A = [40.037, 38.615, 36.845, 34.851]
RATE_T = [9787.80, 4469.00, 2451.52, 1356.24]
PSNR_T = [40.121, 38.651, 36.970, 34.987]


@pytest.mark.parametrize("method, expected", [("cubic", -4.420462706), ("pchip", -4.417485351)])
def test_bd_rate_matches_the_published_example(method, expected):
    assert bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method) == pytest.approx(expected, abs=1e-6)


def test_bd_rate_of_a_curve_at_half_the_rate_is_minus_50_percent():
    assert bd_rate(RATE_A, PSNR_A, np.array(RATE_A) / 2, PSNR_A) == pytest.approx(-50.0)


def test_bd_rate_errors():
    with pytest.raises(AutoencodingError, match="share no quality range"):
        bd_rate(RATE_A, PSNR_A, RATE_T, np.array(PSNR_T) + 20)
    with pytest.raises(AutoencodingError, match="positive"):
        bd_rate([0, 1, 2, 3], PSNR_A, RATE_T, PSNR_T)
    with pytest.raises(AutoencodingError, match="unknown method"):
        bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, "linear")


def test_psnr():
    x = np.zeros((4, 4))
    assert psnr(x, x + 0.1) == pytest.approx(20.0)
    assert psnr(x, x) == float("inf")


def test_ms_ssim_matches_an_independent_implementation():
    import torch
    from sklearn.datasets import load_sample_images

    from autoencoding.evaluate.image_quality import ms_ssim

    im = load_sample_images().images[0][:256, :256].astype(np.float64) / 255
    x = torch.from_numpy(im).permute(2, 0, 1)[None]
    g = torch.Generator().manual_seed(0)
    y = (x + 0.02 * torch.randn(x.shape, generator=g, dtype=x.dtype)).clamp(0, 1)
    # pytorch_msssim 1.0 on these very arrays gives 0.97735046 (computed once, independently)
    assert float(ms_ssim(x, y)) == pytest.approx(0.97735046, abs=2e-6)
    assert float(ms_ssim(x, x)) == pytest.approx(1.0)
    z = (x + 0.1 * torch.randn(x.shape, generator=g, dtype=x.dtype)).clamp(0, 1)
    assert float(ms_ssim(x, z)) < float(ms_ssim(x, y))
    with pytest.raises(AutoencodingError, match="sides >= 11"):
        ms_ssim(x[..., :8, :8], y[..., :8, :8])


def test_ms_ssim_distortion_trains_a_codec():
    import autoencoding as ae

    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(0.5, 0.1, (48, 3, 32, 32)).cumsum(-1) / 8 + 0.3, 0, 1).astype("float32")
    m = ae.fit(
        "bmshj-factorized",
        x,
        model={
            "reconstruction": {"name": "ms-ssim"},
            "encoder": {"name": "gdn-conv", "channels": 8, "layers": 2},
            "decoder": {"name": "gdn-conv", "channels": 8, "layers": 2},
            "latent_dim": [8, None, None],
            "bottleneck": {"name": "factorized", "stride": 4},
        },
        train={"epochs": 2, "progress": False, "val_fraction": 0.0},
    )
    assert np.isfinite(m.history[-1]["train/reconstruction"])
    assert m.decompress(m.compress(x[:2])).shape == (2, 3, 32, 32)
