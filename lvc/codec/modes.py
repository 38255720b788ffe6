"""The rate–distortion yardstick of the encoder's choices: λ at a quality, and the choice of I over P.

Where the schedule says P, the encoder may also code the frame as I and keep whichever costs less
in the training objective, ``bits + λ(q)·SSE`` (:class:`RdModeDecision`): on content the P-frame
codec predicts badly, an I-frame is then both smaller and better, and it restarts the chain. The
trial I-frame costs encoder time, so it is skipped where the P-frame already costs well under the
last I-frame: within a scene an I-frame's cost drifts by a few per cent, not by a quarter.
Pure numpy, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rd_lambda(lambdas: Sequence[float], quality: float) -> float:
    """λ of the training loss ``bpp + λ·255²·MSE`` at ``quality``: ``lambdas`` belong to the anchor
    qualities 1, 2, ...; a fractional quality interpolates them log-linearly, as the codec's gains are.

    The encoder's λ (I or P, and which motion candidate a P-frame keeps), in float64 numpy so that its
    choices do not move with torch's arithmetic. Training computes the same ladder in torch,
    ``train.losses.lambda_at`` (:func:`lvc.models.layers.interp_levels` on the log-λ);
    tests/test_gop.py holds the two equal.
    """
    logs = np.log(np.asarray(lambdas, dtype=np.float64))
    q = min(max(quality, 1.0), len(logs)) - 1
    lo = min(int(q), len(logs) - 2)
    return float(np.exp(logs[lo] + (q - lo) * (logs[lo + 1] - logs[lo])))


def _sse(recon: np.ndarray, source: np.ndarray) -> float:
    return float(np.square(recon.astype(np.float64) - source.astype(np.float64)).sum())


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
