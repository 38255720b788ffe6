"""The lvc byte layout (stdlib only: ``lvc info`` and ``--help`` never import torch).

Elementary stream::

    "LVC" 0x00  u8 version          5 bytes, once
    unit*                            until an END unit

    unit := u8 type | varint n | n bytes body | u32le CRC-32 of body

Units:

* ``SEQ`` (sequence header), repeated before every I-frame so each I-frame is a random-access
  point: width, height, fps and time base, source pixel format, model id and weight hash, coder id,
  GOP length and tile size.
* ``FRAME``: frame type, pts, duration, quality, CRC-32 of the decoded RGB frame, then the
  entropy-coded streams (each a varint length and bytes). Latent shapes follow from the header.
* ``END``: the number of frames, so a stream cut at a unit boundary is still caught.

A unit whose body fails its CRC is corruption; a decoded frame whose CRC differs is decoder drift.
Both are reported, never decoded into garbage.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from lvc.errors import CorruptStreamError, UnsupportedStreamError
from lvc.format.varint import read_varint, unzigzag, write_varint, zigzag

MAGIC = b"LVC\x00"
# 2: a P-frame's motion-mode stream may carry a global motion vector (lvc.models.motion_mode.MOTION_GLOBAL).
# 3: it may also say that the flow is that one vector (or zero) and carry no flow (MOTION_UNIFORM).
# 4: the weights it names may decode in exact arithmetic (a calibrated file: lvc.models.exact), the same
#    bits on every CPU; a reader before 4 would decode those in float and drift, so it must refuse them.
# 5: the motion-mode stream may end with a step of the motion's quality (lvc.models.motion_mode).
# Readers take every version up to theirs; each version's streams are the next one's without its addition.
VERSION = 5
UNIT_SEQ, UNIT_FRAME, UNIT_END = 1, 2, 3
FRAME_TYPES = ("I", "P")
CODER_RANGE_V1 = 1  # constriction range coder, 16-bit integer tables, escapes as zigzag varints
QUALITY_SCALE = 1000  # quality is stored in thousandths
_MAX_UNIT = 1 << 30  # refuse absurd lengths before allocating anything


@dataclass(frozen=True)
class SequenceHeader:
    """What a decoder needs before the first frame."""

    width: int
    height: int
    fps_num: int = 25
    fps_den: int = 1
    tb_num: int = 1
    tb_den: int = 25
    pixel_format: str = "rgb24"  # of the source, for information
    model_id: str = ""
    weight_hash: bytes = b"\x00" * 8
    coder_id: int = CODER_RANGE_V1
    gop: int = 1
    tile: int = 0  # max tile side in pixels, 0 = untiled


@dataclass(frozen=True)
class Frame:
    """One coded frame."""

    frame_type: str
    pts: int
    duration: int
    quality: float
    recon_crc: int
    streams: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class End:
    """Marks the end of a stream."""

    frames: int


Unit = SequenceHeader | Frame | End


def coded_quality(quality: float) -> float:
    """``quality`` as a FRAME unit stores it (thousandths): the encoder must code with exactly this
    value, or a decoder reading the rounded one would drift."""
    return round(quality * QUALITY_SCALE) / QUALITY_SCALE


# ---------------------------------------------------------------------- writing
def _write_bytes(out: bytearray, b: bytes) -> None:
    write_varint(out, len(b))
    out += b


def _unit(kind: int, body: bytes) -> bytes:
    out = bytearray([kind])
    write_varint(out, len(body))
    out += body
    out += struct.pack("<I", zlib.crc32(body))  # u32: CRC-32 of the body
    return bytes(out)


def file_header() -> bytes:
    """Magic and format version: the first 5 bytes of every elementary stream."""
    return MAGIC + bytes([VERSION])


def pack_sequence_header(h: SequenceHeader) -> bytes:
    """A complete SEQ unit."""
    if len(h.weight_hash) != 8:
        raise ValueError("weight_hash must be 8 bytes")
    body = bytearray()
    for v in (h.width, h.height, h.fps_num, h.fps_den, h.tb_num, h.tb_den):
        write_varint(body, v)
    _write_bytes(body, h.pixel_format.encode())
    _write_bytes(body, h.model_id.encode())
    body += h.weight_hash  # 8 bytes
    body.append(h.coder_id)  # u8
    write_varint(body, h.gop)
    write_varint(body, h.tile)
    return _unit(UNIT_SEQ, bytes(body))


def pack_frame(f: Frame) -> bytes:
    """A complete FRAME unit."""
    body = bytearray([FRAME_TYPES.index(f.frame_type)])  # u8
    write_varint(body, zigzag(f.pts))
    write_varint(body, f.duration)
    write_varint(body, round(f.quality * QUALITY_SCALE))
    body += struct.pack("<I", f.recon_crc)  # u32
    write_varint(body, len(f.streams))
    for s in f.streams:
        _write_bytes(body, s)
    return _unit(UNIT_FRAME, bytes(body))


def pack_end(frames: int) -> bytes:
    """A complete END unit."""
    body = bytearray()
    write_varint(body, frames)
    return _unit(UNIT_END, bytes(body))


# ---------------------------------------------------------------------- reading
class _Reader:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pos = 0

    def varint(self) -> int:
        v, self.pos = read_varint(self.body, self.pos)
        return v

    def raw(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.body):
            raise CorruptStreamError("unit body is shorter than its fields")
        b = self.body[self.pos:self.pos + n]
        self.pos += n
        return b

    def bytes_(self) -> bytes:
        return self.raw(self.varint())

    def text(self) -> str:
        try:
            return self.bytes_().decode()
        except UnicodeDecodeError:
            raise CorruptStreamError("text field is not UTF-8") from None

    def done(self) -> None:
        if self.pos != len(self.body):
            raise CorruptStreamError("unit has trailing bytes")


def check_file_header(data: bytes) -> int:
    """Validate magic and version; return the offset of the first unit."""
    if len(data) < len(MAGIC) + 1 or data[: len(MAGIC)] != MAGIC:
        raise CorruptStreamError("not an lvc stream (bad magic)")
    version = data[len(MAGIC)]
    if version > VERSION:
        raise UnsupportedStreamError(f"stream format version {version} is newer than this lvc (reads {VERSION})")
    if version < 1:
        raise CorruptStreamError(f"invalid format version {version}")
    return len(MAGIC) + 1


def parse_unit(data: bytes, pos: int) -> tuple[Unit, int]:
    """Parse the unit at ``pos``; return it and the offset after it."""
    if pos >= len(data):
        raise CorruptStreamError("stream ends before its END unit (truncated)")
    kind = data[pos]
    n, p = read_varint(data, pos + 1)
    if n > _MAX_UNIT or p + n + 4 > len(data):
        raise CorruptStreamError("unit runs past the end of the stream (truncated)")
    body = bytes(data[p:p + n])
    (crc,) = struct.unpack_from("<I", data, p + n)
    if zlib.crc32(body) != crc:
        raise CorruptStreamError(f"checksum mismatch in unit at byte {pos} (corrupted data)")
    return parse_body(kind, body), p + n + 4


def parse_body(kind: int, body: bytes) -> Unit:
    """Decode a unit body of type ``kind``."""
    r = _Reader(body)
    unit: Unit
    if kind == UNIT_SEQ:
        w, h, fn, fd, tn, td = (r.varint() for _ in range(6))
        pix, model_id, whash, coder = r.text(), r.text(), r.raw(8), r.raw(1)[0]
        unit = SequenceHeader(w, h, fn, fd, tn, td, pix, model_id, whash, coder, r.varint(), r.varint())
        if not (0 < w <= 1 << 16 and 0 < h <= 1 << 16) or fd == 0 or td == 0:
            raise CorruptStreamError(f"invalid sequence header ({w}x{h}, fps {fn}/{fd})")
        if coder != CODER_RANGE_V1:
            raise UnsupportedStreamError(f"unknown entropy coder id {coder}")
    elif kind == UNIT_FRAME:
        t = r.raw(1)[0]
        if t >= len(FRAME_TYPES):
            raise CorruptStreamError(f"unknown frame type {t}")
        pts, dur, q = unzigzag(r.varint()), r.varint(), r.varint() / QUALITY_SCALE
        (crc,) = struct.unpack("<I", r.raw(4))
        n = r.varint()
        if n > len(body):
            raise CorruptStreamError("impossible stream count")
        unit = Frame(FRAME_TYPES[t], pts, dur, q, crc, [r.bytes_() for _ in range(n)])
    elif kind == UNIT_END:
        unit = End(r.varint())
    else:
        raise CorruptStreamError(f"unknown unit type {kind}")
    r.done()
    return unit


def iter_sized_units(data: bytes, *, elementary: bool = True) -> Iterator[tuple[Unit, int]]:
    """``(unit, size in bytes)`` for every unit, validated.

    ``elementary``: ``data`` is a whole stream (magic, version, units, END last). Otherwise it is
    one container packet: units up to the packet's end, no magic and no END.
    """
    pos = check_file_header(data) if elementary else 0
    frames = 0
    while elementary or pos < len(data):
        start = pos
        unit, pos = parse_unit(data, pos)
        if isinstance(unit, End):
            if not elementary:
                raise CorruptStreamError("END unit inside a container packet")
            if unit.frames != frames:
                raise CorruptStreamError(f"END says {unit.frames} frames, stream has {frames}")
            if pos != len(data):
                raise CorruptStreamError("bytes after the END unit")
            yield unit, pos - start
            return
        frames += isinstance(unit, Frame)
        yield unit, pos - start


def iter_units(data: bytes, *, elementary: bool = True) -> Iterator[Unit]:
    """The units of ``data`` (see :func:`iter_sized_units`)."""
    for unit, _ in iter_sized_units(data, elementary=elementary):
        yield unit


def frame_crc(rgb_bytes: bytes) -> int:
    """CRC-32 of a decoded frame's bytes (uint8 RGB, row-major)."""
    return zlib.crc32(rgb_bytes)
