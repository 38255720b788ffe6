"""VideoEncoder / VideoDecoder: the frame loop, the reference buffer, and access units.

The encoder runs the decoder: each frame's reconstruction comes back from the codec's
``compress`` and is exactly what the decoder will produce; its CRC goes into the frame unit, so a
decoder that drifts (or reads corrupted data) says so. The sequence header is repeated before
every I-frame, so each I-frame is a random-access point.

Frame types come from :class:`lvc.gop.GopScheduler`. This build ships no inter model yet, so a
frame the scheduler marks P is coded as I (``inter_available`` is False) and the stream records
what was actually coded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from lvc import bitstream as bs
from lvc.errors import CorruptStreamError
from lvc.gop import GopScheduler
from lvc.intra import DEFAULT_TILE, IntraCoder
from lvc.models.zoo import LoadedModel, find_by_hash


@dataclass
class EncodedFrame:
    """One access unit and the encoder's reconstruction of it."""

    data: bytes
    recon: np.ndarray
    frame_type: str
    pts: int
    duration: int


@dataclass
class DecodedFrame:
    """A decoded frame with its timing, type and size in the stream.

    ``parts`` splits ``nbytes`` by what the bytes code (``header``, ``hyper``, ``latent``; P-frames
    will add ``motion`` and ``residual``). ``extras`` holds the decoder's intermediates for
    inspection (for P-frames: flow, prediction, residual); I-frames have none.
    """

    rgb: np.ndarray
    frame_type: str
    pts: int
    duration: int
    nbytes: int
    index: int
    quality: float
    parts: dict[str, int] = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)


class VideoEncoder:
    """Encodes RGB frames (H, W, 3) uint8 into access units."""

    inter_available = False

    def __init__(self, model: LoadedModel, *, width: int, height: int, quality: float, fps: tuple[int, int] = (25, 1),
                 time_base: tuple[int, int] = (1, 25), pixel_format: str = "rgb24", gop: int = 1,
                 scene_cuts: bool = False, tile: int = DEFAULT_TILE, device: torch.device | str = "cpu") -> None:
        levels = model.codec.y_gains.levels
        if not 1 <= quality <= levels:
            raise ValueError(f"quality must be in [1, {levels}], got {quality}")
        self.quality = float(quality)
        self.header = bs.SequenceHeader(width=width, height=height, fps_num=fps[0], fps_den=fps[1],
                                        tb_num=time_base[0], tb_den=time_base[1], pixel_format=pixel_format,
                                        model_id=model.model_id, weight_hash=model.weight_hash, gop=gop, tile=tile)
        self.scheduler = GopScheduler(period=gop, scene_cuts=scene_cuts)
        self.intra = IntraCoder(model.codec, tile=tile, device=device)
        self.frames = 0

    def encode(self, rgb: np.ndarray, pts: int | None = None, duration: int = 1) -> EncodedFrame:
        """Code one frame; returns its access unit."""
        if rgb.shape != (self.header.height, self.header.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"expected a ({self.header.height}, {self.header.width}, 3) uint8 frame, "
                             f"got {rgb.shape} {rgb.dtype}")
        pts = self.frames if pts is None else pts
        wanted = self.scheduler.decide(rgb)
        frame_type = wanted if self.inter_available else "I"
        streams, recon = self.intra.encode(rgb, self.quality)
        frame = bs.Frame(frame_type, pts, duration, self.quality, bs.frame_crc(recon.tobytes()), streams)
        self.frames += 1
        data = bs.pack_sequence_header(self.header) + bs.pack_frame(frame)
        return EncodedFrame(data, recon, frame_type, pts, duration)


class VideoDecoder:
    """Decodes access units, checking every frame's CRC."""

    def __init__(self, *, device: torch.device | str = "cpu",
                 load_model: Callable[[str, bytes], LoadedModel] = find_by_hash) -> None:
        self.device = device
        self.load_model = load_model
        self.header: bs.SequenceHeader | None = None
        self._intra: IntraCoder | None = None
        self.index = 0

    def _on_header(self, header: bs.SequenceHeader) -> None:
        old = self.header
        if old is None or (header.model_id, header.weight_hash, header.tile) != (old.model_id, old.weight_hash, old.tile):
            self._intra = IntraCoder(self.load_model(header.model_id, header.weight_hash).codec, tile=header.tile,
                                     device=self.device)
        self.header = header

    def decode_units(self, units: Iterable[tuple[bs.Unit, int]], skip: bool = False) -> Iterator[DecodedFrame]:
        """Frames of ``(unit, size)`` pairs. ``skip`` parses without decoding pixels (seeking to an
        I-frame; the frames it yields have empty ``rgb``)."""
        pending = 0  # bytes of headers that belong to the next frame
        for unit, size in units:
            if isinstance(unit, bs.SequenceHeader):
                self._on_header(unit)
                pending += size
            elif isinstance(unit, bs.Frame):
                yield self._decode_frame(unit, size + pending, skip)
                pending = 0

    def _decode_frame(self, unit: bs.Frame, nbytes: int, skip: bool) -> DecodedFrame:
        header, intra = self.header, self._intra
        if header is None or intra is None:
            raise CorruptStreamError("frame before any sequence header")
        if unit.frame_type != "I":
            raise CorruptStreamError(f"frame {self.index}: P-frames need an inter model this lvc does not have")
        index, self.index = self.index, self.index + 1
        if skip:
            rgb = np.empty((0, 0, 3), np.uint8)
        else:
            rgb = intra.decode(unit.streams, header.height, header.width, unit.quality)
            if bs.frame_crc(rgb.tobytes()) != unit.recon_crc:
                raise CorruptStreamError(f"frame {index}: decoded pixels do not match the encoder's checksum "
                                         "(decoder drift or corrupted data)")
        return DecodedFrame(rgb, unit.frame_type, unit.pts, unit.duration, nbytes, index, unit.quality,
                            parts=intra.stream_parts(unit.streams, nbytes))
