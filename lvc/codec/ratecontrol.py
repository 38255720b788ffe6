"""One-pass rate control on the continuous quality: ``--bitrate`` and ``--size``.

lvc has one model for every rate and a quality that may be fractional and may change from frame
to frame (each frame records its own), so rate control needs no second model and no change to
the decoder: it only chooses each frame's quality.

The model is ``log(bits) = a[type] + slope * q``: bits grow by about ``e^0.35`` per quality step
on the benchmark clips (the slope varies from 0.2 to 0.46 with the content and the rate), and
``a`` is learned per frame type from the frames just coded. Before each frame the controller
plans the rest of the GOP (from an I-frame: the I-frame and its P-frames) at a single quality, so
that it spends the target plus what the stream has saved so far, or minus what it has overspent,
spread over a GOP or more. The plan's quality is the P-frames' base; each frame is placed around it
by the GOP's quality hierarchy (:mod:`lvc.codec.hierarchy`: the I-frame's boost, the P-frames'
offsets), as with a fixed quality, and the plan counts what those offsets cost.
The quality moves at most ``max_step`` from one frame to the next, so a mispredicted frame does
not swing the next one. Pure Python: the byte counts are what the frames actually wrote.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from lvc.codec.hierarchy import QualityHierarchy

SLOPE = 0.35  # d log(bits) / d quality, measured on the benchmark clips (bench/results/video_rd.json)
P_OVER_I = 0.5  # a P-frame's bits over an I-frame's at the same quality, until one has been coded
I_BPP_AT_Q1 = 0.1  # an I-frame's bits per pixel at quality 1 (Kodak: 0.08; the video clips: 0.05-0.2)
P_SMOOTHING = 0.25  # weight of the newest P-frame in the learned P-frame cost
REVISE_BELOW = 0.25  # the first frame is coded again where the plan moves its quality by more than this


@dataclass
class RateController:
    """Chooses frame qualities so that the stream's bits track ``target_bits`` per frame.

    ``pixels`` (per frame) gives the first frame a prior guess; ``quality``, when given, is the
    first frame's quality instead. ``frames``, when known, lets the plan end with the clip.
    """

    target_bits: float  # per frame
    pixels: int
    gop: int = 12
    frames: int | None = None
    quality: float | None = None
    q_min: float = 1.0
    q_max: float = 8.0
    max_step: float = 0.5
    slope: float = SLOPE
    hierarchy: QualityHierarchy = field(default_factory=QualityHierarchy.flat)  # each frame's offset
    _log_a: dict[str, float] = field(default_factory=dict, init=False)  # learned a[type]
    _spent: float = field(default=0.0, init=False)
    _coded: int = field(default=0, init=False)
    _since_intra: int = field(default=0, init=False)
    _offset: float = field(default=0.0, init=False)  # the offset of the frame last chosen

    def __post_init__(self) -> None:
        if not self.target_bits > 0:
            raise ValueError(f"target bits per frame must be positive, got {self.target_bits}")
        self._prior = math.log(I_BPP_AT_Q1 * self.pixels) - self.slope

    def choose(self, frame_type: str) -> float:
        """The quality of the next frame, which the GOP schedule makes ``frame_type``."""
        if self._coded or self.quality is None:
            self.quality = self._plan(frame_type, self.quality)  # the P-frames' quality
        return self._frame_quality(frame_type, self.quality)

    def _frame_quality(self, frame_type: str, quality: float) -> float:
        position = 0 if frame_type == "I" else self._since_intra
        q = min(max(quality + self.hierarchy.offset(frame_type, position), self.q_min), self.q_max)
        self._offset = q - quality
        return q

    def revise_first(self, quality: float, nbytes: int) -> float | None:
        """After a trial of the first frame (an I-frame) at ``quality`` cost ``nbytes``: the quality to
        code it at instead, or None where the trial is close enough. The first frame sets the pace of
        the first GOP, and nothing has been measured before it, so it is worth a second encode."""
        if self._coded:
            return None
        self._log_a["I"] = math.log(max(nbytes, 1) * 8.0) - self.slope * quality
        base = self._plan("I", None)
        q = self._frame_quality("I", base)
        if abs(q - quality) <= REVISE_BELOW:
            return None
        self.quality = base
        return q

    def _plan(self, frame_type: str, last: float | None) -> float:
        a_i = self._log_a.get("I", self._log_a["P"] - math.log(P_OVER_I) if "P" in self._log_a else self._prior)
        a_p = self._log_a.get("P", a_i + math.log(P_OVER_I))
        # The plan runs to the end of this GOP (or of the clip) at one quality ...
        since = 0 if frame_type == "I" else self._since_intra
        remaining = self.gop if self.frames is None else max(self.frames - self._coded, 1)
        window = max(min(self.gop - since, remaining), 1)
        # The window's bits at a base quality of 0, each frame at its place in the hierarchy.
        # (Position k after the I-frame; the I-frame itself is k = 0.)
        per_q0 = sum(math.exp((a_i if k == 0 else a_p) + self.slope * self.hierarchy.offset("I" if k == 0 else "P", k))
                     for k in range(since, since + window))
        # ... and pays back what the stream has overspent (or spends what it saved) over a GOP or more.
        debt = self._spent - self.target_bits * self._coded
        budget = self.target_bits * window - debt * window / max(window, min(self.gop, remaining))
        budget = max(budget, 0.25 * self.target_bits * window)
        q = math.log(budget / per_q0) / self.slope
        if last is not None:  # one frame's misprediction must not swing the next
            q = min(max(q, last - self.max_step), last + self.max_step)
        return min(max(q, self.q_min), self.q_max)

    def update(self, frame_type: str, quality: float, nbytes: int) -> None:
        """Learn from a frame just coded (its real type, quality and size)."""
        log_a = math.log(max(nbytes, 1) * 8.0) - self.slope * quality
        old = self._log_a.get(frame_type)
        # P-frames come often and their sizes swing with the motion, so smooth them (a quality that
        # chases every swing costs more than it saves); an I-frame's cost is taken as it is.
        self._log_a[frame_type] = log_a if old is None or frame_type == "I" else old + P_SMOOTHING * (log_a - old)
        self._spent += nbytes * 8.0
        self._coded += 1
        self._since_intra = 1 if frame_type == "I" else self._since_intra + 1
        if frame_type == "P":  # the plan's quality is the P-frames' base, without this frame's offset
            self.quality = quality - self._offset


_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_bitrate(text: str) -> float:
    """``"500k"``, ``"1.5M"``, ``"800000"`` -> bits per second."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmg]?)(?:bps|b/s|bit/s)?\s*", text.lower())
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"expected a bitrate such as 500k or 1.5M (bits per second), got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_size(text: str) -> int:
    """``"2MB"``, ``"300k"``, ``"150000"`` -> bytes (k, M, G are powers of 1000)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmg]?)b?\s*", text.lower())
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"expected a file size such as 300k or 2MB (bytes), got {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2)])
