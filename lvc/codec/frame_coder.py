"""The frame coders' contract: ``compress`` a uint8 frame into streams and its decoder-exact
reconstruction, ``decompress`` streams back into the frame, and split a frame's bytes by what they code.

It is the frame-level face of the codec parts' contract (:mod:`lvc.models.contract`): the same two
verbs, on uint8 frames instead of tensors. :class:`~lvc.codec.intra.IntraCoder` and
:class:`~lvc.codec.inter.InterCoder` follow it; what each needs beside the frame (the reference, the
flow) comes as keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor


@dataclass
class CodedFrame:
    """What ``compress`` returns: the streams and the reconstruction the decoder will produce.

    ``flow`` is the decoded flow of a P-frame (the next P-frame's motion predictor); None for I-frames.
    """

    streams: list[bytes]
    recon: np.ndarray
    flow: Tensor | None = None


@dataclass
class DecodedPicture:
    """What ``decompress`` returns: the frame, the decoded flow of a P-frame, and, only when asked
    for, the intermediates that ``lvc inspect`` pictures (flow, prediction and residual arrays)."""

    rgb: np.ndarray
    flow: Tensor | None = None
    intermediates: dict[str, np.ndarray] = field(default_factory=dict)


@runtime_checkable
class FrameCoder(Protocol):
    """An I- or P-frame coder."""

    def compress(self, rgb: np.ndarray, quality: float, **context: Any) -> CodedFrame:
        """Streams and the decoder-exact reconstruction of ``rgb`` (H, W, 3) uint8."""
        ...

    def decompress(self, streams: list[bytes], quality: float, **context: Any) -> DecodedPicture:
        """The frame from its streams."""
        ...

    def stream_parts(self, streams: list[bytes], total: int) -> dict[str, int]:
        """``total`` (the frame's bytes) split by what the streams code; the rest is headers."""
        ...
