"""Path-level API: ``encode``, ``decode``, ``iter_decode`` and ``info``. The CLI is a thin layer on it.

Importing this module does not load torch: the codec is imported only after the inputs, outputs and
options have been checked, so a mistake costs a fraction of a second instead of torch's start-up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from lvc import rates, weights
from lvc.codec.hierarchy import INTRA_BOOST, P_OFFSETS, QualityHierarchy
from lvc.codec.presets import DEFAULT_PRESET, PRESETS
from lvc.errors import InputError
from lvc.format import bitstream as bs
from lvc.format.stream_info import StreamInfo
from lvc.io.container import AccessUnit, ContainerReader, ContainerWriter, stream_info
from lvc.io.files import check_input, check_output
from lvc.io.video import FrameWriter, MediaInfo, SourceFrame, check_output_type, open_media, open_writer
from lvc.progress import Progress

if TYPE_CHECKING:
    from lvc.codec.decoder import DecodedFrame
    from lvc.codec.ratecontrol import RateController
    from lvc.models.zoo import LoadedModel

DEFAULT_GOP = 12  # intra period; a model without an inter codec codes every frame as I
info = stream_info


@dataclass(frozen=True)
class Summary(rates.Rated):
    """What one encode or decode did."""

    bytes_field: ClassVar[str] = "bytes"
    frames: int
    bytes: int
    width: int
    height: int
    fps: float
    seconds: float
    psnr: float | None = None  # mean RGB PSNR of the reconstruction, when the source is known

    def line(self) -> str:
        """The one summary line the CLI prints."""
        text = (f"{self.frames} frame{'s' * (self.frames != 1)}, {self.bytes} bytes, {self.bpp:.4f} bpp, "
                f"{self.kbps:.1f} kb/s, {self.width}x{self.height}, {self.frames / max(self.seconds, 1e-9):.2f} fps")
        return text + (f", PSNR {self.psnr:.2f} dB" if self.psnr is not None else "")


def _select(frames: Iterator[SourceFrame], time_base: Fraction, start: float | None,
            count: int | None) -> Iterator[SourceFrame]:
    taken = 0
    for f in frames:
        if start is not None and float(f.pts * time_base) + 1e-9 < start:
            continue
        if count is not None and taken >= count:
            break
        taken += 1
        yield f


def encode(input: str | Path, output: str | Path, *, quality: float | None = None, gop: int = DEFAULT_GOP,
           scene_cuts: bool = False, frames: int | None = None, start: float | None = None,
           recon: str | Path | None = None, model: str | LoadedModel | None = None, device: str = "cpu",
           overwrite: bool = False, progress: bool = False, mode_decision: bool = True,
           preset: str = DEFAULT_PRESET, bitrate: float | None = None, size: int | None = None,
           audio: bool = True, intra_boost: float | None = None,
           p_offsets: tuple[float, ...] | None = None) -> Summary:
    """Encode any image or video PyAV reads into an ``.lvc`` file.

    A single still image becomes a bare elementary stream; anything else an MP4 with the source's
    timing and audio. ``recon`` writes the encoder's reconstruction (PNG, y4m or mp4 by suffix).
    ``model`` defaults to the shipped video model (the image model for a still). ``mode_decision``
    lets the encoder code a frame the GOP schedule marks P as I where that costs less (RD).
    ``preset`` trades encoding time for bits (``lvc.codec.presets``); the decoder does not depend on it.
    ``quality`` is 4 by default. ``bitrate`` (bits per second) or ``size`` (bytes of the whole output
    file) turn on rate control (``lvc.codec.ratecontrol``): each frame's quality is then chosen to meet
    it, and ``quality``, if given, is only the first frame's. ``audio`` copies the source's audio
    that overlaps the coded frames (``False``: none). ``intra_boost`` (default
    ``lvc.codec.hierarchy.INTRA_BOOST``) codes each GOP's I-frame that many quality steps above
    its P-frames, and ``p_offsets`` (default ``lvc.codec.hierarchy.P_OFFSETS``; ``()``: none) moves the
    first, second, ... P-frame after it by these steps, in a cycle; streams without P-frames code
    every frame at ``quality``.
    """
    check_input(input)
    out = check_output(output, overwrite, (input,))
    if recon is not None:
        check_output(recon, overwrite, (input,))
        check_output_type(recon)
    if quality is not None and not 1 <= quality <= 8:
        raise InputError(f"quality must be between 1 and 8, got {quality}")
    if frames is not None and frames < 1:
        raise InputError(f"--frames must be at least 1, got {frames}")
    if intra_boost is not None and not 0 <= intra_boost <= 7:
        raise InputError(f"the I-frame boost must be between 0 and 7 quality steps, got {intra_boost}")
    try:
        hierarchy = QualityHierarchy(INTRA_BOOST if intra_boost is None else intra_boost,
                                     P_OFFSETS if p_offsets is None else tuple(p_offsets))
    except ValueError as e:
        raise InputError(f"P-frame quality offsets: {e}") from None
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if bitrate is not None and size is not None:
        raise InputError("give a bitrate or a size, not both")
    if bitrate is not None and bitrate <= 0 or size is not None and size <= 0:
        raise InputError(f"the rate target must be positive, got {bitrate if size is None else size}")
    src, source = open_media(input)
    rate_control = bitrate is not None or size is not None
    total = None if src.frames is None else min(src.frames, frames or src.frames)
    fps = Fraction(src.fps)
    try:
        if rate_control and src.is_still:
            raise InputError(f"{input}: rate control is for video; code a still image with a quality (-q)")
        if size is not None and total is None:
            raise InputError(f"{input}: the container does not say how many frames it has, so --size cannot "
                             "be shared out; use --bitrate")
        model_id = None  # a LoadedModel is already built
        if model is None or isinstance(model, str):
            model_id = model or weights.default_model_id(src.is_still)
            weights.model_path(model_id)  # a model that is not installed is refused here, before torch
        # Everything the user can get wrong has been checked by now: only here does torch load.
        from lvc.codec.encoder import build_encoder
        from lvc.metrics import psnr as psnr_fn
        from lvc.models.zoo import load_image_model

        loaded = model if model_id is None else load_image_model(model_id)
    except BaseException:
        source.close()
        raise
    # The output appears only now, when everything that can refuse the job has accepted it.
    writer = ContainerWriter(out, time_base=src.time_base, elementary=src.is_still,
                             audio_from=None if src.is_still or not audio else input)
    try:
        rate = None
        if rate_control:
            audio_bytes = 0
            if size is not None:  # a demux pass: only --size needs it; the audio of the frames to be coded
                first = max(start or 0.0, src.start_time)
                audio_bytes = writer.audio_bytes(first, first + total / float(fps))
            rate = _rate_controller(src, loaded, quality, gop, total, bitrate, size, audio_bytes, hierarchy)
        enc = build_encoder(loaded, width=src.width, height=src.height, quality=quality or 4.0,
                            fps=(fps.numerator, fps.denominator),
                            time_base=(src.time_base.numerator, src.time_base.denominator),
                            pixel_format=src.pixel_format, gop=gop, scene_cuts=scene_cuts, device=device,
                            mode_decision=mode_decision, preset=preset, rate=rate, hierarchy=hierarchy)
    except BaseException:
        writer.abort()
        source.close()
        raise
    bar = Progress(total=None if src.is_still else total, fps=float(fps), label="encode",
                   enabled=progress and not src.is_still)
    recon_writer: FrameWriter | None = None
    psnrs: list[float] = []
    t0 = time.perf_counter()
    try:
        for f in _select(source, src.time_base, start, frames):
            coded = enc.encode(f.rgb, f.pts, f.duration)
            writer.write(AccessUnit(coded.data, coded.pts, coded.duration))
            psnrs.append(psnr_fn(f.rgb, coded.recon))
            if recon is not None:
                if recon_writer is None:
                    recon_writer = open_writer(recon, width=src.width, height=src.height, fps=fps,
                                               time_base=src.time_base, source_pixel_format=src.pixel_format)
                recon_writer.write(coded.recon, coded.pts, coded.duration)
            bar.update(len(coded.data))
        if not psnrs:
            raise InputError(f"{input}: no frames in the selected range")
        writer.close()
        if recon_writer is not None:
            recon_writer.close()
    except BaseException:
        writer.abort()
        if recon_writer is not None:
            recon_writer.abort()
        raise
    finally:
        source.close()
        bar.close()
    return Summary(frames=len(psnrs), bytes=out.stat().st_size, width=src.width, height=src.height, fps=float(fps),
                   seconds=time.perf_counter() - t0, psnr=rates.mean_finite(psnrs))


# Measured: MP4 boxes around the data stream cost ~740 bytes plus ~4 per frame (rounded up here).
MP4_OVERHEAD_BYTES, MP4_BYTES_PER_FRAME = 800, 8


def _rate_controller(src: MediaInfo, model: LoadedModel, quality: float | None, gop: int, frames: int | None,
                     bitrate: float | None, size: int | None, audio_bytes: int,
                     hierarchy: QualityHierarchy) -> RateController:
    """The controller for ``bitrate`` (bits/s) or ``size`` (bytes of the file, audio and MP4 boxes included)."""
    from lvc.codec.ratecontrol import RateController

    if size is not None and frames is not None:
        boxes = MP4_OVERHEAD_BYTES + MP4_BYTES_PER_FRAME * frames
        video = size - audio_bytes - boxes
        if video <= 0:
            raise InputError(f"--size {size} bytes leaves nothing for the video (the copied audio is "
                             f"{audio_bytes} bytes, the container ~{boxes})")
        target = video * 8 / frames
    else:
        target = bitrate / float(src.fps)
    has_p = model.inter is not None and gop > 1
    return RateController(target_bits=target, pixels=src.width * src.height, gop=gop if model.inter else 1,
                          frames=frames, quality=quality, q_max=model.codec.y_gains.levels,
                          hierarchy=hierarchy if has_p else QualityHierarchy.flat())


def _scan(input: str | Path, start: float | None) -> tuple[bs.SequenceHeader | None, int]:
    """The stream's first sequence header (``None`` when it holds none) and the index of the last I-frame
    at or before ``start`` seconds (0 without ``start``), in one pass over the unit headers."""
    header, index, chosen, tb = None, 0, 0, Fraction(1)
    with ContainerReader(input) as reader:
        for unit, _ in reader.sized_units():
            if isinstance(unit, bs.SequenceHeader):
                header = header or unit
                tb = Fraction(unit.tb_num, unit.tb_den)
                if start is None:
                    break
            elif isinstance(unit, bs.Frame):
                if float(unit.pts * tb) > start + 1e-9:
                    break
                if unit.frame_type == "I":
                    chosen = index
                index += 1
    return header, chosen


def check_weights(model_id: str, weight_hash: bytes, model: LoadedModel | None = None) -> None:
    """Refuse, without torch, a stream whose weights (``model_id``, ``weight_hash``) are neither ``model``
    nor installed with that hash (``lvc.weights.stream_weights`` says which)."""
    if model is None or (model.model_id, model.weight_hash) != (model_id, weight_hash):
        weights.stream_weights(model_id, weight_hash)


def iter_decode(input: str | Path, *, frames: int | None = None, start: float | None = None, device: str = "cpu",
                model: LoadedModel | None = None, intermediates: bool = False) -> Iterator[DecodedFrame]:
    """Decoded frames of an ``.lvc`` file, in order; they stream, so memory does not grow with the clip.

    ``start`` (seconds) begins at the last I-frame at or before it (a random-access point; frames
    before it are parsed but not decoded); ``frames`` limits the count. ``intermediates`` also fills
    each frame's byte split and P-frame intermediates (``DecodedFrame.parts`` and ``extras``).
    """
    header, first = _scan(input, start)
    if header is not None:  # without one, the decoder reports the stream
        check_weights(header.model_id, header.weight_hash, model)
    return _decoded(input, first=first, frames=frames, device=device, model=model, intermediates=intermediates)


def _decoded(input: str | Path, *, first: int, frames: int | None, device: str, model: LoadedModel | None,
             intermediates: bool) -> Iterator[DecodedFrame]:
    """:func:`iter_decode` once the stream's weights are checked: frames from index ``first`` on."""
    from lvc.codec.decoder import VideoDecoder
    from lvc.models.zoo import find_by_hash

    decoder = VideoDecoder(device=device, load_model=lambda mid, whash: find_by_hash(mid, whash, model),
                           intermediates=intermediates)
    with ContainerReader(input) as reader:
        decoded = decoder.decode_units(reader.sized_units(), first=first)
        emitted = 0
        while frames is None or emitted < frames:  # checked before the next frame is decoded, not after
            frame = next(decoded, None)
            if frame is None:
                return
            if frame.index < first:  # parsed, not decoded: before the random-access point
                continue
            emitted += 1
            yield frame


