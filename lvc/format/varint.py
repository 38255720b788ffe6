"""LEB128 unsigned varints and the zigzag map of signed integers onto them (stdlib only): the length
and integer fields of the bitstream, and the entropy coder's escapes."""

from __future__ import annotations

from lvc.errors import CorruptStreamError

_MAX_BYTES = 10  # 64-bit values


def write_varint(out: bytearray, value: int) -> None:
    """Append ``value`` (>= 0) as LEB128."""
    if value < 0:
        raise ValueError(f"varint must be >= 0, got {value}")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def read_varint(data: bytes | memoryview, pos: int, limit: int | None = None) -> tuple[int, int]:
    """Read a varint at ``pos``; return ``(value, next_pos)``. Never reads past ``limit``."""
    end = len(data) if limit is None else min(limit, len(data))
    value = shift = 0
    for i in range(_MAX_BYTES):
        if pos >= end:
            raise CorruptStreamError("stream ends inside a varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise CorruptStreamError("varint longer than 10 bytes")


def zigzag(value: int) -> int:
    """A signed integer as an unsigned one, small magnitudes first: 0, -1, 1, -2 -> 0, 1, 2, 3."""
    return 2 * value if value >= 0 else -2 * value - 1


def unzigzag(value: int) -> int:
    """Inverse of :func:`zigzag`."""
    return value // 2 if value % 2 == 0 else -(value + 1) // 2
