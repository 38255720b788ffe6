"""Calibrate a weight file for exact decoding: ``python -m train calibrate WEIGHTS --out FILE``.

Runs the float model over real content (photos for the intra codec; the first frames of real clips,
coded by the default encoder, for the P-frame codec), records each decoder-side convolution's largest
input magnitude per channel, and writes the file again with those ranges (times a margin) as its
``exact`` section. Models loaded from that file then decode in exact arithmetic (lvc.models.exact);
the file's hash, and so the streams that name it, change.

Margins (measured on Kodak, issue 11): the synthesis of images and residuals clamps its rare peaks
at little cost (1.0: Kodak q 8 lost 0.06 dB, against 0.11 dB at 1.5-2), the entropy model's inputs and the motion path need headroom (2.0).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lvc.codec.tensors import to_tensor
from lvc.models.exact import record_act_max
from lvc.models.zoo import file_hash, load_image_model

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT_VIDEOS = ("train_video/vtest.avi", "train_video/Megamind.avi", "video/car_detection_768x432.mp4",
                  "video/cars_320x240.y4m")  # clips that may be trained on (SOURCES.md), not the benchmark's
SYNTHESIS_MARGIN = 1.0
ENTROPY_MARGIN = 2.0


def _margin(name: str, synthesis: float, other: float) -> float:
    """Pixel-domain synthesis (the intra codec's and the residual codec's g_s) or everything else."""
    return synthesis if name.startswith(("g_s.", "residual.g_s.")) else other


def _photos(root: Path, count: int, side: int) -> list[np.ndarray]:
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not paths:
        raise SystemExit(f"no photos under {root}")
    out = []
    for p in paths[:: max(1, len(paths) // count)][:count]:
        im = Image.open(p).convert("RGB")
        im.thumbnail((side, side))
        out.append(np.array(im))
    return out


def calibrate(weights: Path, out: Path, *, images: Path, videos: list[Path], photos: int = 24, side: int = 384,
              frames: int = 7, qualities: tuple[float, ...] = (1, 2, 4, 6, 8), video_qualities: tuple[float, ...] = (2, 5, 8),
              synthesis_margin: float = SYNTHESIS_MARGIN, entropy_margin: float = ENTROPY_MARGIN,
              quiet: bool = False) -> Path:
    """Write ``out``: ``weights`` with an ``exact`` section calibrated on ``images`` and ``videos``."""
    from lvc import api

    model = load_image_model(str(weights), exact=False)
    t0 = time.time()
    with torch.inference_mode(), record_act_max(model.codec) as image_stats:
        for im in _photos(images, photos, side):
            for q in qualities:
                model.codec.compress(to_tensor(im, "cpu"), q)
        if not quiet:
            print(f"intra: {photos} photos x {len(qualities)} qualities ({time.time() - t0:.0f} s)")
        inter_stats: dict[str, torch.Tensor] = {}
        if model.inter is not None:
            with record_act_max(model.inter) as inter_stats, tempfile.TemporaryDirectory() as tmp:
                for clip in videos:
                    for q in video_qualities:
                        api.encode(clip, Path(tmp) / "calib.lvc", quality=q, frames=frames, model=model, overwrite=True,
                                   audio=False)
                    if not quiet:
                        print(f"inter: {clip.name}, {frames} frames x {len(video_qualities)} qualities "
                              f"({time.time() - t0:.0f} s)")
    blob = torch.load(weights, map_location="cpu", weights_only=True)
    section = {"image": {k: v * _margin(k, synthesis_margin, entropy_margin) for k, v in image_stats.items()},
               "inter": {k: v * _margin(k, synthesis_margin, entropy_margin) for k, v in inter_stats.items()},
               "meta": {"photos": photos, "side": side, "qualities": list(qualities),
                        "videos": [v.name for v in videos], "frames": frames, "video_qualities": list(video_qualities),
                        "synthesis_margin": synthesis_margin, "entropy_margin": entropy_margin,
                        "calibrated_from": file_hash(weights).hex()}}
    blob["exact"] = section
    torch.save(blob, out)
    load_image_model(str(out))  # proves that every decoder-side layer is calibrated and within 2^24
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=Path, default=DATA / "train_images")
    parser.add_argument("--videos", type=Path, nargs="*", default=[DATA / v for v in DEFAULT_VIDEOS])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--frames", type=int, default=7, help="frames of each clip (one I-frame, then P-frames)")
    parser.add_argument("--synthesis-margin", type=float, default=SYNTHESIS_MARGIN)
    parser.add_argument("--entropy-margin", type=float, default=ENTROPY_MARGIN)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    missing = [str(v) for v in args.videos if not v.exists()]
    if missing:
        raise SystemExit(f"calibration clips not found: {', '.join(missing)}")
    if args.out.suffix != ".pt":  # checked now, not after minutes of calibration: lvc loads weights by .pt path
        raise SystemExit(f"--out must name a .pt file, not {args.out}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    path = calibrate(args.weights, args.out, images=args.images, videos=args.videos, photos=args.photos,
                     frames=args.frames, synthesis_margin=args.synthesis_margin,
                     entropy_margin=args.entropy_margin, quiet=args.quiet)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, hash {file_hash(path).hex()})")
    return 0
