"""The motion-mode stream of a P-frame: what its coded flow is added to, and at which quality it is coded.

The first stream of every P-frame of a model with temporal motion prediction
(:class:`lvc.models.inter.InterCodec`), a few bytes::

    u8 mode                          FRESH 0, TEMPORAL 1, GLOBAL 2, UNIFORM 3
    i16le x, i16le y                 GLOBAL and UNIFORM only: one vector, in 1/GLOBAL_UNITS pixel
    i8 step                          optional, never 0 and never with UNIFORM (format version 5)

FRESH: the flow is coded as it is; TEMPORAL: against the previous P-frame's decoded flow; GLOBAL:
against the constant field of the vector; UNIFORM: the vector *is* the flow, and the flow streams
are empty. ``step`` moves the quality the flow is coded at from the frame's, in 1/MOTION_STEP_UNITS
of a quality; without it the flow is coded at the frame's own, so the streams of earlier versions
read unchanged. Parsing is strict: anything else is a ``ValueError`` (a corrupt stream).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import torch
from torch import Tensor

MOTION_FRESH, MOTION_TEMPORAL, MOTION_GLOBAL, MOTION_UNIFORM = 0, 1, 2, 3
GLOBAL_UNITS = 4
MOTION_STEP_UNITS = 4
_OFFSET = struct.Struct("<hh")
_STEP = struct.Struct("<b")
OFFSET_LIMIT = 2 ** 15 - 1  # in GLOBAL_UNITS; the encoder never offers more


class MotionMode(NamedTuple):
    """A parsed mode stream: the mode, its vector (GLOBAL and UNIFORM) and the motion quality step."""

    mode: int
    offset: tuple[int, int] | None = None
    step: int = 0


def offset_field(offset: tuple[int, int], like: Tensor) -> Tensor:
    """The constant flow (shaped like ``like``, (B, 2, H, W), pixels) of a global ``offset`` (x, y)."""
    vec = torch.tensor(offset, dtype=like.dtype, device=like.device) / GLOBAL_UNITS
    return vec.view(1, 2, 1, 1).expand_as(like).contiguous()


def motion_mode(mode: int, offset: tuple[int, int] | None = None, step: int = 0) -> bytes:
    """The mode stream of ``mode`` (with its ``offset`` for MOTION_GLOBAL and MOTION_UNIFORM, and the
    motion quality ``step`` where it is not 0)."""
    if step and (mode == MOTION_UNIFORM or not -128 <= step <= 127):
        raise ValueError(f"motion quality step {step} is not allowed with mode {mode}")
    vector = _OFFSET.pack(*offset) if mode in (MOTION_GLOBAL, MOTION_UNIFORM) else b""
    return bytes([mode]) + vector + (_STEP.pack(step) if step else b"")


def parse_motion_mode(stream: bytes) -> MotionMode:
    """The :class:`MotionMode` of a mode stream; ``ValueError`` for anything else."""
    mode = stream[0] if stream else -1
    size = 1 + (_OFFSET.size if mode in (MOTION_GLOBAL, MOTION_UNIFORM) else 0)
    if mode in (MOTION_FRESH, MOTION_TEMPORAL, MOTION_GLOBAL, MOTION_UNIFORM) and len(stream) >= size:
        offset = _OFFSET.unpack(stream[1:size]) if size > 1 else None
        if len(stream) == size:
            return MotionMode(mode, offset)
        if len(stream) == size + _STEP.size and mode != MOTION_UNIFORM and stream[size]:
            return MotionMode(mode, offset, _STEP.unpack(stream[size:])[0])
    raise ValueError(f"unknown motion mode {stream.hex() or 'empty'}")
