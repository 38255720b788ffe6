"""Image quality and rate-distortion metrics: PSNR, MS-SSIM, bpp and Bjøntegaard deltas.

Conventions follow what learned-compression papers report (CompressAI, DVC):

- PSNR is on RGB with ``data_range`` 255, the MSE taken over all channels and pixels at once.
- MS-SSIM is Wang, Simoncelli & Bovik, "Multi-scale structural similarity for image quality
  assessment" (2003), with the border handling of ``torchmetrics`` (see :func:`ms_ssim`).
- bpp counts the bytes actually written.
- BD-rate / BD-PSNR are Bjøntegaard's (VCEG-M33, 2001) with the piecewise cubic Hermite (PCHIP)
  interpolation of the JCT-VC common test conditions (JCTVC-L1100); the original cubic polynomial
  fit is available as ``method="cubic"``.

Images are ``np.ndarray`` or ``torch.Tensor`` shaped ``(H, W, 3)`` or ``(3, H, W)`` (``(H, W)`` for
grey), uint8 or float on the same scale as ``data_range``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F

from lvc.rates import bpp  # noqa: F401 - part of this module's API; defined once, torch-free

ImageLike = Union[np.ndarray, torch.Tensor]

MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""Per-scale exponents of Wang et al. 2003, finest scale first."""

_WINDOW = 11
_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03


# --------------------------------------------------------------------------- images


def _to_chw(x: ImageLike) -> torch.Tensor:
    """Return ``x`` as a float64 ``(C, H, W)`` tensor (C = 1 or 3)."""
    if isinstance(x, np.ndarray):
        t = torch.from_numpy(np.array(x, dtype=np.float64))  # a copy: inputs may be read-only
    else:
        t = x.detach().cpu().to(torch.float64)
    if t.ndim == 2:
        return t.unsqueeze(0)
    if t.ndim == 3:
        # Channel-first wins only when the last axis cannot be channels: numpy images are (H, W, 3).
        if t.shape[0] in (1, 3) and t.shape[-1] not in (1, 3):
            return t
        if t.shape[-1] in (1, 3):
            return t.permute(2, 0, 1)
    raise ValueError(f"expected an image shaped (H, W, 3), (3, H, W) or (H, W), got {tuple(t.shape)}")


def _pair(a: ImageLike, b: ImageLike) -> tuple[torch.Tensor, torch.Tensor]:
    ta, tb = _to_chw(a), _to_chw(b)
    if ta.shape != tb.shape:
        raise ValueError(f"images must have the same shape, got {tuple(ta.shape)} (C, H, W) and {tuple(tb.shape)}")
    return ta, tb


def mse(a: ImageLike, b: ImageLike) -> float:
    """Mean squared error over all channels and pixels."""
    ta, tb = _pair(a, b)
    return float(((ta - tb) ** 2).mean())


def _psnr_from_mse(err: float, data_range: float) -> float:
    return math.inf if err == 0 else 10.0 * math.log10(data_range**2 / err)


def psnr(a: ImageLike, b: ImageLike, data_range: float = 255.0) -> float:
    """RGB PSNR in dB: one MSE over all channels and pixels (not the mean of per-channel PSNRs).

    Returns ``math.inf`` for identical images.
    """
    return _psnr_from_mse(mse(a, b), data_range)


def rgb_to_y(rgb: ImageLike) -> np.ndarray:
    """Full-range BT.601 luma ``Y = 0.299 R + 0.587 G + 0.114 B`` as a float64 ``(H, W)`` array.

    Y is left unrounded, so :func:`psnr_y` measures the codec rather than a rounding step.
    """
    t = _to_chw(rgb)
    if t.shape[0] != 3:
        raise ValueError(f"expected an RGB image with 3 channels, got {t.shape[0]}")
    y = 0.299 * t[0] + 0.587 * t[1] + 0.114 * t[2]
    return y.numpy()


def psnr_y(a: ImageLike, b: ImageLike, data_range: float = 255.0) -> float:
    """PSNR in dB of the luma (:func:`rgb_to_y`) of two RGB images."""
    return psnr(rgb_to_y(a), rgb_to_y(b), data_range)


