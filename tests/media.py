"""Small test clips made with PyAV: every odd input the encoder must accept (or refuse cleanly)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.conftest import natural_image


def moving_frames(n: int, h: int, w: int, seed: int = 0) -> list[np.ndarray]:
    """A pan over a textured image: frame i is shifted i pixels right."""
    big = natural_image(h, w + n, seed)
    return [np.ascontiguousarray(big[:, i:i + w]) for i in range(n)]


def write_clip(path: Path, frames: list[np.ndarray], *, codec: str = "libx264", pix_fmt: str = "yuv420p",
               fps: int = 25, pts: list[int] | None = None, audio: bool = False, options: dict | None = None,
               time_base: Fraction | None = None) -> Path:
    """Write ``frames`` (RGB uint8) with ``codec``/``pix_fmt``; optional irregular ``pts`` and AAC audio."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        v.time_base = time_base or Fraction(1, fps)
        v.options = options or ({"qp": "10", "tune": "zerolatency"} if codec.startswith("libx26") else {})
        a = None
        if audio:
            a = out.add_stream("aac", rate=16000)
            a.layout = "mono"
        tb = v.time_base  # read once: the muxer changes the stream's time base when it writes the header
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            frame.pts = i if pts is None else pts[i]
            frame.time_base = tb
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        if a is not None:
            samples = int(16000 * len(frames) / fps)
            t = np.arange(samples, dtype=np.float32) / 16000
            pcm = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            af = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="mono")
            af.sample_rate = 16000
            af.pts = 0
            for p in a.encode(af):
                out.mux(p)
            for p in a.encode(None):
                out.mux(p)
    return path


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """A 4:2:0 y4m clip (swscale's RGB -> YUV)."""
    from lvc.io.video import Y4mWriter

    w = Y4mWriter(path, width=frames[0].shape[1], height=frames[0].shape[0], fps=Fraction(fps))
    for i, f in enumerate(frames):
        w.write(f, i, 1)
    w.close()
    return path


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        a = out.add_stream("aac", rate=16000)
        a.layout = "mono"
        af = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        af.sample_rate = 16000
        af.pts = 0
        for p in [*a.encode(af), *a.encode(None)]:
            out.mux(p)
    return path


def rotate_mp4(path: Path, out: Path) -> Path:
    """Copy of an MP4 whose track header says 'display rotated 90° clockwise', as phones write."""
    import struct

    data = bytearray(path.read_bytes())
    i = data.index(b"tkhd") + 4
    fixed = (8 + 8 + 4 + 4 + 8) if data[i] == 1 else (4 + 4 + 4 + 4 + 4)
    off = i + 4 + fixed + 8 + 8  # version/flags, times/ids/duration, reserved, layer/group/volume/reserved
    data[off:off + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    out.write_bytes(bytes(data))
    return out
