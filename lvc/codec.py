"""VideoEncoder / VideoDecoder: the frame loop, the reference buffer, and access units.

The encoder runs the decoder: each frame's reconstruction comes back from the codec's
``compress`` and is exactly what the decoder will produce; its CRC goes into the frame unit, so a
decoder that drifts (or reads corrupted data) says so. The sequence header is repeated before
every I-frame, so each I-frame is a random-access point.

Frame types come from :class:`lvc.gop.GopScheduler`. P-frames need a model with an inter codec
(a "video" weight file); with an intra-only model a frame the scheduler marks P is coded as I,
and the stream records what was actually coded. The reference is always the previous *decoded*
frame, held as uint8 exactly as the decoder holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from lvc import bitstream as bs
from lvc.errors import CorruptStreamError, InputError
from lvc.gop import GopScheduler, RdModeDecision, rd_lambda
from lvc.intra import DEFAULT_TILE, IntraCoder, codec_threads, to_tensor, to_uint8
from lvc.models.inter import InterCodec
from lvc.models.rd_refine import RdFlowRefiner
from lvc.models.zoo import LoadedModel, find_by_hash
from lvc.presets import DEFAULT_PRESET, get_preset
from lvc.ratecontrol import RateController


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

    def __init__(self, model: LoadedModel, *, width: int, height: int, quality: float, fps: tuple[int, int] = (25, 1),
                 time_base: tuple[int, int] = (1, 25), pixel_format: str = "rgb24", gop: int = 1,
                 scene_cuts: bool = False, tile: int = DEFAULT_TILE, device: torch.device | str = "cpu",
                 mode_decision: bool = True, preset: str = DEFAULT_PRESET, rate: RateController | None = None) -> None:
        self.levels = model.codec.y_gains.levels
        self.lambdas = model.lambdas
        self.header = bs.SequenceHeader(width=width, height=height, fps_num=fps[0], fps_den=fps[1],
                                        tb_num=time_base[0], tb_den=time_base[1], pixel_format=pixel_format,
                                        model_id=model.model_id, weight_hash=model.weight_hash, gop=gop, tile=tile)
        self.scheduler = GopScheduler(period=gop, scene_cuts=scene_cuts)
        self.intra = IntraCoder(model.codec, tile=tile, device=device)
        self.inter = model.inter
        # Where the schedule says P, also try I and keep the cheaper in RD terms (needs the model's λ).
        self.modes = RdModeDecision(model.lambdas, quality) if mode_decision and model.lambdas else None
        self.preset = get_preset(preset)
        self.rd_refiner: RdFlowRefiner | None = None
        if self.preset.rd_iters and model.inter is not None:
            if not model.lambdas:
                raise InputError(f"preset {preset!r} needs the λ the model was trained with; "
                                 f"'{model.model_id}' does not record them")
            self.rd_refiner = RdFlowRefiner(iters=self.preset.rd_iters, lr=self.preset.rd_lr)
        # With a rate controller, each frame's quality is its choice; ``quality`` is only the start.
        self.rate = rate
        self.set_quality(quality)
        self.device = torch.device(device)
        self.reference: np.ndarray | None = None
        self.flow_prev: torch.Tensor | None = None  # the last P-frame's decoded flow, as the decoder holds it
        self.frames = 0

    @property
    def inter_available(self) -> bool:
        """Whether P-frames can be coded (the model has an inter codec)."""
        return self.inter is not None

    def encode(self, rgb: np.ndarray, pts: int | None = None, duration: int = 1) -> EncodedFrame:
        """Code one frame; returns its access unit."""
        if rgb.shape != (self.header.height, self.header.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"expected a ({self.header.height}, {self.header.width}, 3) uint8 frame, "
                             f"got {rgb.shape} {rgb.dtype}")
        pts = self.frames if pts is None else pts
        wanted = self.scheduler.decide(rgb)
        if self.rate is not None:
            self.set_quality(self.rate.choose(wanted if self.inter is not None else "I"))
        if wanted == "P" and self.inter is not None and self.reference is not None:
            frame_type = "P"
            with torch.inference_mode(), codec_threads():
                x, ref = to_tensor(rgb, self.device), to_tensor(self.reference, self.device)
                c = self.inter.compress(x, ref, self.quality, flow=self._motion_search(x, ref),
                                        flow_prev=self.flow_prev, lam=self.lam)
            recon = to_uint8(c.x_hat)
            data = self._access_unit("P", c.streams, recon, pts, duration)
            # The mode decision weighs whole access units: an I-frame also carries the sequence header.
            if self.modes is not None and self.modes.worth_trying_intra((len(data), recon), rgb):
                i_streams, i_recon = self.intra.encode(rgb, self.quality)
                i_data = self._access_unit("I", i_streams, i_recon, pts, duration)
                if self.modes.prefer_intra((len(i_data), i_recon), (len(data), recon), rgb):
                    frame_type, data, recon = "I", i_data, i_recon
                    self.scheduler.restart()
        else:
            frame_type = "I"
            streams, recon = self.intra.encode(rgb, self.quality)
            data = self._access_unit("I", streams, recon, pts, duration)
            revised = None if self.rate is None else self.rate.revise_first(self.quality, len(data))
            if revised is not None:
                self.set_quality(revised)
                streams, recon = self.intra.encode(rgb, self.quality)
                data = self._access_unit("I", streams, recon, pts, duration)
        if frame_type == "I" and self.modes is not None:
            self.modes.note_intra(len(data), recon, rgb)
        if self.rate is not None:
            self.rate.update(frame_type, self.quality, len(data))
        self.reference = recon
        # The next P-frame may predict its motion from this one's (never across an I-frame).
        self.flow_prev = c.extras["flow"] if frame_type == "P" else None
        self.frames += 1
        return EncodedFrame(data, recon, frame_type, pts, duration)

    def set_quality(self, quality: float) -> None:
        """Code the next frames at ``quality`` (in [1, levels]; kept to the stream's precision)."""
        if not 1 <= quality <= self.levels:
            raise ValueError(f"quality must be in [1, {self.levels}], got {quality}")
        self.quality = bs.coded_quality(quality)
        if self.modes is not None:
            self.modes.set_quality(self.quality)
        # λ weighs the encoder's choices (motion mode, RD flow fit) in the training loss's own units.
        self.lam = rd_lambda(self.lambdas, self.quality) if self.lambdas else None

    def _access_unit(self, frame_type: str, streams: list[bytes], recon: np.ndarray, pts: int, duration: int) -> bytes:
        """The frame's bytes. The sequence header rides with I-frames only: they are the random-access
        points, and a P-frame cannot be decoded without the frames before it anyway."""
        frame = bs.Frame(frame_type, pts, duration, self.quality, bs.frame_crc(recon.tobytes()), streams)
        return (bs.pack_sequence_header(self.header) if frame_type == "I" else b"") + bs.pack_frame(frame)

    def _motion_search(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """The flow this preset codes for ``x`` against ``ref`` (encoder only; see lvc.presets)."""
        inter = self.inter
        flow = inter.estimate(x, ref, refine=self.preset.warp_fit, flow_scale=self.preset.flow_scale)
        if self.rd_refiner is not None:
            flow = self.rd_refiner(inter, x, ref, self.quality, self.lam, flow, flow_prev=self.flow_prev)
        return flow


class VideoDecoder:
    """Decodes access units, checking every frame's CRC."""

    def __init__(self, *, device: torch.device | str = "cpu",
                 load_model: Callable[[str, bytes], LoadedModel] = find_by_hash) -> None:
        self.device = device
        self.load_model = load_model
        self.header: bs.SequenceHeader | None = None
        self._intra: IntraCoder | None = None
        self._inter: InterCodec | None = None
        self.reference: np.ndarray | None = None
        self.flow_prev: torch.Tensor | None = None
        self.index = 0

    def _on_header(self, header: bs.SequenceHeader) -> None:
        old = self.header
        key = (header.model_id, header.weight_hash, header.tile)
        if old is None or key != (old.model_id, old.weight_hash, old.tile):
            model = self.load_model(header.model_id, header.weight_hash)
            self._intra = IntraCoder(model.codec, tile=header.tile, device=self.device)
            self._inter = model.inter
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
        index, self.index = self.index, self.index + 1
        if skip:
            self.reference = self.flow_prev = None
            return DecodedFrame(np.empty((0, 0, 3), np.uint8), unit.frame_type, unit.pts, unit.duration, nbytes,
                                index, unit.quality)
        extras: dict[str, np.ndarray] = {}
        flow = None
        if unit.frame_type == "I":
            rgb = intra.decode(unit.streams, header.height, header.width, unit.quality)
            parts = intra.stream_parts(unit.streams, nbytes)
        else:
            rgb, flow, extras = self._decode_p(unit, index)
            parts = self._inter.stream_parts(unit.streams, nbytes)
        if bs.frame_crc(rgb.tobytes()) != unit.recon_crc:
            raise CorruptStreamError(f"frame {index}: decoded pixels do not match the encoder's checksum "
                                     "(decoder drift or corrupted data)")
        self.reference = rgb
        self.flow_prev = flow if unit.frame_type == "P" else None
        return DecodedFrame(rgb, unit.frame_type, unit.pts, unit.duration, nbytes, index, unit.quality,
                            parts=parts, extras=extras)

    def _decode_p(self, unit: bs.Frame, index: int) -> tuple[np.ndarray, torch.Tensor, dict[str, np.ndarray]]:
        if self._inter is None:
            raise CorruptStreamError(f"frame {index} is a P-frame but model '{self.header.model_id}' "
                                     "has no inter codec")
        if self.reference is None:
            raise CorruptStreamError(f"frame {index}: P-frame without a decoded reference (stream starts mid-GOP)")
        try:
            with torch.inference_mode(), codec_threads():
                c = self._inter.decompress(unit.streams, to_tensor(self.reference, self.device), unit.quality,
                                           flow_prev=self.flow_prev)
        except ValueError as exc:
            raise CorruptStreamError(f"frame {index}: {exc}") from None
        rgb = to_uint8(c.x_hat)
        pred = to_uint8(c.extras["prediction"])
        extras = {"flow": c.extras["flow"][0].permute(1, 2, 0).float().cpu().numpy(), "prediction": pred,
                  "residual": rgb.astype(np.float32) - pred.astype(np.float32)}
        return rgb, c.extras["flow"], extras
