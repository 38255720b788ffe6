"""Make the README's samples from a public-domain photograph that a dependency ships.

``grace_hopper.jpg`` (U.S. Navy photograph of Rear Admiral Grace Hopper, public domain) comes
with matplotlib. ``make_still`` downscales it by 2 (which also removes its JPEG artefacts) and
crops it to 256x288: ``samples/hopper.png``. ``make_clip`` turns that still into a short
"camera move" (a slow zoom-in with a pan, 24 frames at 24 fps, 256x192) stored nearly losslessly
as ``samples/hopper_pan.mp4``. Both files are committed, so a fresh clone needs nothing else.

    python samples/make_samples.py            # the clip, from the committed still
    python samples/make_samples.py --still    # also the still, from matplotlib's copy
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent


def make_still(out: Path = HERE / "hopper.png") -> Path:
    from matplotlib import cbook

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        small = im.convert("RGB").resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)
    small.crop((0, 6, 256, 294)).save(out, optimize=True)
    return out


def make_clip(still: Path = HERE / "hopper.png", out: Path = HERE / "hopper_pan.mp4", frames: int = 24,
              size: tuple[int, int] = (256, 192)) -> Path:
    import av

    img = Image.open(still).convert("RGB")
    w, h = size
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, 24)
        stream.options = {"crf": "12", "preset": "slow"}
        for i in range(frames):
            t = i / (frames - 1)
            zoom = 1.0 + 0.25 * t  # the crop shrinks: a zoom-in
            cw, ch = img.width / zoom, img.width / zoom * h / w
            left = (img.width - cw) * (0.2 + 0.6 * t)  # pan left to right
            top = (img.height - ch) * (0.5 - 0.3 * t)
            crop = img.resize((w, h), Image.Resampling.LANCZOS, box=(left, top, left + cw, top + ch))
            frame = av.VideoFrame.from_ndarray(np.asarray(crop), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out


if __name__ == "__main__":
    if "--still" in sys.argv:
        print(make_still())
    print(make_clip())
