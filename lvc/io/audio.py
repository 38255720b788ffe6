"""The source's audio, copied packet for packet (never re-encoded) into an output, trimmed to the coded span.

Both outputs that carry audio use it: the ``.lvc`` container (``lvc encode``) and the MP4 of ``lvc
decode``. Without the trim, ``--frames 5`` of a 20-frame clip kept the whole track: 0.82 s of sound
under 0.2 s of video, and kb/s (and ``lvc compare``'s BD-rates) that counted the audio of frames that
were never coded.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path


class AudioCopy:
    """The audio streams of ``source`` added to the PyAV output container ``output``.

    ``streams="all"`` copies every audio stream, ``"first"`` only the first one. A codec the output
    cannot hold is left out (``count`` says how many are copied). :meth:`copy` muxes the packets that
    overlap a time span, with their timestamps unchanged, so the audio stays in sync with video whose
    pts are the source's.
    """

    def __init__(self, source: str | Path, output, *, streams: str = "all") -> None:  # noqa: ANN001 - av container
        import av

        self.source = str(source)
        self._map: dict[int, object] = {}
        with av.open(self.source) as src:
            candidates = list(src.streams.audio)[: 1 if streams == "first" else None]
            for a in candidates:
                try:
                    self._map[a.index] = output.add_stream_from_template(a)
                except (ValueError, av.error.FFmpegError):
                    continue  # a codec this container cannot hold: dropped
        self._output = output

    @property
    def count(self) -> int:
        """Number of audio streams being copied."""
        return len(self._map)

    def _packets(self, start: float | None, end: float | None):  # noqa: ANN202 - yields av.Packet
        """The source's audio packets whose span overlaps ``[start, end)`` seconds (None: unbounded)."""
        import av

        with av.open(self.source) as src:
            streams = [s for s in src.streams.audio if s.index in self._map]
            if not streams:
                return
            for packet in src.demux(*streams):
                if packet.dts is None:  # the demuxer's end-of-stream flush packet
                    continue
                tb = packet.time_base or streams[0].time_base
                t0 = float(Fraction(packet.pts if packet.pts is not None else packet.dts) * tb)
                t1 = t0 + float(Fraction(packet.duration or 0) * tb) if packet.duration else None
                before = start is not None and (t1 <= start if t1 is not None else t0 < start)
                if before or (end is not None and t0 >= end):
                    continue
                yield packet

    def bytes(self, start: float | None = None, end: float | None = None) -> int:
        """Bytes of the packets that :meth:`copy` would mux for the same span (a demux pass, no decoding)."""
        return sum(p.size for p in self._packets(start, end))

    def copy(self, start: float | None = None, end: float | None = None) -> None:
        """Mux the packets overlapping ``[start, end)`` seconds into the output."""
        for packet in self._packets(start, end):
            packet.stream = self._map[packet.stream.index]
            self._output.mux(packet)


def span_seconds(first_pts: int | None, last_end: int | None, time_base: Fraction) -> tuple[float | None, float | None]:
    """``[start, end)`` in seconds of the frames written, from their first pts and last pts + duration."""
    if first_pts is None or last_end is None:
        return None, None
    return float(first_pts * time_base), float(last_end * time_base)
