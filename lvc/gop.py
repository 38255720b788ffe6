"""Frame-type decisions: a fixed intra period, optionally with scene-cut detection, and a
rate–distortion choice of I over P frame by frame. Pure numpy.

A scene cut is declared when the mean absolute difference of two consecutive frames' 1/8-scale
luma exceeds ``cut_threshold`` (in 8-bit levels): predicting across a cut costs more than a fresh
I-frame, and an I-frame there also restarts the prediction chain.

Where the schedule says P, the encoder may also code the frame as I and keep whichever costs less
in the training objective, ``bits + λ(q)·SSE`` (:class:`RdModeDecision`): on content the P-frame
codec predicts badly, an I-frame is then both smaller and better, and it restarts the chain. The
trial I-frame costs encoder time, so it is skipped where the P-frame already costs well under the
last I-frame: within a scene an I-frame's cost drifts by a few per cent, not by a quarter.
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


def _sse(recon: np.ndarray, source: np.ndarray) -> float:
    return float(np.square(recon.astype(np.float64) - source.astype(np.float64)).sum())


def rd_lambda(lambdas: tuple[float, ...] | list[float], quality: float) -> float:
    """λ of the training loss ``bpp + λ·255²·MSE`` at ``quality``: ``lambdas`` belong to the anchor
    qualities 1, 2, ...; a fractional quality interpolates them log-linearly, as the codec's gains are."""
    logs = np.log(np.asarray(lambdas, dtype=np.float64))
    q = min(max(quality, 1.0), len(logs)) - 1
    lo = min(int(q), len(logs) - 2)
    return float(np.exp(logs[lo] + (q - lo) * (logs[lo + 1] - logs[lo])))


class RdModeDecision:
    """Chooses I or P for a frame coded both ways, by ``bits + λ·SSE/3`` (SSE over 8-bit RGB).

    That is the loss the codecs were trained on, ``bpp + λ·255²·MSE`` with MSE over [0, 1] RGB,
    multiplied by the pixel count (λ from :func:`rd_lambda`).
    """

    def __init__(self, lambdas: tuple[float, ...] | list[float], quality: float, *, trial_ratio: float = 0.75) -> None:
        self.lambdas = tuple(lambdas)
        self.lam = rd_lambda(self.lambdas, quality)
        self.trial_ratio = trial_ratio
        self._intra: tuple[int, float] | None = None  # (bytes, SSE) of the last I-frame coded

    def set_quality(self, quality: float) -> None:
        """The next frames are coded at ``quality`` (rate control changes it frame by frame)."""
        self.lam = rd_lambda(self.lambdas, quality)

    def note_intra(self, nbytes: int, recon: np.ndarray, source: np.ndarray) -> None:
        """Remember an I-frame just coded (the yardstick of :meth:`worth_trying_intra`)."""
        self._intra = (nbytes, _sse(recon, source))

    def worth_trying_intra(self, inter: tuple[int, np.ndarray], source: np.ndarray) -> bool:
        """Whether the P-frame (bytes, reconstruction) costs enough that an I-frame might beat it."""
        if self._intra is None:
            return True
        return self.cost(*inter, source) > self.trial_ratio * self._cost(*self._intra)

    def _cost(self, nbytes: int, sse: float) -> float:
        return 8.0 * nbytes + self.lam * sse / 3.0

    def cost(self, nbytes: int, recon: np.ndarray, source: np.ndarray) -> float:
        return self._cost(nbytes, _sse(recon, source))

    def prefer_intra(self, intra: tuple[int, np.ndarray], inter: tuple[int, np.ndarray], source: np.ndarray) -> bool:
        """Whether the I-frame (bytes, reconstruction) beats the P-frame for ``source``."""
        return self.cost(*intra, source) < self.cost(*inter, source)
