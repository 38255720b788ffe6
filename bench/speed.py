"""Encode/decode speed and peak memory of lvc against x264 medium, measured in the same run.

For each size (416x240, 832x480, 1280x720, 1920x1080) a clip is made by panning across a real frame
(``../shared/data/video``, resized; the README sample when that is missing). lvc encodes it as
``lvc encode`` does by default (the shipped video model, GOP 12) and decodes it; x264
(``preset=medium``, ``tune=zerolatency``) encodes and decodes
the same frames through PyAV. Each lvc measurement runs in its own process so that its peak RSS
is its own. A long clip checks that memory stays flat over 300 frames.

    python bench/speed.py [--frames 8] [--long-frames 300] [--sizes 416x240 832x480] [--quiet]

Writes ``bench/results/speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = ((416, 240), (832, 480), (1280, 720), (1920, 1080))
SOURCE = ROOT.parent / "shared/data/video/vid4_calendar_720x576.y4m"


def make_clip(path: Path, width: int, height: int, frames: int) -> Path:
    """A y4m pan (2 px per frame) over a real frame scaled to cover ``width`` x ``height``."""
    from PIL import Image

    from lvc.io.video import Y4mWriter, read_image

    src = read_image(SOURCE) if SOURCE.exists() else read_image(ROOT / "samples/hopper.png")
    scale = max((width + 2 * frames) / src.shape[1], height / src.shape[0])
    big = np.asarray(Image.fromarray(src).resize((int(src.shape[1] * scale) + 1, int(src.shape[0] * scale) + 1),
                                                 Image.Resampling.LANCZOS))
    w = Y4mWriter(path, width=width, height=height, fps=Fraction(25))
    for i in range(frames):
        w.write(np.ascontiguousarray(big[:height, 2 * i:2 * i + width]), i, 1)
    w.close()
    return path


WORKER = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from lvc import api
from lvc.models.zoo import default_model_id, load_image_model
src, lvc, mode, sample = {src!r}, {lvc!r}, {mode!r}, {sample}
rss = []
t_load = time.perf_counter()
model = load_image_model(default_model_id(still=False))  # once per process, as a server or a long clip pays it
t0 = time.perf_counter()
load_s = t0 - t_load
if mode == "encode":
    s = api.encode(src, lvc, quality=4.0, overwrite=True, model=model)
    n = s.frames
else:
    n = 0
    for f in api.iter_decode(lvc, model=model):
        n += 1
        if sample and n % sample == 0:
            rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
dt = time.perf_counter() - t0
print(json.dumps({{"frames": n, "seconds": dt, "fps": n / dt, "load_seconds": load_s,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_trace_mib": rss}}))
"""


