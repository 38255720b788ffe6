"""The GOP schedule: a fixed intra period, optionally with scene-cut detection. Pure numpy, no torch.

A scene cut is declared when the mean absolute difference of two consecutive frames' 1/8-scale
luma exceeds ``cut_threshold`` (in 8-bit levels): predicting across a cut costs more than a fresh
I-frame, and an I-frame there also restarts the prediction chain. Whether a frame the schedule
marks P is coded as I after all is :mod:`lvc.codec.modes`'s decision.
"""

from __future__ import annotations

import numpy as np

AUTO = 0  # `--gop auto`: scene cuts on top of the default period


def thumbnail(rgb: np.ndarray, factor: int = 8) -> np.ndarray:
    """Luma of ``rgb`` (H, W, 3) uint8, averaged over ``factor``² blocks (float32)."""
    y = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    h, w = (max(1, s // factor) * factor if s >= factor else s for s in y.shape)
    y = y[:h, :w]
    if h >= factor and w >= factor:
        y = y.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    return y.astype(np.float32)


class GopScheduler:
    """Decides I or P for each frame in order."""

    def __init__(self, *, period: int, scene_cuts: bool = False, cut_threshold: float = 30.0) -> None:
        if period < 1:
            raise ValueError(f"GOP period must be >= 1, got {period}")
        self.period = period
        self.scene_cuts = scene_cuts
        self.cut_threshold = cut_threshold
        self._since_intra = 0
        self._prev: np.ndarray | None = None

    def decide(self, rgb: np.ndarray) -> str:
        """'I' or 'P' for the next frame."""
        thumb = thumbnail(rgb) if self.scene_cuts else None
        cut = (thumb is not None and self._prev is not None
               and float(np.abs(thumb - self._prev).mean()) > self.cut_threshold)
        self._prev = thumb
        if self._since_intra == 0 or self._since_intra >= self.period or cut:
            self._since_intra = 1
            return "I"
        self._since_intra += 1
        return "P"

    def restart(self) -> None:
        """The frame just decided P was coded as I: the next period counts from it."""
        self._since_intra = 1
