"""x264 and x265 through PyAV: the video anchors that ``lvc compare`` and the benchmarks run.

Preset medium, tune zerolatency, a CRF sweep, and an intra period of exactly the GOP that lvc uses.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from lvc.errors import LvcError

ANCHORS = {"x264": "libx264", "x265": "libx265"}
PRESET, TUNE = "medium", "zerolatency"


def anchor_available(name: str) -> bool:
    """Whether this PyAV's FFmpeg has the encoder for anchor ``name`` (``x264`` or ``x265``)."""
    import av

    return ANCHORS[name] in av.codec.codecs_available


def x26x_options(name: str, crf: float, gop: int) -> dict[str, str]:
    """Encoder options: preset medium, tune zerolatency, CRF, and an intra period of exactly ``gop`` frames
    (scene cuts off, since lvc's fixed GOP has none)."""
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0" if name == "x265" else f"keyint={gop}:scenecut=0"
    if name == "x265":
        # log-level: x265 prints a banner to stderr otherwise. info=0 drops its ~2 kB SEI of version and
        # options, which no decoder needs (as bench/anchors.py does); x264 has no such switch.
        params += ":log-level=error:info=0"
    return {"preset": PRESET, "tune": TUNE, "crf": f"{crf:g}", f"{name}-params": params}


def x26x_encode(source: str | Path, out: Path, name: str, crf: float, *, gop: int, frames: int,
                progress: bool) -> tuple[int, int, int, Fraction]:
    """Encode the first ``frames`` of ``source`` to an MP4 with x264 or x265; ``(frames, width, height, fps)``.

    4:2:0 needs even sizes: an odd-sized source is coded edge-padded and cropped after decoding.
    """
    import av

    from lvc.io.video import open_media
    from lvc.progress import Progress

    media, it = open_media(source)
    fps = Fraction(media.fps).limit_denominator(1 << 16)
    w, h = media.width, media.height
    container = av.open(str(out), "w", format="mp4")
    bar = Progress(total=frames, fps=float(fps), label=f"{name} crf{crf:g} encode", enabled=progress)
    n = 0
    try:
        stream = container.add_stream(ANCHORS[name], rate=fps)
        stream.width, stream.height = w + w % 2, h + h % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = 1 / fps
        stream.codec_context.gop_size = gop
        stream.options = x26x_options(name, crf, gop)
        for f in it:
            if n >= frames:
                break
            rgb = f.rgb if not (w % 2 or h % 2) else np.pad(f.rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = n, 1 / fps
            size = 0
            for packet in stream.encode(frame):
                size += packet.size
                container.mux(packet)
            bar.update(size)
            n += 1
        for packet in stream.encode(None):
            container.mux(packet)
        container.close()
    except av.error.FFmpegError as exc:
        container.close()
        raise LvcError(f"{name} failed on {source}: {exc}") from None
    finally:
        it.close()
        bar.close()
    return n, w, h, fps
