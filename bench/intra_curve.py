"""What each CPU-hour of training bought: Kodak rate–distortion of every intra checkpoint.

For each checkpoint (``runs/<run>/ckpt/step=*.ckpt``) the codec is rounded to fp16 and its
tables built exactly as when it ships; it codes the 24 Kodak images at fixed qualities, with
real bytes. JPEG 2000 (Pillow/OpenJPEG, ``mct=1``) is coded in the same run, so each point also
gets its BD-rate against JPEG 2000. Several runs (the warm start and its randomly initialised
twin) go on the same axes.

    python bench/intra_curve.py --run intra --run intra_random
    python bench/intra_curve.py --ckpt intra_gpu=runs/gpu_lease1/intra.ckpt   # one (slimmed) checkpoint
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.anchors import J2K_RATIOS, j2k  # noqa: E402
from lvc.codec.intra import IntraCoder  # noqa: E402
from lvc.metrics import bd_rate, bpp, psnr  # noqa: E402

QUALITIES = (1.0, 3.0, 5.0, 8.0)


def load_kodak(folder: Path) -> list[np.ndarray]:
    from PIL import Image

    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("kodim*.png"))]


def rd_point(coder, images: list[np.ndarray], q: float) -> tuple[float, float]:  # noqa: ANN001
    """Mean bpp (from the coded bytes) and mean RGB PSNR over ``images``."""
    bpps, psnrs = [], []
    for rgb in images:
        coded = coder.compress(rgb, q)
        bpps.append(bpp(sum(len(s) for s in coded.streams), rgb.shape[0], rgb.shape[1]))
        psnrs.append(psnr(rgb, coded.recon))
    return float(np.mean(bpps)), float(np.mean(psnrs))


def anchor_curve(images: list[np.ndarray]) -> dict[str, list[float]]:
    bpps, psnrs = [], []
    for ratio in J2K_RATIOS:
        res = [j2k(rgb, ratio) for rgb in images]
        bpps.append(float(np.mean([bpp(n, r.shape[0], r.shape[1]) for (n, *_), r in zip(res, images)])))
        psnrs.append(float(np.mean([psnr(r, d) for (_, d, *_), r in zip(res, images)])))
    return {"bpp": bpps, "psnr": psnrs}


def checkpoints(run_dir: Path, every: int) -> list[Path]:
    found = sorted(run_dir.glob("ckpt/step=*.ckpt"), key=lambda p: int(re.findall(r"\d+", p.stem)[0]))
    return [p for p in found if int(re.findall(r"\d+", p.stem)[0]) % every == 0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", default=None, help="run name under runs/ (repeatable)")
    p.add_argument("--every", type=int, default=1000, help="use checkpoints whose step is a multiple of this")
    p.add_argument("--ckpt", action="append", default=[],
                   help="NAME=PATH: one more checkpoint (full or slimmed) as a point of run NAME (repeatable)")
    p.add_argument("--kodak", type=Path, default=ROOT.parent / "shared/data/kodak")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if not args.kodak.exists():
        print(f"skipped: Kodak not found at {args.kodak}")
        return 0
    from train.export import codec_from_checkpoint

    images = load_kodak(args.kodak)
    out_json = args.out / "intra_training_curve.json"
    results = json.loads(out_json.read_text()) if out_json.exists() else {"runs": {}}
    results["anchor_j2k"] = anchor_curve(images)
    results["qualities"] = list(QUALITIES)
    results["kodak_images"] = len(images)
    todo: dict[str, list[Path]] = {run: checkpoints(ROOT / "runs" / run, args.every)
                                   for run in args.run or ([] if args.ckpt else ["intra"])}
    for item in args.ckpt:
        run, _, path = item.partition("=")
        todo.setdefault(run, []).append(Path(path))
    for run, ckpts in todo.items():
        points = {pt["steps"]: pt for pt in results["runs"].get(run, [])}
        for ckpt in ckpts:
            try:
                codec, _, meta = codec_from_checkpoint(ckpt)
            except ValueError as exc:  # a diverged run: record it, do not plot it
                results.setdefault("failed", {})[f"{run}/{ckpt.name}"] = str(exc)
                print(f"{run} {ckpt.name}: {exc}", flush=True)
                continue
            if meta["steps"] in points:
                continue
            t0 = time.perf_counter()
            coder = IntraCoder(codec)
            rd = [rd_point(coder, images, q) for q in QUALITIES]
            pt = {**meta, "bpp": [r[0] for r in rd], "psnr": [r[1] for r in rd]}
            try:
                pt["bd_rate_vs_j2k"] = bd_rate(results["anchor_j2k"]["bpp"], results["anchor_j2k"]["psnr"],
                                               pt["bpp"], pt["psnr"])
            except ValueError as exc:  # curves that do not overlap yet
                pt["bd_rate_vs_j2k"] = None
                pt["bd_rate_error"] = str(exc)
            points[meta["steps"]] = pt
            if not args.quiet:
                bd = pt["bd_rate_vs_j2k"]
                print(f"{run} step {meta['steps']:6d} ({meta['cpu_hours']:.2f} CPU-h, "
                      f"{meta.get('gpu_hours', 0):.3f} GPU-h): "
                      + "  ".join(f"q{q:g} {b:.3f} bpp {s:.2f} dB" for q, b, s in zip(QUALITIES, pt["bpp"], pt["psnr"]))
                      + f"  BD-rate vs J2K {'n/a' if bd is None else f'{bd:+.1f} %'}"
                      + f"  [{time.perf_counter() - t0:.0f} s]",
                      flush=True)
        results["runs"][run] = [points[k] for k in sorted(points)]
    args.out.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(results, indent=1))
    plot(results, args.out / "intra_training_curve.png")
    return 0


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for run, pts in results["runs"].items():
        hours = [p["cpu_hours"] for p in pts]
        ax1.plot(hours, [np.nan if p["bd_rate_vs_j2k"] is None else p["bd_rate_vs_j2k"] for p in pts], "o-",
                 label=run)
        for p in pts:  # GPU time does not fit the CPU-hours axis: say it beside the point
            if p.get("gpu_hours") and p["bd_rate_vs_j2k"] is not None:
                ax1.annotate(f"+{60 * p['gpu_hours']:.1f} GPU-min", (p["cpu_hours"], p["bd_rate_vs_j2k"]),
                             textcoords="offset points", xytext=(6, 4), fontsize=8)
        for p in pts[-1:]:
            gpu = f" + {60 * p['gpu_hours']:.1f} GPU-min" if p.get("gpu_hours") else ""
            ax2.plot(p["bpp"], p["psnr"], "o-", label=f"{run} @ {p['steps']} steps ({p['cpu_hours']:.1f} CPU-h{gpu})")
        if len(pts) > 1:
            ax2.plot(pts[0]["bpp"], pts[0]["psnr"], "x:", label=f"{run} @ {pts[0]['steps']} steps")
    ax1.axhline(0, color="k", lw=0.8)
    ax1.set_xlabel("training time (CPU-hours, 2 cores)")
    ax1.set_ylabel("BD-rate vs JPEG 2000 on Kodak (%), lower is better")
    ax1.grid(alpha=0.3)
    ax1.legend()
    a = results["anchor_j2k"]
    ax2.plot(a["bpp"], a["psnr"], "k--", label="JPEG 2000 (OpenJPEG, mct=1)")
    ax2.set_xlabel("bpp (real bytes)")
    ax2.set_ylabel("RGB PSNR (dB)")
    ax2.set_xlim(0, 2.2)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.suptitle("lvc intra: Kodak rate–distortion against training time")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
