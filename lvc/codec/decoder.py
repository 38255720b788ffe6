"""VideoDecoder: the decoding frame loop, checking every frame's CRC.

It holds what the decoder must hold and nothing more: the sequence header, the frame coders of the
model it names, the previous decoded frame (uint8, exactly as the encoder held it) and the last
P-frame's decoded flow. What ``lvc inspect`` also wants (the byte split of each frame, and the flow,
prediction and residual of P-frames) is built only when the decoder is asked for ``intermediates``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from lvc.codec.frame_coder import DecodedPicture
from lvc.codec.inter import InterCoder
from lvc.codec.intra import IntraCoder
from lvc.errors import CorruptStreamError
from lvc.format import bitstream as bs
from lvc.models.zoo import LoadedModel, find_by_hash


@dataclass
class DecodedFrame:
    """A decoded frame with its timing, type and size in the stream.

    With ``intermediates``: ``parts`` splits ``nbytes`` by what the bytes code (``header``, ``hyper``,
    ``latent``; P-frames ``motion`` and ``residual``), ``motion`` says how a P-frame's flow was coded
    (``fresh``, ``global``, ``zero``, ... see :meth:`lvc.codec.inter.InterCoder.motion_label`), and
    ``extras`` holds the decoder's intermediates for P-frames (flow, prediction, residual); otherwise
    all three are empty.
    """

    rgb: np.ndarray
    frame_type: str
    pts: int
    duration: int
    nbytes: int
    index: int
    quality: float
    parts: dict[str, int] = field(default_factory=dict)
    motion: str = ""
    extras: dict[str, np.ndarray] = field(default_factory=dict)


class VideoDecoder:
    """Decodes access units into frames. ``load_model`` finds the model a sequence header names."""

    def __init__(self, *, device: torch.device | str = "cpu",
                 load_model: Callable[[str, bytes], LoadedModel] = find_by_hash, intermediates: bool = False) -> None:
        self.device = device
        self.load_model = load_model
        self.intermediates = intermediates
        self.header: bs.SequenceHeader | None = None
        self._intra: IntraCoder | None = None
        self._inter: InterCoder | None = None
        self.reference: np.ndarray | None = None
        self.flow_prev: torch.Tensor | None = None
        self.index = 0

    def _on_header(self, header: bs.SequenceHeader) -> None:
        old = self.header
        key = (header.model_id, header.weight_hash, header.tile)
        if old is None or key != (old.model_id, old.weight_hash, old.tile):
            model = self.load_model(header.model_id, header.weight_hash)
            self._intra = IntraCoder(model.codec, tile=header.tile, device=self.device)
            self._inter = None if model.inter is None else InterCoder(model.inter, device=self.device)
        self.header = header

    def decode_units(self, units: Iterable[tuple[bs.Unit, int]], *, first: int = 0) -> Iterator[DecodedFrame]:
        """Frames of ``(unit, size)`` pairs. Frames numbered below ``first`` are parsed without decoding
        pixels (seeking to an I-frame; the frames it yields for them have empty ``rgb``)."""
        pending = 0  # bytes of headers that belong to the next frame
        for unit, size in units:
            if isinstance(unit, bs.SequenceHeader):
                self._on_header(unit)
                pending += size
            elif isinstance(unit, bs.Frame):
                yield self._decode_frame(unit, size + pending, self.index < first)
                pending = 0

    def _decode_frame(self, unit: bs.Frame, nbytes: int, skip: bool) -> DecodedFrame:
        header, intra = self.header, self._intra
        if header is None or intra is None:
            raise CorruptStreamError("frame before any sequence header")
        index, self.index = self.index, self.index + 1
        if skip:
            self.reference = self.flow_prev = None
            return DecodedFrame(np.empty((0, 0, 3), np.uint8), unit.frame_type, unit.pts, unit.duration, nbytes,
                                index, unit.quality)
        if unit.frame_type == "I":
            coder = intra
            picture = intra.decompress(unit.streams, unit.quality, height=header.height, width=header.width)
        else:
            coder = self._inter_coder(index)
            picture = self._decode_p(coder, unit, index)
        if bs.frame_crc(picture.rgb.tobytes()) != unit.recon_crc:
            raise CorruptStreamError(f"frame {index}: decoded pixels do not match the encoder's checksum "
                                     "(decoder drift or corrupted data)")
        self.reference = picture.rgb
        self.flow_prev = picture.flow if unit.frame_type == "P" else None
        parts = coder.stream_parts(unit.streams, nbytes) if self.intermediates else {}
        motion = coder.motion_label(unit.streams, unit.quality) if self.intermediates and coder is not intra else ""
        return DecodedFrame(picture.rgb, unit.frame_type, unit.pts, unit.duration, nbytes, index, unit.quality,
                            parts=parts, motion=motion, extras=picture.intermediates)

    def _inter_coder(self, index: int) -> InterCoder:
        if self._inter is None:
            raise CorruptStreamError(f"frame {index} is a P-frame but model '{self.header.model_id}' "
                                     "has no inter codec")
        if self.reference is None:
            raise CorruptStreamError(f"frame {index}: P-frame without a decoded reference (stream starts mid-GOP)")
        return self._inter

    def _decode_p(self, coder: InterCoder, unit: bs.Frame, index: int) -> DecodedPicture:
        try:
            return coder.decompress(unit.streams, unit.quality, reference=self.reference, flow_prev=self.flow_prev,
                                    intermediates=self.intermediates)
        except ValueError as exc:
            raise CorruptStreamError(f"frame {index}: {exc}") from None