def run_lvc(src: Path, lvc: Path, mode: str, sample: int = 0) -> dict:
    code = WORKER.format(root=str(ROOT), src=str(src), lvc=str(lvc), mode=mode, sample=sample)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_x264(src: Path) -> dict:
    import av

    from lvc.io.video import open_media

    info, frames = open_media(src)
    rgbs = [f.rgb for f in frames]
    t0 = time.perf_counter()
    packets = []
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = info.width, info.height, "yuv420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"preset": "medium", "tune": "zerolatency", "crf": "23", "threads": "2"}
    for i, rgb in enumerate(rgbs):
        fr = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        fr.pts = i
        packets += codec.encode(fr)
    packets += codec.encode(None)
    t_enc = time.perf_counter() - t0
    dec = av.CodecContext.create("h264", "r")
    t0 = time.perf_counter()
    n = sum(len(dec.decode(p)) for p in packets) + len(dec.decode(None))
    t_dec = time.perf_counter() - t0
    return {"encode_fps": len(rgbs) / t_enc, "decode_fps": n / t_dec, "bytes": sum(p.size for p in packets)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--long-frames", type=int, default=300, help="frames of the memory-flatness clip (0: skip)")
    p.add_argument("--sizes", nargs="+", default=[f"{w}x{h}" for w, h in SIZES], help="WxH (default: %(default)s)")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    import torch

    from lvc.api import DEFAULT_GOP
    from lvc.models.zoo import default_model_id, load_image_model

    model = load_image_model(default_model_id(still=False))  # what ``lvc encode`` uses on a video
    coding = f"GOP {DEFAULT_GOP} (I- and P-frames)" if model.inter is not None else "all-intra (no inter model)"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for w, h in (tuple(int(v) for v in size.split("x")) for size in args.sizes):
            clip = make_clip(tmp / f"{w}x{h}.y4m", w, h, args.frames)
            enc = run_lvc(clip, tmp / f"{w}x{h}.lvc", "encode")
            dec = run_lvc(clip, tmp / f"{w}x{h}.lvc", "decode")
            x264 = run_x264(clip)
            row = {"size": f"{w}x{h}", "frames": args.frames, "lvc_encode_fps": enc["fps"],
                   "lvc_decode_fps": dec["fps"], "lvc_encode_peak_mib": enc["peak_rss_mib"],
                   "lvc_decode_peak_mib": dec["peak_rss_mib"], "x264_encode_fps": x264["encode_fps"],
                   "x264_decode_fps": x264["decode_fps"], "lvc_load_seconds": enc["load_seconds"]}
            row["encode_speed_ratio_vs_x264"] = row["lvc_encode_fps"] / row["x264_encode_fps"]
            row["decode_speed_ratio_vs_x264"] = row["lvc_decode_fps"] / row["x264_decode_fps"]
            rows.append(row)
            if not args.quiet:
                print(f"{row['size']:>9}: lvc (load {enc['load_seconds']:.1f} s) enc {enc['fps']:.2f} fps "
                      f"({enc['peak_rss_mib']:.0f} MiB)  "
                      f"dec {dec['fps']:.2f} fps ({dec['peak_rss_mib']:.0f} MiB)  |  x264 medium enc "
                      f"{x264['encode_fps']:.1f} fps dec {x264['decode_fps']:.1f} fps", flush=True)
        long = None
        if args.long_frames:
            clip = make_clip(tmp / "long.y4m", 416, 240, args.long_frames)
            enc = run_lvc(clip, tmp / "long.lvc", "encode")
            dec = run_lvc(clip, tmp / "long.lvc", "decode", sample=max(1, args.long_frames // 10))
            trace = dec["rss_trace_mib"]
            long = {"size": "416x240", "frames": args.long_frames, "encode_peak_mib": enc["peak_rss_mib"],
                    "decode_rss_trace_mib": trace, "decode_rss_growth_mib": trace[-1] - trace[0] if trace else None}
            if not args.quiet:
                print(f"long clip {args.long_frames} frames: encode peak {enc['peak_rss_mib']:.0f} MiB; "
                      f"decode peak RSS by frame: {[round(t) for t in trace]} MiB", flush=True)
    result = {"machine": {"platform": platform.platform(), "cpus": torch.get_num_threads(),
                          "torch": torch.__version__, "python": platform.python_version()},
              "date": time.strftime("%Y-%m-%d"), "model_id": model.model_id, "weight_hash": model.weight_hash.hex(),
              "quality": 4.0, "coding": coding, "sizes": rows, "long_clip": long}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(result, indent=1))
    md = ["# lvc speed (2 CPU cores; same run as x264 medium)", "",
          f"model `{model.model_id}` ({model.weight_hash.hex()}), quality 4, {args.frames} frames per size, "
          f"{coding}; fps exclude loading the model, which is timed apart (load s).", "",
          "| size | lvc load s | lvc encode fps | lvc decode fps | lvc enc peak MiB | lvc dec peak MiB | x264 enc fps |"
          " x264 dec fps | enc ratio | dec ratio |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['size']} | {r['lvc_load_seconds']:.1f} | {r['lvc_encode_fps']:.2f} | "
                  f"{r['lvc_decode_fps']:.2f} | "
                  f"{r['lvc_encode_peak_mib']:.0f} | {r['lvc_decode_peak_mib']:.0f} | {r['x264_encode_fps']:.1f} | "
                  f"{r['x264_decode_fps']:.1f} | {r['encode_speed_ratio_vs_x264']:.3f} | "
                  f"{r['decode_speed_ratio_vs_x264']:.3f} |")
    if long:
        md += ["", f"Memory over a {long['frames']}-frame 416x240 clip: encode peak {long['encode_peak_mib']:.0f} MiB; "
               f"decode peak RSS sampled every {max(1, long['frames'] // 10)} frames: "
               f"{', '.join(f'{t:.0f}' for t in long['decode_rss_trace_mib'])} MiB "
               f"(growth {long['decode_rss_growth_mib']:.1f} MiB)."]
    (args.out / "speed.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
