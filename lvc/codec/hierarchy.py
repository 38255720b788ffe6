"""Each frame's quality within a GOP, relative to the stream's: the I-frame's boost and the P-frames'
cycle of offsets. Pure Python; encoder-side only.

The decoder never needs this: every frame records the quality it was coded at. The fixed-quality
encoder and the rate controller both place frames with it, so that a rate-controlled stream keeps
the same hierarchy as one at a fixed quality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Quality steps by which a GOP's I-frame is coded above its P-frames (x264's ipratio): every P-frame
# predicts from it, so its bits pay back over the GOP. Measured (12 frames, GOP 12, q 2–8, against
# one quality for all): +1 gives basketballpass −5.8 %, toys −6.6 %, tree −3.1 %, foreman −0.5 % and
# aerial2 +0.45 % BD-rate; +2 gains more on the first two (−9.1, −10.2 %) but loses 2.9 % on aerial2,
# whose P-frames predict least, and 1.6 % on foreman.
INTRA_BOOST = 1.0
# The P-frames' quality offsets, one per P-frame, repeated over the GOP (DCVC's hierarchical quality;
# () codes every P-frame at the stream's quality). Measured against () with the I-frame boost of 1
# (bench/results/gop_qualities.md: 12 frames, GOP 12, q 2–8, video-dct-hp-real after 5,287 steps):
# (-0.5, 0) gives toys −2.2 %, basketballpass −1.8 %, tree −1.6 %, foreman +0.3 % and aerial2 +0.2 %
# BD-rate; DCVC's (-1, +0.25, -1, -0.15) gains more where P-frames predict well (−3.6, −3.5, −2.4 %)
# but loses 1.5 % on foreman and 1.7 % on aerial2, whose P-frames predict least, so it is not the default.
P_OFFSETS: tuple[float, ...] = (-0.5, 0.0)
MAX_OFFSET = 7.0  # quality spans [1, 8]: no offset can move a frame further


@dataclass(frozen=True)
class QualityHierarchy:
    """``intra_boost``: the I-frame's quality steps above the P-frames'; ``p_offsets``: the steps added
    to the first, second, ... P-frame after each I-frame, in a cycle (empty: none)."""

    intra_boost: float = INTRA_BOOST
    p_offsets: tuple[float, ...] = P_OFFSETS

    def __post_init__(self) -> None:
        for v in (self.intra_boost, *self.p_offsets):
            if not -MAX_OFFSET <= v <= MAX_OFFSET:
                raise ValueError(f"a quality offset must be within ±{MAX_OFFSET:g} steps, got {v:g}")

    @classmethod
    def flat(cls) -> QualityHierarchy:
        """One quality for every frame (all-intra streams: there are no P-frames to boost the I-frame for)."""
        return cls(0.0, ())

    def offset(self, frame_type: str, position: int) -> float:
        """The quality steps over the stream's quality of the next frame, of ``frame_type`` ('I' or 'P'),
        ``position`` frames after the GOP's I-frame (the first P-frame is 1)."""
        if frame_type == "I":
            return self.intra_boost
        if not self.p_offsets:
            return 0.0
        return self.p_offsets[(max(position, 1) - 1) % len(self.p_offsets)]


def parse_offsets(text: str) -> tuple[float, ...]:
    """``"-0.5,0"`` -> (-0.5, 0.0); ``"0"`` or ``""`` -> () (one quality for every P-frame)."""
    try:
        values = tuple(float(v) for v in text.split(",")) if text.strip() else ()
        if any(math.isnan(v) for v in values):
            raise ValueError
    except ValueError:
        raise ValueError(f"expected quality offsets separated by commas, such as -0.5,0; got {text!r}") from None
    return () if all(v == 0 for v in values) else values
