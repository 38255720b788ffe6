"""The ``.lvc`` file: access units as packets of an MP4 data stream, or a bare elementary stream.

* Video: MP4 through PyAV. Each access unit is one packet of a ``bin_data`` stream whose handler
  name is ``lvc <version>``; pts and durations are the source's (variable frame rate kept), and
  the source's audio packets that overlap the coded frames are copied in unchanged (:mod:`lvc.io.audio`).
  (Matroska cannot hold a data stream, and MPEG-TS rewrites pts.)
* Stills: the elementary stream of ``lvc.format.bitstream`` with no container around it, because MP4 boxes
  would cost ~750 bytes, 15 % of a Kodak image at 0.1 bpp.

The two are told apart by their first bytes. Files are written to a temporary name and renamed on
``close()``; ``abort()`` (or an exception inside ``with``) leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from lvc.format import bitstream as bs
from lvc.format.stream_info import StreamInfo, describe
from lvc.errors import CorruptStreamError, UnsupportedStreamError
from lvc.io.audio import AudioCopy, span_seconds
from lvc.io.files import AtomicOutput, check_input, temp_path

HANDLER_PREFIX = "lvc "


@dataclass
class AccessUnit:
    """One packet: the units' bytes and their timing in ``time_base``."""

    data: bytes
    pts: int
    duration: int


class ContainerWriter(AtomicOutput):
    """Writes access units (and optionally the source's audio) to an ``.lvc`` file.

    The audio copied is the part that overlaps the frames written (``--frames``/``--start`` trim it
    with the video), at packet granularity.
    """

    def __init__(self, path: str | Path, *, time_base: Fraction, elementary: bool = False,
                 audio_from: str | Path | None = None) -> None:
        self.path = Path(path)
        self.tmp = temp_path(self.path)
        self.elementary = elementary
        self.time_base = time_base
        self.frames = 0
        self._audio: AudioCopy | None = None
        self._first_pts: int | None = None
        self._last_end: int | None = None
        if elementary:
            self._file = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
            self._file.write(bs.file_header())
            return
        import av

        self._out = av.open(str(self.tmp), "w", format="mp4")
        self._stream = self._out.add_data_stream(codec_name="bin_data")
        self._stream.metadata["handler_name"] = f"{HANDLER_PREFIX}{bs.VERSION}"
        self._stream.time_base = time_base
        if audio_from is not None:
            self._audio = AudioCopy(audio_from, self._out)

    @property
    def audio_streams(self) -> int:
        """Number of audio streams being copied."""
        return 0 if self._audio is None else self._audio.count

    def audio_bytes(self, start: float | None = None, end: float | None = None) -> int:
        """Bytes of the audio packets overlapping ``[start, end)`` seconds: what ``close()`` will copy in when
        the frames written span that (a demux pass, no decoding)."""
        return 0 if self._audio is None else self._audio.bytes(start, end)

    def write(self, unit: AccessUnit) -> None:
        """Append one access unit."""
        self.frames += 1
        self._first_pts = unit.pts if self._first_pts is None else min(self._first_pts, unit.pts)
        end = unit.pts + unit.duration
        self._last_end = end if self._last_end is None else max(self._last_end, end)
        if self.elementary:
            self._file.write(unit.data)
            return
        import av

        packet = av.Packet(unit.data)
        packet.stream = self._stream
        packet.pts = packet.dts = unit.pts
        packet.duration = unit.duration  # without it the muxer drops the last packet
        packet.time_base = self.time_base
        self._out.mux(packet)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self.elementary:
            self._file.write(bs.pack_end(self.frames))
            self._file.close()
        else:
            if self._audio is not None and self.frames:
                self._audio.copy(*span_seconds(self._first_pts, self._last_end, self.time_base))
            self._out.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        try:
            if self.elementary:
                self._file.close()
            else:
                self._out.close()
        except Exception:  # noqa: BLE001 - best effort; the file is deleted anyway
            pass
        self.tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class ContainerInfo:
    """What the container says before any unit is parsed."""

    elementary: bool
    time_base: Fraction
    packets: int | None
    size_bytes: int
    audio_streams: int


class ContainerReader:
    """Reads the access units of an ``.lvc`` file, elementary or MP4."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        check_input(self.path, "an .lvc file")
        with open(self.path, "rb") as f:
            head = f.read(len(bs.MAGIC))
        self.elementary = head == bs.MAGIC
        if self.elementary:
            self._data = self.path.read_bytes()
            self.info = ContainerInfo(True, Fraction(1, 1), None, len(self._data), 0)
            return
        import av

        try:
            self._in = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
            raise CorruptStreamError(f"{self.path}: not an lvc file (neither an lvc stream nor a readable MP4; "
                                     "truncated or corrupt?)") from None
        streams = [s for s in self._in.streams if s.type == "data"
                   and s.metadata.get("handler_name", "").startswith(HANDLER_PREFIX)]
        if not streams:
            self._in.close()
            raise CorruptStreamError(f"{self.path}: not an lvc file (no lvc data stream)")
        self._stream = streams[0]
        version = self._stream.metadata["handler_name"][len(HANDLER_PREFIX):]
        if not version.isdigit() or int(version) > bs.VERSION:
            self._in.close()
            raise UnsupportedStreamError(f"{self.path}: stream format version {version} is newer than this lvc "
                                         f"(reads {bs.VERSION})")
        self.info = ContainerInfo(False, Fraction(self._stream.time_base), self._stream.frames or None,
                                  self.path.stat().st_size, len(self._in.streams.audio))

    def units(self) -> Iterator[AccessUnit]:
        """Access units in order. For an elementary stream this is the whole stream as one unit."""
        if self.elementary:
            yield AccessUnit(self._data, 0, 0)
            return
        import av

        try:
            for packet in self._in.demux(self._stream):
                if packet.size == 0:  # the demuxer's end-of-stream flush packet
                    continue
                yield AccessUnit(bytes(packet), int(packet.pts or 0), int(packet.duration or 0))
        except av.error.FFmpegError as exc:
            raise CorruptStreamError(f"{self.path}: container is corrupt ({exc})") from None

    def sized_units(self) -> Iterator[tuple[bs.Unit, int]]:
        """``(unit, size in bytes)`` of every unit of every access unit, in order, validated."""
        for au in self.units():
            yield from bs.iter_sized_units(au.data, elementary=self.elementary)

    def close(self) -> None:
        if not self.elementary:
            self._in.close()

    def __enter__(self) -> ContainerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stream_info(path: str | Path) -> StreamInfo:
    """Parse every unit header of ``path`` (no pixel decoding, no torch)."""
    with ContainerReader(path) as reader:
        units = (unit for unit, _ in reader.sized_units())
        return describe(str(path), units, file_bytes=reader.info.size_bytes, elementary=reader.info.elementary,
                        audio_streams=reader.info.audio_streams)