# --------------------------------------------------------------------------- MS-SSIM


def _gaussian(size: int, sigma: float) -> torch.Tensor:
    d = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(d**2) / (2 * sigma**2))
    return g / g.sum()


def _blur_valid(x: torch.Tensor, g: Sequence[float]) -> torch.Tensor:
    """Separable filter of ``(N, 1, H, W)`` by the 1-D kernel ``g`` along W then H, 'valid' borders.

    Shifted in-place multiply-adds: on CPU in float64 this is ~10x faster than ``F.conv2d``,
    which takes a slow path for one-channel float64 kernels.
    """
    n = len(g)
    h, w = x.shape[-2] - n + 1, x.shape[-1] - n + 1
    rows = x[..., :, 0:w] * g[0]
    for i in range(1, n):
        rows.add_(x[..., :, i : i + w], alpha=g[i])
    out = rows[..., 0:h, :] * g[0]
    for i in range(1, n):
        out.add_(rows[..., i : i + h, :], alpha=g[i])
    return out


def _ssim_maps(
    x: torch.Tensor, y: torch.Tensor, g: Sequence[float], c1: float, c2: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SSIM and contrast-structure maps of ``(C, 1, H, W)`` images, over valid windows."""
    mx, my, xx, yy, xy = _blur_valid(torch.cat([x, y, x * x, y * y, x * y]), g).chunk(5)
    # E[x^2] - E[x]^2 can dip below zero by rounding.
    sx = (xx - mx * mx).clamp_min(0)
    sy = (yy - my * my).clamp_min(0)
    sxy = xy - mx * my
    cs = (2 * sxy + c2) / (sx + sy + c2)
    lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    return lum * cs, cs


def ms_ssim_scales(height: int, width: int) -> tuple[int, int]:
    """``(scales, window)`` that :func:`ms_ssim` uses for a ``height`` x ``width`` image.

    Five scales need ``min(H, W) >= 11 * 16 = 176``. Smaller images use as many scales as keep an
    11x11 window inside the coarsest one; below 11 pixels, one scale with the largest odd window
    that fits.
    """
    side = min(height, width)
    if side < 1:
        raise ValueError(f"expected a non-empty image, got {height}x{width}")
    if side < _WINDOW:
        return 1, side if side % 2 else side - 1
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side // 2**scales >= _WINDOW:
        scales += 1
    return scales, _WINDOW


def ms_ssim(a: ImageLike, b: ImageLike, data_range: float = 255.0) -> float:
    """MS-SSIM of Wang et al. 2003 (5 scales, Gaussian window 11, sigma 1.5, 2x2 average pooling).

    Matches ``torchmetrics``' ``multiscale_structural_similarity_index_measure`` (``normalize="relu"``)
    to 1e-8 on float64 inputs (its float32 default adds ~1e-5 of rounding), including its conventions:

    - contrast-structure terms (scales 1-4) use valid windows, but the full SSIM of the coarsest
      scale is taken over the image reflect-padded by half a window;
    - each scale's term is averaged over channels and pixels before the weighted product;
    - odd sizes lose their last row/column when pooled, and the five weights are used as published
      (they sum to 1.0001).

    ``pytorch_msssim`` (used by CompressAI) takes the coarsest scale over valid windows and the
    product per channel; the two differ by up to ~3e-3 on heavily compressed Kodak images (about
    0.1 dB of MS-SSIM in dB), and by less than 1e-4 at usual qualities.

    Images smaller than 176 pixels on a side get fewer scales (see :func:`ms_ssim_scales`) with the
    first weights renormalised to sum to 1, instead of an error.
    Negative terms are clipped to 0 (``relu``), as both references do, so the result is in [0, 1].
    """
    x, y = _pair(a, b)
    scales, window = ms_ssim_scales(x.shape[1], x.shape[2])
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=torch.float64)
    if scales < len(MS_SSIM_WEIGHTS):
        # The five standard weights sum to 1.0001; leave them exactly as published.
        weights = weights / weights.sum()
    g = _gaussian(window, _SIGMA).tolist()
    pad = (window - 1) // 2
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    x, y = x.unsqueeze(1), y.unsqueeze(1)  # (C, 1, H, W): channels filtered independently
    terms = []
    for s in range(scales):
        if s == scales - 1:
            if pad:
                x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
                y = F.pad(y, (pad, pad, pad, pad), mode="reflect")
            ssim_map, _ = _ssim_maps(x, y, g, c1, c2)
            terms.append(ssim_map.mean())
        else:
            _, cs_map = _ssim_maps(x, y, g, c1, c2)
            terms.append(cs_map.mean())
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    values = torch.relu(torch.stack(terms))
    return float(torch.prod(values**weights))


def ms_ssim_db(value: float) -> float:
    """MS-SSIM on the dB scale papers plot: ``-10 log10(1 - value)`` (``inf`` at 1)."""
    return math.inf if value >= 1.0 else -10.0 * math.log10(1.0 - value)


# --------------------------------------------------------------------------- Bjøntegaard


def _curve(rate: Sequence[float], dist: Sequence[float], name: str, min_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate one RD curve and return ``(log10 rate, distortion)`` as float64 arrays."""
    r = np.asarray(rate, dtype=np.float64).ravel()
    d = np.asarray(dist, dtype=np.float64).ravel()
    if r.shape != d.shape:
        raise ValueError(f"curve {name}: {r.size} rates but {d.size} distortions")
    if r.size < min_points:
        raise ValueError(f"curve {name}: expected at least {min_points} points, got {r.size}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(d))):
        raise ValueError(f"curve {name}: rates and distortions must be finite, got {r.tolist()} and {d.tolist()}")
    if np.any(r <= 0):
        raise ValueError(f"curve {name}: rates must be positive, got {r.tolist()}")
    return np.log10(r), d


def _sorted_strict(x: np.ndarray, y: np.ndarray, name: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) <= 0):
        raise ValueError(f"curve {name}: {what} values must be distinct, got {x.tolist()}")
    return x, y


def pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Derivatives of the monotone PCHIP interpolant (Fritsch & Carlson 1980, as SciPy and Matlab).

    ``x`` is strictly increasing. Interior slopes are a weighted harmonic mean of the neighbouring
    secants (0 at local extrema); end slopes use the shape-preserving three-point formula. Two
    points give the straight line.
    """
    h = np.diff(x)
    m = np.diff(y) / h
    if x.size == 2:
        return np.array([m[0], m[0]])
    d = np.zeros_like(y)
    w1 = 2 * h[1:] + h[:-1]
    w2 = h[1:] + 2 * h[:-1]
    same_sign = (np.sign(m[:-1]) * np.sign(m[1:])) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / m[:-1] + w2 / m[1:])
    d[1:-1] = np.where(same_sign, harmonic, 0.0)
    d[0] = _pchip_end_slope(h[0], h[1], m[0], m[1])
    d[-1] = _pchip_end_slope(h[-1], h[-2], m[-1], m[-2])
    return d


def _pchip_end_slope(h0: float, h1: float, m0: float, m1: float) -> float:
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > abs(3 * m0):
        return 3 * m0
    return float(d)


def pchip_integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    """Exact integral over ``[lo, hi]`` (inside ``[x[0], x[-1]]``) of the PCHIP interpolant of ``(x, y)``."""
    d = pchip_slopes(x, y)
    total = 0.0
    for k in range(x.size - 1):
        a, b = max(lo, x[k]), min(hi, x[k + 1])
        if b <= a:
            continue
        h = x[k + 1] - x[k]
        total += _hermite_antiderivative(y[k], y[k + 1], d[k], d[k + 1], h, (b - x[k]) / h)
        total -= _hermite_antiderivative(y[k], y[k + 1], d[k], d[k + 1], h, (a - x[k]) / h)
    return total


def _hermite_antiderivative(y0: float, y1: float, d0: float, d1: float, h: float, t: float) -> float:
    """Integral from 0 to ``t`` (in units of ``h``) of the cubic Hermite segment; x = x0 + t h."""
    t2, t3, t4 = t * t, t**3, t**4
    h00 = t4 / 2 - t3 + t
    h10 = t4 / 4 - 2 * t3 / 3 + t2 / 2
    h01 = -t4 / 2 + t3
    h11 = t4 / 4 - t3 / 3
    return h * (y0 * h00 + h * d0 * h10 + y1 * h01 + h * d1 * h11)


def _mean_difference(xa: np.ndarray, ya: np.ndarray, xb: np.ndarray, yb: np.ndarray, method: str, axis: str) -> float:
    """Mean of ``f_b - f_a`` over the overlap of the two curves' x ranges."""
    lo, hi = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    if hi <= lo:
        raise ValueError(
            f"curves do not overlap in {axis}: A spans [{xa[0]:.4g}, {xa[-1]:.4g}], "
            f"B spans [{xb[0]:.4g}, {xb[-1]:.4g}]")
    if method == "pchip":
        ia, ib = pchip_integral(xa, ya, lo, hi), pchip_integral(xb, yb, lo, hi)
    elif method == "cubic":
        pa, pb = np.polyint(np.polyfit(xa, ya, 3)), np.polyint(np.polyfit(xb, yb, 3))
        ia = np.polyval(pa, hi) - np.polyval(pa, lo)
        ib = np.polyval(pb, hi) - np.polyval(pb, lo)
    else:
        raise ValueError(f"method must be 'pchip' or 'cubic', got {method!r}")
    return float((ib - ia) / (hi - lo))


def _min_points(method: str) -> int:
    return 4 if method == "cubic" else 2


def bd_rate(
    rate_a: Sequence[float], dist_a: Sequence[float], rate_b: Sequence[float], dist_b: Sequence[float],
    method: str = "pchip",
) -> float:
    """Bjøntegaard delta rate of codec B against anchor A, in percent (negative: B needs fewer bits).

    ``log10(rate)`` is interpolated as a function of distortion (PSNR, MS-SSIM dB, ... higher is
    better) and the mean gap is taken over the distortion interval both curves cover:
    ``100 * (10 ** mean(log10 r_b - log10 r_a) - 1)``. Rates may be in any unit (bpp, kbit/s), the
    same for both curves. Points are sorted by distortion; they need not come in any order.

    ``method="pchip"`` (default) integrates the PCHIP interpolant exactly, as the JCT-VC/JVET CTC
    spreadsheets do, and needs at least 2 points per curve (4 or more is the usual practice; two
    points give a straight line). ``method="cubic"`` is the original VCEG-M33 least-squares cubic
    fit and needs at least 4.

    Raises ``ValueError`` for fewer points, non-finite or non-positive rates, repeated distortions,
    or curves whose distortion ranges do not overlap.
    """
    n = _min_points(method)
    ra, da = _curve(rate_a, dist_a, "A", n)
    rb, db = _curve(rate_b, dist_b, "B", n)
    da, ra = _sorted_strict(da, ra, "A", "distortion")
    db, rb = _sorted_strict(db, rb, "B", "distortion")
    return (10.0 ** _mean_difference(da, ra, db, rb, method, "distortion") - 1.0) * 100.0


def bd_psnr(
    rate_a: Sequence[float], dist_a: Sequence[float], rate_b: Sequence[float], dist_b: Sequence[float],
    method: str = "pchip",
) -> float:
    """Bjøntegaard delta distortion of codec B against anchor A (positive: B is better at equal rate).

    Distortion is interpolated as a function of ``log10(rate)`` and averaged over the overlapping
    rate interval; the result is in the distortion's unit (dB for PSNR). Same methods, point
    counts and errors as :func:`bd_rate`, with rates required to be distinct instead.
    """
    n = _min_points(method)
    ra, da = _curve(rate_a, dist_a, "A", n)
    rb, db = _curve(rate_b, dist_b, "B", n)
    ra, da = _sorted_strict(ra, da, "A", "rate")
    rb, db = _sorted_strict(rb, db, "B", "rate")
    return _mean_difference(ra, da, rb, db, method, "log-rate")
