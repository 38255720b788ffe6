"""Tests for lvc.metrics: PSNR by hand, MS-SSIM against torchmetrics, BD-rate against known values."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from lvc.metrics import (
    bd_psnr,
    bd_rate,
    bpp,
    ms_ssim,
    ms_ssim_db,
    ms_ssim_scales,
    pchip_integral,
    psnr,
    psnr_y,
    rgb_to_y,
)

# --------------------------------------------------------------------------- fixtures


def _structured(h: int = 192, w: int = 256, seed: int = 0) -> np.ndarray:
    """A smooth-plus-edges RGB image: gradients, a disc, stripes and a little texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([xx / w * 200, yy / h * 180 + 30, (xx + yy) / (h + w) * 120 + 60], axis=-1)
    disc = (yy - h / 2) ** 2 + (xx - w / 3) ** 2 < (h / 4) ** 2
    img[disc] = [220, 40, 60]
    img[:, (xx[0] // 8) % 2 == 0] *= 0.8
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _torchmetrics_ms_ssim(a: np.ndarray, b: np.ndarray, dtype: torch.dtype) -> float:
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    ta = torch.from_numpy(a).permute(2, 0, 1)[None].to(dtype)
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].to(dtype)
    return float(multiscale_structural_similarity_index_measure(ta, tb, data_range=255.0, normalize="relu"))


def _pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (192, 256, 3), dtype=np.uint8)
    noisy = np.clip(noise.astype(np.int16) + rng.normal(0, 20, noise.shape).round(), 0, 255).astype(np.uint8)
    ref = _structured()
    return [
        ("random+noise", noise, noisy),
        ("structured-jpeg10", ref, _jpeg(ref, 10)),
        ("structured-jpeg60", ref, _jpeg(ref, 60)),
        ("odd-size", _structured(201, 237, seed=3), _jpeg(_structured(201, 237, seed=3), 30)),
    ]


# --------------------------------------------------------------------------- PSNR, Y, bpp


def test_psnr_matches_hand_computation() -> None:
    a = np.zeros((4, 4, 3), dtype=np.uint8)
    b = a.copy()
    b[1, 2, 0] = 10
    b[3, 3, 2] = 20
    expected_mse = (10**2 + 20**2) / 48  # over all 4*4*3 values, not per channel
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / expected_mse), abs=1e-12)
    assert psnr(a, a) == math.inf
    # channel-first tensors give the same number
    assert psnr(torch.from_numpy(a).permute(2, 0, 1), torch.from_numpy(b).permute(2, 0, 1)) == psnr(a, b)


def test_rgb_to_y_and_psnr_y() -> None:
    pure = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(pure), [[0.299 * 255, 0.587 * 255, 0.114 * 255]])
    grey_a = np.repeat(np.arange(16, dtype=np.uint8).reshape(4, 4, 1), 3, axis=2)
    grey_b = grey_a.copy()
    grey_b[0, 0] += 3
    assert psnr_y(grey_a, grey_b) == pytest.approx(10 * math.log10(255**2 / (9 / 16)))


