"""Classical still-image anchors: JPEG, JPEG 2000 and HEVC intra, coded in memory.

Every anchor is a function ``(rgb, param) -> (num_bytes, decoded, enc_seconds, dec_seconds)``:
``rgb`` is ``(H, W, 3)`` uint8, ``num_bytes`` the size of the real encoded stream, ``decoded`` the
``(H, W, 3)`` uint8 reconstruction, and the seconds are wall-clock times of encode and decode
(colour conversions included, as they are part of coding an RGB image).

An anchor that cannot run here (a missing library) raises :class:`AnchorUnavailable`, which the
benchmark reports and skips.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np
from PIL import Image, features

AnchorResult = tuple[int, np.ndarray, float, float]
Anchor = Callable[[np.ndarray, float], AnchorResult]

JPEG_QUALITIES: tuple[int, ...] = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
J2K_RATIOS: tuple[float, ...] = (240, 160, 96, 60, 40, 24, 16, 12)
"""Compression ratios against 24-bit RGB: 0.1 to 2 bpp."""
HEVC_QPS: tuple[int, ...] = (20, 24, 28, 32, 36, 40, 44, 48)
"""x265 QPs; on kodim01-02 they span ~0.07 to ~3 bpp."""

HEVC_ENCODER = "libx265"
HEVC_DECODER = "hevc"
HEVC_PRESET = "medium"
HEVC_TUNE = "psnr"


class AnchorUnavailable(RuntimeError):
    """The library an anchor needs is missing from this install."""


def _check_rgb(rgb: np.ndarray) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")


def _pil_roundtrip(rgb: np.ndarray, **save_args: object) -> AnchorResult:
    _check_rgb(rgb)
    buf = io.BytesIO()
    t0 = time.perf_counter()
    Image.fromarray(rgb).save(buf, **save_args)
    t1 = time.perf_counter()
    data = buf.getvalue()
    t2 = time.perf_counter()
    with Image.open(io.BytesIO(data)) as im:
        decoded = np.array(im.convert("RGB"))
    t3 = time.perf_counter()
    return len(data), decoded, t1 - t0, t3 - t2


# --------------------------------------------------------------------------- JPEG


def jpeg(rgb: np.ndarray, quality: float) -> AnchorResult:
    """Baseline JPEG via Pillow (libjpeg-turbo) at ``quality`` 1-95.

    Pillow's defaults, as CompressAI's JPEG anchor: 4:2:0 chroma subsampling, the standard
    quantisation tables scaled by ``quality``, no Huffman optimisation, no progressive mode.
    ``num_bytes`` is the whole JFIF file (headers and tables included).
    """
    return _pil_roundtrip(rgb, format="JPEG", quality=int(quality))


# --------------------------------------------------------------------------- JPEG 2000


def j2k(rgb: np.ndarray, ratio: float) -> AnchorResult:
    """JPEG 2000 via Pillow's OpenJPEG at compression ratio ``ratio`` (``24 / ratio`` bpp target).

    Lossy 9/7 wavelet (``irreversible=True``) with the colour transform (``mct=1``): without it each
    RGB channel is coded on its own and JPEG 2000 falls below JPEG. One quality layer sized by
    ``quality_mode="rates"``. ``num_bytes`` is the raw codestream (``.j2k``, no JP2 boxes), like
    the HEVC anchor's bitstream.
    """
    if not features.check("jpg_2000"):
        raise AnchorUnavailable("JPEG 2000 unavailable: this Pillow was built without OpenJPEG")
    return _pil_roundtrip(
        rgb, format="JPEG2000", no_jp2=True, quality_mode="rates", quality_layers=[float(ratio)],
        irreversible=True, mct=1)


# --------------------------------------------------------------------------- HEVC intra


def hevc_pix_fmt() -> str:
    """Pixel format the HEVC anchor codes: ``yuv444p`` when this PyAV's libx265 takes it, else ``yuv420p``.

    Raises :class:`AnchorUnavailable` when PyAV has no libx265 encoder or HEVC decoder.
    """
    try:
        import av
    except ImportError as e:
        raise AnchorUnavailable(f"HEVC unavailable: PyAV is not installed ({e})") from e
    missing = [n for n in (HEVC_ENCODER, HEVC_DECODER) if n not in av.codec.codecs_available]
    if missing:
        raise AnchorUnavailable(f"HEVC unavailable: this PyAV/FFmpeg lacks {', '.join(missing)}")
    formats = {f.name for f in av.codec.Codec(HEVC_ENCODER, "w").video_formats or ()}
    return "yuv444p" if "yuv444p" in formats else "yuv420p"


# Full-range BT.601 (JFIF) matrices: the codec sees all 256 levels, as BPG does by default.
_RGB_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_YCC_TO_RGB = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB to ``(3, H, W)`` uint8 full-range BT.601 Y, Cb, Cr planes."""
    ycc = rgb.astype(np.float64) @ _RGB_TO_YCC.T
    ycc[..., 1:] += 128.0
    return np.clip(np.rint(ycc), 0, 255).astype(np.uint8).transpose(2, 0, 1)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """``(3, H, W)`` uint8 full-range BT.601 planes to ``(H, W, 3)`` uint8 RGB."""
    x = ycc.transpose(1, 2, 0).astype(np.float64)
    x[..., 1:] -= 128.0
    return np.clip(np.rint(x @ _YCC_TO_RGB.T), 0, 255).astype(np.uint8)


