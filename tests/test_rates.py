"""lvc.rates: the one place bits per pixel, kb/s and the mean of finite values are computed (stdlib only)."""

from __future__ import annotations

import math

import pytest

from lvc.rates import Rated, kbps, kbps_over, mean_finite

INF, NAN = math.inf, math.nan


@pytest.mark.parametrize(("values", "mean"), [
    ([30.0, 40.0], 35.0),
    ([30.0, INF, 40.0], 35.0),        # a lossless frame's PSNR does not make the mean infinite
    ([INF, INF], INF),                # every frame lossless: the mean is too
    ([30.0, None, 40.0], 35.0),       # an unmeasured frame does not count
    ([None, INF], INF),
    ([30.0, NAN, 40.0], 35.0),        # nor does a NaN
    ([NAN, INF], INF),
    ([-INF, 20.0], 20.0),             # -inf is not finite either
])
def test_mean_finite(values: list[float | None], mean: float) -> None:
    assert mean_finite(values) == pytest.approx(mean)


@pytest.mark.parametrize("values", [[], [None], [None, None], [NAN], [None, NAN]])
def test_mean_finite_of_no_measurement_is_none(values: list[float | None]) -> None:
    assert mean_finite(values) is None


def test_mean_finite_takes_any_iterable() -> None:
    assert mean_finite(v for v in (1.0, 2.0, INF)) == 1.5


def test_kbps() -> None:
    assert kbps(1000, 25, 25.0) == 8.0                           # 1000 bytes a second
    assert kbps(1000, 1, 25.0) == 200.0                          # one frame at 25 fps: 1/25 s
    assert kbps(3000, 2, 30000 / 1001) == pytest.approx(3000 * 8 * 30000 / 1001 / 2 / 1000)
    assert kbps(1000, 0, 25.0) == kbps(1000, 1, 25.0)            # no frames counts as one, not a division by 0
    assert kbps(0, 10, 25.0) == 0.0
    assert kbps_over(1000, 2.0) == 4.0 and kbps_over(1000, 0.0) > 0


def test_rated_reads_the_named_byte_count() -> None:
    class Record(Rated):
        bytes_field = "size"

        def __init__(self) -> None:
            self.size, self.frames, self.width, self.height, self.fps = 1200, 2, 40, 30, 10.0

    r = Record()
    assert r.kbps == kbps(1200, 2, 10.0) == 48.0
    assert r.bpp == pytest.approx(8 * 1200 / (40 * 30 * 2))
