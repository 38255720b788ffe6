"""Reading any input PyAV understands as RGB frames with timing, and writing decoded frames."""

from __future__ import annotations

import heapq
import os
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from lvc.errors import InputError
from lvc.io.files import AtomicOutput, check_input, is_pattern, pattern_files, temp_path


@dataclass(frozen=True)
class MediaInfo:
    """What the encoder needs to know about an input before its first frame."""

    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frames: int | None  # None when the container does not say
    pixel_format: str
    is_still: bool
    start_time: float = 0.0  # seconds: the first frame's pts (a cut clip need not start at 0)


@dataclass
class SourceFrame:
    """One decoded input frame, (H, W, 3) uint8 RGB."""

    rgb: np.ndarray
    pts: int
    duration: int


def open_media(path: str | Path) -> tuple[MediaInfo, Iterator[SourceFrame]]:
    """Probe ``path`` and return its info and a lazy iterator over its frames."""
    import av

    path = Path(path)
    check_input(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable image or video ({_reason(exc)})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: has no video stream")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if not ctx.width or not ctx.height:
        container.close()
        raise InputError(f"{path}: not a readable image or video (no picture size; corrupt or unsupported)")
    fps = stream.average_rate or stream.guessed_rate or Fraction(25)
    time_base = stream.time_base or Fraction(1, int(round(fps)) or 25)
    image_formats = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "tiff_pipe", "webp_pipe", "ppm_pipe", "pgm_pipe",
                     "pam_pipe", "gif", "qoi_pipe"}
    sequence = is_pattern(path) and not path.exists()  # frames/%04d.png: the image2 demuxer reads every match
    still = container.format.name in image_formats and (stream.frames or 1) <= 1 and not sequence
    frames = stream.frames or (len(pattern_files(path)) if sequence else None)
    if frames is None and container.duration and fps:  # y4m and raw streams: estimate from the duration
        frames = max(1, round(container.duration / 1_000_000 * float(fps)))
    source = _in_order(_frames(container, stream, path, fps, time_base))
    first = next(source)  # decoded now: it gives the displayed size (rotation applied) and fails early
    info = MediaInfo(width=first.rgb.shape[1], height=first.rgb.shape[0], fps=Fraction(fps),
                     time_base=Fraction(time_base), frames=frames, pixel_format=ctx.pix_fmt or "unknown",
                     is_still=still, start_time=float(first.pts * Fraction(time_base)))
    return info, _chain(first, source)


def _chain(first: SourceFrame, rest: Iterator[SourceFrame]) -> Iterator[SourceFrame]:
    try:
        yield first
        yield from rest
    finally:
        rest.close()


PTS_REORDER = 4  # frames of lookahead that :func:`_in_order` pools timestamps over


def _in_order(frames: Generator[SourceFrame, None, None], depth: int = PTS_REORDER) -> Iterator[SourceFrame]:
    """``frames`` with increasing pts. Some files label decoded frames with their decode-order timestamps
    (MPEG-4 Part 2 with B-frames in AVI: 1, 2, 3, 5, 4, 6, 8, 7, …): the pictures come in display
    order, their pts are a permutation of the right ones, and a muxer refuses pts that go back. The pts
    of the next ``depth`` frames are pooled and each frame takes the smallest; what is still out of
    order after that is pushed one tick past the previous frame."""
    pending: deque[SourceFrame] = deque()
    pool: list[int] = []
    last: int | None = None

    def take(frame: SourceFrame) -> SourceFrame:
        nonlocal last
        pts = heapq.heappop(pool)
        last = pts if last is None or pts > last else last + 1
        return frame if frame.pts == last else replace(frame, pts=last)

    try:
        for frame in frames:
            pending.append(frame)
            heapq.heappush(pool, frame.pts)
            if len(pending) > depth:
                yield take(pending.popleft())
        while pending:
            yield take(pending.popleft())
    finally:
        frames.close()