def _subsample(plane: np.ndarray) -> np.ndarray:
    """2x2 mean of a ``(H, W)`` plane, edges replicated for odd sizes (4:2:0 chroma)."""
    h, w = plane.shape
    p = np.pad(plane.astype(np.float64), ((0, h % 2), (0, w % 2)), mode="edge")
    return np.rint(p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean(axis=(1, 3))).astype(np.uint8)


def _upsample(plane: np.ndarray, h: int, w: int) -> np.ndarray:
    return plane.repeat(2, axis=0).repeat(2, axis=1)[:h, :w]


def _to_frame(ycc: np.ndarray, pix_fmt: str):  # -> av.VideoFrame
    import av

    if pix_fmt == "yuv444p":
        return av.VideoFrame.from_ndarray(ycc, format="yuv444p")
    h, w = ycc.shape[1:]
    y, cb, cr = ycc[0], _subsample(ycc[1]), _subsample(ycc[2])
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, data in zip(frame.planes, (y, cb, cr)):
        # Planes have padded rows (line_size >= width): write row by row into the strided buffer.
        buf = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
        buf[: data.shape[0], : data.shape[1]] = data
    return frame


def _from_frame(frame, h: int, w: int) -> np.ndarray:  # frame: av.VideoFrame
    name = frame.format.name
    if name in ("yuv444p", "yuvj444p"):
        arr = frame.to_ndarray()
        # PyAV has returned both (3, H, W) and (H, W, 3) for planar 4:4:4 across versions.
        return arr if arr.shape == (3, h, w) else arr.transpose(2, 0, 1)
    if name in ("yuv420p", "yuvj420p"):
        planes = []
        for plane, (ph, pw) in zip(frame.planes, ((h, w), ((h + 1) // 2, (w + 1) // 2), ((h + 1) // 2, (w + 1) // 2))):
            planes.append(np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)[:ph, :pw])
        return np.stack([planes[0], _upsample(planes[1], h, w), _upsample(planes[2], h, w)])
    raise RuntimeError(f"HEVC decoder returned pixel format {name}, expected yuv444p or yuv420p")


def hevc_encode(rgb: np.ndarray, qp: float, pix_fmt: str | None = None) -> bytes:
    """One-frame HEVC intra stream (Annex B: VPS, SPS, PPS and one IDR slice) from x265 at ``qp``."""
    import av

    _check_rgb(rgb)
    pix_fmt = pix_fmt or hevc_pix_fmt()
    h, w = rgb.shape[:2]
    ctx = av.CodecContext.create(HEVC_ENCODER, "w")
    ctx.width, ctx.height = w, h
    ctx.pix_fmt = pix_fmt
    ctx.time_base = Fraction(1, 25)
    ctx.color_range = 2  # full range ("jpeg"), signalled in the VUI
    # info=0 drops x265's ~2 kB version/options SEI, which a decoder does not need; without
    # GLOBAL_HEADER the parameter sets travel in-band, so the packets are the whole stream.
    ctx.options = {
        "preset": HEVC_PRESET,
        "tune": HEVC_TUNE,
        "x265-params": f"qp={int(qp)}:keyint=1:info=0:log-level=error",
    }
    if pix_fmt == "yuv420p" and (h % 2 or w % 2):
        # x265 rejects odd sizes in 4:2:0; code an edge-replicated even frame, cropped on decode.
        rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        ctx.width, ctx.height = rgb.shape[1], rgb.shape[0]
    frame = _to_frame(rgb_to_ycbcr(rgb), pix_fmt)
    frame.pts = 0
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def hevc_decode(data: bytes, height: int, width: int) -> np.ndarray:
    """Decode a one-frame HEVC stream from :func:`hevc_encode` to ``(H, W, 3)`` uint8 RGB."""
    import av

    ctx = av.CodecContext.create(HEVC_DECODER, "r")
    frames = []
    for packet in ctx.parse(data) + ctx.parse(None):
        frames.extend(ctx.decode(packet))
    frames.extend(ctx.decode(None))
    if len(frames) != 1:
        raise RuntimeError(f"expected one decoded HEVC frame, got {len(frames)}")
    frame = frames[0]
    if (frame.height, frame.width) not in ((height, width), (height + height % 2, width + width % 2)):
        raise RuntimeError(f"HEVC frame is {frame.width}x{frame.height}, expected {width}x{height}")
    return ycbcr_to_rgb(_from_frame(frame, frame.height, frame.width))[:height, :width]


def hevc(rgb: np.ndarray, qp: float) -> AnchorResult:
    """HEVC intra via x265 (PyAV ``libx265``), one frame at constant ``qp``, preset medium, tune psnr.

    Codes full-range BT.601 YCbCr in ``yuv444p`` when this libx265 accepts it (it does in the PyAV
    wheels with x265 3.x), else ``yuv420p``: see :func:`hevc_pix_fmt`, which the benchmark records.
    ``tune=psnr`` turns off x265's psycho-visual tools, which trade PSNR for perceived detail (about
    8 % BD-rate on kodim01); without it the anchor would be weaker on the PSNR axis it is judged on.
    ``num_bytes`` is the Annex B bitstream (all packets, no container).
    """
    pix_fmt = hevc_pix_fmt()
    h, w = rgb.shape[:2]
    t0 = time.perf_counter()
    data = hevc_encode(rgb, qp, pix_fmt)
    t1 = time.perf_counter()
    decoded = hevc_decode(data, h, w)
    t2 = time.perf_counter()
    return len(data), decoded, t1 - t0, t2 - t1
