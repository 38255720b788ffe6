"""Rates and means from what was written: bits per pixel, kb/s and the mean of finite values.

Stdlib only, so that the torch-free paths (``lvc info``, the API's summaries, the progress bar) use
the same formulas as the metrics and the reports: each exists once, here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import ClassVar


def bpp(num_bytes: int, height: int, width: int, frames: int = 1) -> float:
    """Bits per pixel of ``num_bytes`` spread over ``frames`` images of ``height`` x ``width``."""
    if height <= 0 or width <= 0:
        raise ValueError(f"expected a positive image size, got {height}x{width}")
    if num_bytes < 0:
        raise ValueError(f"expected a non-negative byte count, got {num_bytes}")
    return 8.0 * num_bytes / (height * width * max(frames, 1))


def kbps(num_bytes: int, frames: int, fps: float) -> float:
    """Kilobits per second of ``num_bytes`` holding ``frames`` frames at ``fps``."""
    return num_bytes * 8 * fps / max(frames, 1) / 1000


def kbps_over(num_bytes: int, seconds: float) -> float:
    """Kilobits per second of ``num_bytes`` that play for ``seconds`` (a clip's measured duration)."""
    return num_bytes * 8 / max(seconds, 1e-9) / 1000


def mean_finite(values: Iterable[float | None]) -> float | None:
    """Mean of the finite values: a lossless frame's infinite PSNR is left out rather than making the
    mean infinite; ``inf`` when every value is infinite, None when there are none (None and NaN values
    are skipped, so unmeasured frames do not count, and a NaN never passes for a lossless ``inf``)."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return None
    finite = [v for v in vals if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.inf


class Rated:
    """Mixin of ``bpp`` and ``kbps`` for a record of ``frames`` frames of ``width`` x ``height`` at ``fps``,
    whose byte count is the attribute that ``bytes_field`` names."""

    bytes_field: ClassVar[str]
    frames: int
    width: int
    height: int
    fps: float

    @property
    def bpp(self) -> float:
        return bpp(getattr(self, self.bytes_field), self.height, self.width, self.frames)

    @property
    def kbps(self) -> float:
        return kbps(getattr(self, self.bytes_field), self.frames, self.fps)