def _frames(container, stream, path: Path, fps: Fraction, time_base: Fraction) -> Iterator[SourceFrame]:  # noqa: ANN001
    default_duration = max(1, int(round(1 / (fps * time_base)))) if fps and time_base else 1
    index = 0
    # Resolved now: a generator left open is closed at interpreter exit, when imports no longer work.
    errors = av_errors()
    try:
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24")
            if frame.rotation % 360:  # display matrix (phone video): rotate counter-clockwise as displayed
                rgb = np.ascontiguousarray(np.rot90(rgb, k=int(frame.rotation) // 90))
            pts = frame.pts if frame.pts is not None else index * default_duration
            duration = getattr(frame, "duration", None) or default_duration
            index += 1
            yield SourceFrame(rgb=rgb, pts=int(pts), duration=int(duration))
    except errors as exc:
        raise InputError(f"{path}: decoding failed at frame {index} ({_reason(exc)})") from None
    finally:
        container.close()
    if index == 0:
        raise InputError(f"{path}: contains no decodable frames")


def av_errors() -> tuple[type[BaseException], ...]:
    import av

    return (av.error.FFmpegError, ValueError)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def read_image(path: str | Path) -> np.ndarray:
    """The first frame of ``path`` as (H, W, 3) uint8 RGB."""
    _, frames = open_media(path)
    try:
        return next(frames).rgb
    finally:
        frames.close()


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write ``rgb`` (H, W, 3) uint8 as PNG (atomically: temp file, then rename)."""
    from PIL import Image

    path = Path(path)
    tmp = temp_path(path)
    try:
        Image.fromarray(rgb, "RGB").save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------- writers
class FrameWriter(AtomicOutput):
    """Writes RGB frames somewhere; ``close()`` publishes, ``abort()`` leaves nothing behind."""

    def write(self, rgb: np.ndarray, pts: int, duration: int) -> None:
        raise NotImplementedError


def _yuv_planes(rgb: np.ndarray, pix_fmt: str) -> bytes:
    """RGB -> planar YUV bytes (swscale, BT.601 limited range as ffmpeg's default), no row padding."""
    import av

    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format=pix_fmt)
    out = bytearray()
    for plane in frame.planes:
        w, h = plane.width, plane.height
        buf = np.frombuffer(plane, dtype=np.uint8).reshape(h, plane.line_size)[:, :w]
        out += buf.tobytes()
    return bytes(out)


Y4M_CHROMA = {"yuv420p": "420jpeg", "yuv444p": "444"}


class Y4mWriter(FrameWriter):
    """YUV4MPEG2 to a file or to stdout (``-``), in 4:2:0 (default) or 4:4:4."""

    def __init__(self, path: str | Path, *, width: int, height: int, fps: Fraction, pix_fmt: str = "yuv420p") -> None:
        self.stdout = str(path) == "-"
        self.path = Path(path)
        self.pix_fmt = pix_fmt
        if self.stdout:
            import sys

            self._f = sys.stdout.buffer
        else:
            self.tmp = temp_path(self.path)
            self._f = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        fps = Fraction(fps).limit_denominator(1 << 30)
        self._f.write(f"YUV4MPEG2 W{width} H{height} F{fps.numerator}:{fps.denominator} Ip A1:1 "
                      f"C{Y4M_CHROMA[pix_fmt]}\n".encode())

    def write(self, rgb: np.ndarray, pts: int, duration: int) -> None:
        self._f.write(b"FRAME\n")
        self._f.write(_yuv_planes(rgb, self.pix_fmt))

    def close(self) -> None:
        self._f.flush()
        if not self.stdout:
            self._f.close()
            os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if not self.stdout:
            self._f.close()
            self.tmp.unlink(missing_ok=True)


class PngWriter(FrameWriter):
    """One PNG per frame: into a folder (``frame_000000.png``...), to a ``%d`` pattern, or one file.

    A folder it had to create is removed again by :meth:`abort`, so an interrupted decode leaves nothing.
    """

    def __init__(self, path: str | Path) -> None:
        text = str(path)
        self.single = "%" not in text and Path(text).suffix.lower() == ".png"
        self.created: Path | None = None
        if "%" in text or self.single:
            self.pattern = text
        else:
            folder = Path(text)
            missing = [p for p in (folder, *folder.parents) if not p.exists()]
            folder.mkdir(parents=True, exist_ok=True)
            self.created = missing[-1] if missing else None  # the outermost folder this writer made
            self.pattern = str(folder / "frame_%06d.png")
        self.written: list[tuple[Path, Path]] = []

    def write(self, rgb: np.ndarray, pts: int, duration: int) -> None:
        from PIL import Image

        if self.single and self.written:
            raise InputError(f"{self.pattern}: more than one frame; write to a folder or a %d pattern")
        final = Path(self.pattern if self.single else self.pattern % len(self.written))
        tmp = temp_path(final)
        Image.fromarray(rgb, "RGB").save(tmp, format="PNG")
        self.written.append((tmp, final))

    def close(self) -> None:
        for tmp, final in self.written:
            os.replace(tmp, final)

    def abort(self) -> None:
        for tmp, _ in self.written:
            tmp.unlink(missing_ok=True)
        if self.created is not None:
            remove_empty_folders(self.created)


def remove_empty_folders(top: Path) -> None:
    """Remove ``top`` and the folders under it, if nothing but empty folders is left in them."""
    if not top.is_dir():
        return
    for sub in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            sub.rmdir()
        except OSError:
            return
    try:
        top.rmdir()
    except OSError:
        pass  # something else was written into it meanwhile: keep it


VIEW_CRF = 18  # x264's "visually lossless" point: 66 KB for the sample clip, where qp 0 in 4:4:4 wrote 975 KB


class Mp4Writer(FrameWriter):
    """H.264 in MP4, with the source's audio (the part overlapping the frames written) copied back in.

    * default (viewing): x264 at CRF 18 (``VIEW_CRF``) in YUV 4:2:0, what players and browsers expect;
      at an odd width or height, which 4:2:0 cannot hold, YUV 4:4:4 at the same size (H.264's High 4:4:4
      profile, which not every browser or player shows) rather than a frame cropped or padded;
    * ``lossless``: libx264rgb at qp 0 in RGB, the decoded pixels exactly (few players show it).
    """

    def __init__(self, path: str | Path, *, width: int, height: int, fps: Fraction, time_base: Fraction,
                 audio_from: str | Path | None = None, lossless: bool = False) -> None:
        import av

        from lvc.io.audio import AudioCopy

        self.path = Path(path)
        self.tmp = temp_path(self.path)
        self._out = av.open(str(self.tmp), "w", format="mp4")
        self._v = self._out.add_stream("libx264rgb" if lossless else "libx264",
                                       rate=Fraction(fps).limit_denominator(1 << 16))
        self._v.width, self._v.height = width, height
        if lossless:
            self._v.pix_fmt = "rgb24"
            self._v.options = {"qp": "0", "preset": "medium"}
        else:
            self._v.pix_fmt = "yuv444p" if width % 2 or height % 2 else "yuv420p"
            self._v.options = {"crf": str(VIEW_CRF), "preset": "medium"}
        # The encoder counts in the source's own time base: in 1/fps ticks, two frames of a variable-rate
        # (phone, 1/1000000) clip can round to the same pts, which the MP4 muxer refuses (EINVAL).
        self._v.time_base = time_base
        self._v.codec_context.time_base = time_base
        self.time_base = time_base
        self._audio = AudioCopy(audio_from, self._out, streams="first") if audio_from is not None else None
        self._first_pts: int | None = None
        self._last_end: int | None = None

    def write(self, rgb: np.ndarray, pts: int, duration: int) -> None:
        import av

        self._first_pts = pts if self._first_pts is None else min(self._first_pts, pts)
        self._last_end = pts + duration if self._last_end is None else max(self._last_end, pts + duration)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = pts
        frame.time_base = self.time_base
        for packet in self._v.encode(frame):
            self._out.mux(packet)

    def close(self) -> None:
        from lvc.io.audio import span_seconds

        for packet in self._v.encode(None):
            self._out.mux(packet)
        if self._audio is not None and self._first_pts is not None:
            self._audio.copy(*span_seconds(self._first_pts, self._last_end, self.time_base))
        self._out.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self._out.close()
        except Exception:  # noqa: BLE001 - the partial file is removed anyway
            pass
        self.tmp.unlink(missing_ok=True)


VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v"}


def open_writer(path: str | Path, *, width: int, height: int, fps: Fraction, time_base: Fraction,
                source_pixel_format: str = "yuv420p", audio_from: str | Path | None = None,
                lossless: bool = False) -> FrameWriter:
    """A writer chosen by ``path``: ``-`` or ``.y4m`` (YUV4MPEG2), ``.mp4``, ``.png`` / ``%d`` / folder (PNG).

    ``lossless`` asks for the decoded RGB exactly: PNG always is, an ``.mp4`` then uses libx264rgb at qp 0,
    and YUV (y4m) cannot be.
    """
    text = str(path)
    suffix = Path(text).suffix.lower()
    check_output_type(path, lossless)
    if text == "-" or suffix == ".y4m":
        pix = "yuv444p" if source_pixel_format.startswith(("yuv444", "gbr", "rgb", "bgr")) else "yuv420p"
        return Y4mWriter(path, width=width, height=height, fps=fps, pix_fmt=pix)
    if suffix in VIDEO_SUFFIXES:
        return Mp4Writer(path, width=width, height=height, fps=fps, time_base=time_base, audio_from=audio_from,
                         lossless=lossless)
    return PngWriter(path)


def check_output_type(path: str | Path, lossless: bool = False) -> None:
    """One clean line for an output ``open_writer`` cannot write (checked before any work, with no PyAV)."""
    text = str(path)
    suffix = Path(text).suffix.lower()
    if text == "-" or suffix == ".y4m":
        if lossless:
            raise InputError(f"{path}: --lossless needs RGB, and y4m is YUV; write .mp4, .png or a folder of PNGs")
        return
    if suffix in VIDEO_SUFFIXES or suffix == ".png" or "%" in text or suffix == "":
        return
    raise InputError(f"{path}: unknown output type (use .mp4, .y4m, -, .png, a %d pattern or a folder)")
