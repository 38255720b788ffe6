"""Make the README's sample from a public-domain photograph that a dependency ships.

``grace_hopper.jpg`` (U.S. Navy photograph of Rear Admiral Grace Hopper, public domain) comes
with matplotlib. We downscale it by 2 (which also removes its JPEG artefacts) and crop to
256x288, then save it losslessly as ``samples/hopper.png``, which is committed so that a fresh
clone needs nothing else.

    python samples/make_samples.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent


def make_still(out: Path = HERE / "hopper.png") -> Path:
    from matplotlib import cbook

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        small = im.convert("RGB").resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)
    small.crop((0, 6, 256, 294)).save(out, optimize=True)
    return out


if __name__ == "__main__":
    print(make_still())
