"""What exact decoding costs: the calibrated (integer) model against the same weights in float, in one run.

    python bench/exact.py [--images N] [--clips PATH ...] [--frames N] [--float-video-model FILE] [--quiet]

With ``--float-video-model`` the video reference is another file's float model: a quantisation-aware
fine-tune (train.qat), decoded exactly, against the float model it started from.

Both models code the same Kodak images (all-intra, qualities 1-8) and the same clips (GOP 12, the
default preset, qualities 2-8) with real bytes; each decodes its own streams. Reports the BD-rate of
exact against float (Kodak, and per clip) and the decode and encode seconds of both. ``bench/intra_kodak.py`` and ``bench/video_rd.py`` give the anchors (JPEG 2000,
x264) for the shipped, exact, model. Writes ``bench/results/exact.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench import anchors  # noqa: E402
from lvc import api  # noqa: E402
from lvc.metrics import bd_rate, psnr  # noqa: E402
from lvc.models.zoo import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, LoadedModel, load_image_model  # noqa: E402
from lvc.tools.compare import measure  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CLIPS = ("video/basketballpass_416x240.y4m", "video/usc_toys_512x512_gray.y4m", "video/vid4_walk_720x480.y4m",
         "train_video/tree.avi")  # 416x240 and 720x480 for speed, the worst clip for P-frames, the held-out clip


def code(source: Path, quality: float, model: LoadedModel, *, frames: int, gop: int, workdir: Path) -> dict:
    """Encode ``source`` with ``model``, decode with the same model; bytes, PSNR and seconds."""
    out = workdir / "bench.lvc"
    summary = api.encode(source, out, quality=quality, gop=gop, frames=frames, model=model, overwrite=True,
                         audio=False)
    t0 = time.perf_counter()
    decoded = [f.rgb for f in api.iter_decode(out, model=model)]
    decode_s = time.perf_counter() - t0
    n, psnr, _, _ = measure(decoded, source, summary.frames, label="", progress=False)
    return {"bytes": out.stat().st_size, "pixels": summary.width * summary.height * n, "psnr": psnr,
            "encode_s": summary.seconds, "decode_s": decode_s, "frames": n}


def j2k_points(images: list[Path]) -> list[dict]:
    """JPEG 2000 (Pillow's OpenJPEG) at the ratios ``bench/intra_kodak.py`` uses, averaged like lvc's."""
    rgbs = [np.array(Image.open(p).convert("RGB")) for p in images]
    pts = []
    for ratio in anchors.J2K_RATIOS:
        runs = [(anchors.j2k(rgb, ratio), rgb) for rgb in rgbs]
        pts.append({"bytes": sum(r[0] for r, _ in runs), "pixels": sum(rgb.shape[0] * rgb.shape[1] for rgb in rgbs),
                    "psnr": sum(psnr(r[1], rgb) for r, rgb in runs) / len(runs), "ratio": ratio})
    return pts


def curve(points: list[dict]) -> tuple[list[float], list[float]]:
    return [8 * p["bytes"] / p["pixels"] for p in points], [p["psnr"] for p in points]


def bd(float_points: list[dict], exact_points: list[dict]) -> float:
    return bd_rate(*curve(float_points), *curve(exact_points))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image-model", default=DEFAULT_IMAGE_MODEL)
    p.add_argument("--video-model", default=DEFAULT_VIDEO_MODEL)
    p.add_argument("--float-video-model", help="the float reference for video, if not --video-model's own weights "
                   "(e.g. the float model before quantisation-aware training)")
    p.add_argument("--kodak", type=Path, default=DATA / "kodak")
    p.add_argument("--images", type=int, default=24)
    p.add_argument("--qualities", type=float, nargs="+", default=[1, 2, 3, 4, 5, 6, 7, 8])
    p.add_argument("--clips", nargs="*", default=list(CLIPS), help="paths under --data")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--video-qualities", type=float, nargs="+", default=[2, 4, 6, 8])
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))

    results: dict = {"kodak": {}, "clips": {}}
    images = sorted(args.kodak.glob("*.png"))[: args.images]
    clips = [args.data / c for c in args.clips if (args.data / c).exists()]
    if not images and not clips:
        print(f"nothing to measure: no Kodak PNGs in {args.kodak} and none of the clips under {args.data}")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if images:
            models = {"float": load_image_model(args.image_model, exact=False), "exact": load_image_model(args.image_model)}
            if not models["exact"].exact:
                print(f"{args.image_model} carries no calibration (python -m train calibrate): nothing to compare")
                return 1
            for kind, model in models.items():
                pts = []
                for q in args.qualities:
                    per = [code(im, q, model, frames=1, gop=1, workdir=work) for im in images]
                    pts.append({k: sum(x[k] for x in per) for k in ("bytes", "pixels", "encode_s", "decode_s")}
                               | {"psnr": sum(x["psnr"] for x in per) / len(per), "quality": q})
                    say(f"kodak {kind} q{q:g}: {8 * pts[-1]['bytes'] / pts[-1]['pixels']:.4f} bpp "
                        f"{pts[-1]['psnr']:.2f} dB, decode {pts[-1]['decode_s']:.1f} s")
                results["kodak"][kind] = pts
            results["kodak"]["bd_rate_exact_vs_float"] = bd(results["kodak"]["float"], results["kodak"]["exact"])
            try:
                j2k = j2k_points(images)
                results["kodak"]["bd_rate_vs_j2k"] = {k: bd(j2k, results["kodak"][k]) for k in ("float", "exact")}
            except anchors.AnchorUnavailable as e:
                say(f"JPEG 2000 skipped: {e}")
        if clips:
            models = {"float": load_image_model(args.float_video_model or args.video_model, exact=False),
                      "exact": load_image_model(args.video_model)}
            for clip in clips:
                entry = {}
                for kind, model in models.items():
                    entry[kind] = [code(clip, q, model, frames=args.frames, gop=12, workdir=work) | {"quality": q}
                                   for q in args.video_qualities]
                    say(f"{clip.name} {kind}: " + ", ".join(f"q{x['quality']:g} {x['bytes']} B {x['psnr']:.2f} dB"
                                                            for x in entry[kind]))
                entry["bd_rate_exact_vs_float"] = bd(entry["float"], entry["exact"])
                results["clips"][clip.name] = entry
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "exact.json").write_text(json.dumps(results, indent=1))
    (args.out / "exact.md").write_text(report(results, args))
    print(report(results, args))
    return 0


def _seconds(points: list[dict], key: str) -> float:
    return sum(p[key] for p in points)


def report(results: dict, args: argparse.Namespace) -> str:
    lines = ["# Exact decoding against float (`python bench/exact.py`)", "",
             "Same weights; the exact model is the file's calibration (`python -m train calibrate`). BD-rate of exact "
             "against float from real bytes (negative: exact is better). Seconds are summed over all points; "
             "decode includes reading the container."
             + (f" Video's float reference: `{args.float_video_model}`; exact: `{args.video_model}`."
                if args.float_video_model else ""), "",
             "| content | BD-rate exact vs float | decode s float → exact | encode s float → exact |", "|---|---|---|---|"]
    rows = []
    if results["kodak"]:
        rows.append((f"Kodak ({args.images} images, q {args.qualities[0]:g}-{args.qualities[-1]:g}, all-intra)",
                     results["kodak"]))
    rows += [(f"{name} ({args.frames} frames, GOP 12, q {args.video_qualities[0]:g}-{args.video_qualities[-1]:g})", e)
             for name, e in results["clips"].items()]
    for label, e in rows:
        lines.append(f"| {label} | {e['bd_rate_exact_vs_float']:+.2f} % | "
                     f"{_seconds(e['float'], 'decode_s'):.1f} → {_seconds(e['exact'], 'decode_s'):.1f} | "
                     f"{_seconds(e['float'], 'encode_s'):.1f} → {_seconds(e['exact'], 'encode_s'):.1f} |")
    j2k = results["kodak"].get("bd_rate_vs_j2k")
    if j2k:
        lines += ["", f"Kodak BD-rate against JPEG 2000 (OpenJPEG, same run): float {j2k['float']:+.2f} %, "
                  f"exact {j2k['exact']:+.2f} %."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
