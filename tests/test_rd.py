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