def decode(input: str | Path, output: str | Path, *, frames: int | None = None, start: float | None = None,
           device: str = "cpu", overwrite: bool = False, progress: bool = False, lossless: bool = False) -> Summary:
    """Decode an ``.lvc`` file to ``output``: ``.png`` (one image), a folder or ``%d`` pattern of PNGs,
    ``.y4m``, ``-`` (y4m on stdout) or ``.mp4`` with the original audio.

    An ``.mp4`` is for viewing by default (x264 CRF 18, YUV 4:2:0; 4:4:4 at an odd size); ``lossless``
    makes it the decoded RGB exactly (libx264rgb at qp 0). PNGs are always exact.
    """
    if frames is not None and frames < 1:
        raise InputError(f"--frames must be at least 1, got {frames}")
    check_input(input, "an .lvc file")
    out = check_output(output, overwrite, (input,))
    check_output_type(out, lossless)
    st = stream_info(input)
    check_weights(st.model_id, bytes.fromhex(st.weight_hash))  # before the output is opened
    first = 0 if start is None else _scan(input, start)[1]
    writer = open_writer(out, width=st.width, height=st.height, fps=st.fps,
                         time_base=st.time_base, source_pixel_format=st.pixel_format,
                         audio_from=input if st.audio_streams else None, lossless=lossless)
    bar = Progress(total=min(st.frames, frames or st.frames), fps=float(st.fps), label="decode",
                   enabled=progress and st.frames > 1)
    t0 = time.perf_counter()
    n = nbytes = 0
    try:
        for frame in _decoded(input, first=first, frames=frames, device=device, model=None, intermediates=False):
            writer.write(frame.rgb, frame.pts, frame.duration)
            n += 1
            nbytes += frame.nbytes
            bar.update(frame.nbytes)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
    return Summary(frames=n, bytes=nbytes, width=st.width, height=st.height, fps=float(st.fps),
                   seconds=time.perf_counter() - t0)


__all__ = ["DEFAULT_GOP", "StreamInfo", "Summary", "check_weights", "decode", "encode", "info", "iter_decode"]
