"""Rate control: the controller tracks its target on a simulated codec, and ``--bitrate``/``--size``
streams meet theirs and decode exactly."""

from __future__ import annotations

import math
import random

import pytest

from lvc.codec.hierarchy import QualityHierarchy, parse_offsets
from lvc.codec.ratecontrol import RateController, parse_bitrate, parse_size


def _simulate(ctl: RateController, frames: int, *, slope: float, a_i: float, a_p: float, gop: int,
              seed: int = 0) -> tuple[list[float], float]:
    """Qualities chosen and bits spent per frame on a codec whose size is exp(a + slope·q), ±20 %."""
    rng = random.Random(seed)
    qualities, spent = [], 0.0
    for i in range(frames):
        kind = "I" if i % gop == 0 else "P"
        q = ctl.choose(kind)
        bits = math.exp((a_i if kind == "I" else a_p) + slope * q) * rng.uniform(0.8, 1.2)
        revised = ctl.revise_first(q, int(bits / 8)) if i == 0 else None
        if revised is not None:
            q = revised
            bits = math.exp(a_i + slope * q)
        ctl.update(kind, q, int(bits / 8))
        qualities.append(q)
        spent += bits
    return qualities, spent / frames


@pytest.mark.parametrize("slope", [0.25, 0.35, 0.45])  # the model assumes 0.35
@pytest.mark.parametrize("target", [3e4, 6e4])
def test_controller_meets_its_target(slope: float, target: float) -> None:
    ctl = RateController(target_bits=target, pixels=416 * 240, gop=12, frames=120)
    qualities, per_frame = _simulate(ctl, 120, slope=slope, a_i=10.0, a_p=9.3, gop=12)
    assert per_frame == pytest.approx(target, rel=0.05)
    assert all(1 <= q <= 8 for q in qualities)
    steps = [abs(b - a) for a, b in zip(qualities[1:], qualities[2:])]
    assert max(steps) <= ctl.max_step + 1e-9  # no swings after the first frame's revision


def test_a_boosted_i_frame_sits_above_its_p_frames_and_the_target_still_holds() -> None:
    ctl = RateController(target_bits=4e4, pixels=416 * 240, gop=12, frames=120, hierarchy=QualityHierarchy(1.0, ()))
    qualities, per_frame = _simulate(ctl, 120, slope=0.35, a_i=10.0, a_p=9.3, gop=12)
    assert per_frame == pytest.approx(4e4, rel=0.05)
    for start in range(12, 120, 12):  # each I-frame one step above the P-frames around it (within max_step)
        assert qualities[start] - qualities[start - 1] == pytest.approx(1.0, abs=0.5 + 1e-9)
        assert qualities[start] - qualities[start + 1] == pytest.approx(1.0, abs=0.5 + 1e-9)


@pytest.mark.parametrize("offsets", [(-0.5, 0.0), (-1.0, 0.25, -1.0, -0.15)])
def test_p_frames_keep_their_offsets_and_the_target_still_holds(offsets: tuple[float, ...]) -> None:
    ctl = RateController(target_bits=4e4, pixels=416 * 240, gop=12, frames=120,
                         hierarchy=QualityHierarchy(1.0, offsets))
    qualities, per_frame = _simulate(ctl, 120, slope=0.35, a_i=10.0, a_p=9.3, gop=12)
    assert per_frame == pytest.approx(4e4, rel=0.05)
    # After the first GOP has taught the controller its costs, the base quality moves by at most
    # max_step from one P-frame to the next, so each P-frame sits at its offset above the base.
    n = len(offsets)
    for start in range(24, 120, 12):
        base = [qualities[start + k] - offsets[(k - 1) % n] for k in range(1, 12)]
        steps = [abs(b - a) for a, b in zip(base, base[1:])]
        assert max(steps) <= ctl.max_step + 1e-9, (start, base)


def test_the_plan_counts_what_the_offsets_cost() -> None:
    """Lower P-frames cost fewer bits, so at the same target the base quality is planned higher."""
    chosen = {}
    for offsets in ((), (-1.0,)):
        ctl = RateController(target_bits=4e4, pixels=416 * 240, gop=12, frames=120, quality=4.0, max_step=8.0,
                             hierarchy=QualityHierarchy(1.0, offsets))
        ctl.update("I", 5.0, 20000)
        chosen[offsets] = ctl.choose("P") - (offsets[0] if offsets else 0.0)
    assert chosen[(-1.0,)] > chosen[()]


def test_unreachable_target_saturates_at_the_lowest_quality() -> None:
    ctl = RateController(target_bits=10.0, pixels=416 * 240, gop=12, frames=24)
    qualities, _ = _simulate(ctl, 24, slope=0.35, a_i=9.5, a_p=8.8, gop=12)
    assert qualities[-1] == 1.0


def test_parsing() -> None:
    assert parse_bitrate("500k") == 500e3 and parse_bitrate("1.5M") == 1.5e6 and parse_bitrate("800") == 800
    assert parse_bitrate("64kbps") == 64e3
    assert parse_size("300k") == 300_000 and parse_size("2MB") == 2_000_000 and parse_size("1500") == 1500
    for bad in ("", "fast", "-5k", "0", "1.2.3M"):
        with pytest.raises(ValueError):
            parse_bitrate(bad)
        with pytest.raises(ValueError):
            parse_size(bad)


def test_offsets_parse_and_are_checked() -> None:
    assert parse_offsets("-0.5,0") == (-0.5, 0.0) and parse_offsets("1") == (1.0,)
    assert parse_offsets("0") == parse_offsets("0,0") == parse_offsets("") == ()
    for bad in ("a", "-0.5,,0", "nan", "1;2"):
        with pytest.raises(ValueError):
            parse_offsets(bad)
    with pytest.raises(ValueError, match="within"):
        QualityHierarchy(1.0, (-8.0,))
    h = QualityHierarchy(1.5, (-1.0, 0.5))
    assert [h.offset("P", k) for k in range(1, 6)] == [-1.0, 0.5, -1.0, 0.5, -1.0] and h.offset("I", 0) == 1.5