def test_bpp() -> None:
    assert bpp(96, 8, 12) == 8.0
    assert bpp(768 * 512 // 8, 512, 768) == 1.0
    with pytest.raises(ValueError, match="positive image size"):
        bpp(10, 0, 5)


def test_shape_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="same shape"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        ms_ssim(np.zeros((4, 4, 5)), np.zeros((4, 4, 5)))


# --------------------------------------------------------------------------- MS-SSIM


@pytest.mark.parametrize("name,a,b", _pairs(), ids=[p[0] for p in _pairs()])
def test_ms_ssim_matches_torchmetrics(name: str, a: np.ndarray, b: np.ndarray) -> None:
    ours = ms_ssim(a, b)
    assert 0.0 < ours < 1.0
    assert ours == pytest.approx(_torchmetrics_ms_ssim(a, b, torch.float64), abs=1e-7)
    assert ours == pytest.approx(_torchmetrics_ms_ssim(a, b, torch.float32), abs=1e-4)


def test_ms_ssim_class_api_agrees() -> None:
    from torchmetrics.image import MultiScaleStructuralSimilarityIndexMeasure

    a = _structured()
    b = _jpeg(a, 20)
    metric = MultiScaleStructuralSimilarityIndexMeasure(data_range=255.0)
    ref = float(metric(torch.from_numpy(b).permute(2, 0, 1)[None].float(),
                       torch.from_numpy(a).permute(2, 0, 1)[None].float()))
    assert ms_ssim(b, a) == pytest.approx(ref, abs=1e-4)


def test_ms_ssim_layouts_scale_and_identity() -> None:
    a = _structured()
    b = _jpeg(a, 30)
    value = ms_ssim(a, b)
    assert ms_ssim(torch.from_numpy(a).permute(2, 0, 1), torch.from_numpy(b).permute(2, 0, 1)) == value
    assert ms_ssim(a / 255.0, b / 255.0, data_range=1.0) == pytest.approx(value, abs=1e-12)
    assert ms_ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert ms_ssim_db(value) == pytest.approx(-10 * math.log10(1 - value))


def test_ms_ssim_small_images_use_fewer_scales() -> None:
    assert ms_ssim_scales(512, 768) == (5, 11)
    assert ms_ssim_scales(176, 300) == (5, 11)
    assert ms_ssim_scales(175, 300) == (4, 11)
    assert ms_ssim_scales(64, 64) == (3, 11)
    assert ms_ssim_scales(12, 40) == (1, 11)
    assert ms_ssim_scales(8, 5) == (1, 5)
    assert ms_ssim_scales(1, 1) == (1, 1)
    for h, w in [(64, 64), (40, 17), (8, 5), (1, 1)]:
        a = _structured(h, w)
        b = np.clip(a.astype(np.int16) + 9, 0, 255).astype(np.uint8)
        value = ms_ssim(a, b)
        assert 0.0 < value <= 1.0
        assert ms_ssim(a, a) == pytest.approx(1.0)


# --------------------------------------------------------------------------- Bjøntegaard

# "Test 1" of the FAU-LMS bjontegaard package (x265 presets), whose PCHIP matches the JCT-VC CTC
# spreadsheet; expected values from scipy.interpolate.PchipInterpolator(...).integrate, as that
# package computes them.
FAU_A = ([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 36.845, 34.851])
FAU_B = ([9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 36.970, 34.987])
FAU_PCHIP_BD_RATE = -4.417485350589045
FAU_PCHIP_BD_PSNR = 0.11969278542479489
FAU_CUBIC_BD_RATE = -4.420462706090111

# "Sample 1" of the VCEG-M33 reference scripts; cubic value from numpy.polyfit/polyint of log-rate.
VCEG_A = ([686.76, 309.58, 157.11, 85.95], [40.28, 37.18, 34.24, 31.42])
VCEG_B = ([893.34, 407.8, 204.93, 112.75], [40.39, 37.21, 34.17, 31.24])
VCEG_PCHIP_BD_RATE = 31.379878202397627
VCEG_CUBIC_BD_RATE = 31.397374054908013


def test_bd_rate_scaled_rates_is_exact() -> None:
    rate, dist = VCEG_A
    scaled = [r * 0.8 for r in rate]
    assert bd_rate(rate, dist, scaled, dist) == pytest.approx(-20.0, abs=1e-9)
    assert bd_rate(rate, dist, scaled, dist, method="cubic") == pytest.approx(-20.0, abs=1e-9)
    assert bd_rate(rate, dist, rate, dist) == pytest.approx(0.0, abs=1e-12)
    # two points: a straight line, still exact
    assert bd_rate(rate[:2], dist[:2], scaled[:2], dist[:2]) == pytest.approx(-20.0, abs=1e-9)


def test_bd_psnr_shifted_curve() -> None:
    rate, dist = VCEG_A
    assert bd_psnr(rate, dist, rate, [d + 0.5 for d in dist]) == pytest.approx(0.5, abs=1e-12)
    assert bd_psnr(rate, dist, rate, dist) == pytest.approx(0.0, abs=1e-12)


def test_bd_rate_published_examples() -> None:
    assert bd_rate(*FAU_A, *FAU_B) == pytest.approx(FAU_PCHIP_BD_RATE, abs=1e-9)
    assert bd_psnr(*FAU_A, *FAU_B) == pytest.approx(FAU_PCHIP_BD_PSNR, abs=1e-9)
    assert bd_rate(*FAU_A, *FAU_B, method="cubic") == pytest.approx(FAU_CUBIC_BD_RATE, abs=1e-6)
    assert bd_rate(*VCEG_A, *VCEG_B) == pytest.approx(VCEG_PCHIP_BD_RATE, abs=1e-9)
    assert bd_rate(*VCEG_A, *VCEG_B, method="cubic") == pytest.approx(VCEG_CUBIC_BD_RATE, abs=1e-6)


def test_cubic_and_pchip_disagree_only_slightly_on_four_points() -> None:
    for a, b in [(FAU_A, FAU_B), (VCEG_A, VCEG_B)]:
        assert abs(bd_rate(*a, *b) - bd_rate(*a, *b, method="cubic")) < 0.05
        assert abs(bd_psnr(*a, *b) - bd_psnr(*a, *b, method="cubic")) < 0.01


def test_bd_rate_is_order_independent_and_antisymmetric_in_sign() -> None:
    (ra, da), (rb, db) = FAU_A, FAU_B
    shuffled = [2, 0, 3, 1]
    assert bd_rate([ra[i] for i in shuffled], [da[i] for i in shuffled], rb[::-1], db[::-1]) == pytest.approx(
        FAU_PCHIP_BD_RATE, abs=1e-12)
    assert bd_rate(rb, db, ra, da) > 0


def test_pchip_integral_is_exact_on_lines() -> None:
    x = np.array([0.0, 1.0, 2.5, 4.0])
    y = 3 * x + 1
    assert pchip_integral(x, y, 0.5, 3.0) == pytest.approx(1.5 * 3.0**2 + 3.0 - (1.5 * 0.25 + 0.5), abs=1e-12)


@pytest.mark.parametrize(
    "rate_b,dist_b,method,match",
    [
        ([1.0], [30.0], "pchip", "at least 2 points"),
        ([1.0, 2.0, 3.0], [30.0, 31.0, 32.0], "cubic", "at least 4 points"),
        ([1.0, 2.0], [50.0, 51.0], "pchip", "do not overlap"),
        ([1.0, 2.0], [32.0, 32.0], "pchip", "must be distinct"),
        ([1.0, -2.0], [31.0, 32.0], "pchip", "positive"),
        ([1.0, float("nan")], [31.0, 32.0], "pchip", "finite"),
        ([1.0, 2.0], [31.0], "pchip", "2 rates but 1 distortions"),
        ([1.0, 2.0], [31.0, 32.0], "spline", "method"),
    ],
)
def test_bd_rate_rejects_bad_curves(rate_b: list[float], dist_b: list[float], method: str, match: str) -> None:
    rate_a, dist_a = [1.0, 2.0, 4.0, 8.0], [30.0, 32.0, 34.0, 36.0]
    with pytest.raises(ValueError, match=match):
        bd_rate(rate_a, dist_a, rate_b, dist_b, method=method)
