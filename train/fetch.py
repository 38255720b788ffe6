"""``python -m train fetch-video [DIR]``: fetch more training video than ``../shared/data`` holds.

The PyPI wheel ``comfyui-workflow-templates-media-video`` (MIT) carries 81 WebP files, 78 of them
animated: about 4,500 frames of generated video, mostly 350×350, lossy, with camera and object
motion of many kinds. Four real clips are few scenes, so ``configs/inter_real.yaml`` mixes these in
(``MixedClipData(extra_root=...)``). Nothing of them is committed: this command fetches them again
on any machine that reaches PyPI. Stills are left out.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image

PACKAGE = "comfyui-workflow-templates-media-video==0.3.101"  # pinned: the training data stays the same
DEFAULT_DIR = Path("data/generated_video")


def pip_download(spec: str, dest: Path) -> Path:
    """Download the wheel of ``spec`` (no dependencies) into ``dest`` and return its path."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), spec],
                   check=True)
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip download {spec} left no wheel in {dest}")
    return wheels[0]


def extract_animations(wheel: Path, out: Path) -> list[Path]:
    """Write every animated WebP/GIF in ``wheel`` to ``out`` (flat); return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            if Path(name).suffix.lower() not in {".webp", ".gif"}:
                continue
            target = out / Path(name).name
            target.write_bytes(zf.read(name))
            with Image.open(target) as im:
                animated = getattr(im, "n_frames", 1) > 1
            if animated:
                written.append(target)
            else:
                target.unlink()
    return written


def fetch_video(out: Path = DEFAULT_DIR, *, spec: str = PACKAGE,
                download: Callable[[str, Path], Path] = pip_download) -> list[Path]:
    """Fetch ``spec``'s wheel into a temporary folder and extract its animations into ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        return extract_animations(download(spec, Path(tmp)), out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train fetch-video", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", nargs="?", type=Path, default=DEFAULT_DIR, help="folder to write (default: %(default)s)")
    args = p.parse_args(argv)
    try:
        files = fetch_video(args.out)
    except (subprocess.CalledProcessError, OSError, zipfile.BadZipFile) as e:
        print(f"error: could not fetch {PACKAGE}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {len(files)} animated clips to {args.out}")
    return 0
