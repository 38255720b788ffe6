"""Stream facts for ``lvc info`` and ``lvc.info()``, from the units' headers alone (no decoding, no torch).

The facts are a pure function of the units and of what the container says about the file;
:func:`lvc.io.container.stream_info` reads a file and calls :func:`describe`.

(Not named ``lvc/info.py``: a submodule ``lvc.info`` would replace the function ``lvc.info`` on the
package as soon as anything imported it.)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from collections.abc import Iterable

from lvc import rates
from lvc.errors import CorruptStreamError
from lvc.format import bitstream as bs


@dataclass(frozen=True)
class StreamInfo:
    """What ``lvc info`` prints."""

    path: str
    file_bytes: int
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frames: int
    frame_types: str
    gop: int
    model_id: str
    weight_hash: str
    quality: float
    pixel_format: str
    tile: int
    duration_s: float
    audio_streams: int
    container: str

    @property
    def is_still(self) -> bool:
        """One image, stored as a bare stream: frame rate, GOP and bitrate mean nothing for it."""
        return self.container == "elementary" and self.frames == 1

    @property
    def bitrate_kbps(self) -> float:
        return rates.kbps_over(self.file_bytes, self.duration_s)

    @property
    def bpp(self) -> float:
        return rates.bpp(self.file_bytes, self.height, self.width, self.frames)


def describe(path: str, units: Iterable[bs.Unit], *, file_bytes: int, elementary: bool,
             audio_streams: int) -> StreamInfo:
    """The facts of the stream whose units are ``units`` (``path`` and the rest: what the container says)."""
    header: bs.SequenceHeader | None = None
    types: list[str] = []
    qualities: list[float] = []
    first_pts = last_end = None
    for unit in units:
        if isinstance(unit, bs.SequenceHeader):
            header = header or unit
        elif isinstance(unit, bs.Frame):
            types.append(unit.frame_type)
            qualities.append(unit.quality)
            first_pts = unit.pts if first_pts is None else first_pts
            last_end = unit.pts + unit.duration
    if header is None or not types:
        raise CorruptStreamError(f"{path}: stream holds no frames")
    fps = Fraction(header.fps_num, header.fps_den)
    tb = Fraction(header.tb_num, header.tb_den)
    duration = float((last_end - first_pts) * tb) if last_end and last_end > first_pts else len(types) / float(fps)
    return StreamInfo(path=path, file_bytes=file_bytes, width=header.width, height=header.height,
                      fps=fps, time_base=tb, frames=len(types), frame_types="".join(types), gop=header.gop,
                      model_id=header.model_id,
                      weight_hash=header.weight_hash.hex(), quality=sum(qualities) / len(qualities),
                      pixel_format=header.pixel_format, tile=header.tile, duration_s=duration,
                      audio_streams=audio_streams, container="elementary" if elementary else "mp4")
