"""Video rate–distortion: lvc (GOP 12, GOP 32, all-intra) against x264 and x265 on the benchmark clips.

Every clip of ``../shared/data/video`` except the two training clips is coded, in the same run, by:

* lvc at 4+ qualities with GOP 12 and GOP 32, and all-intra (GOP 1);
* x264 and x265, ``preset=medium``, ``tune=zerolatency``, a CRF sweep, GOP 12 (``lvc.io.x26x``).

Rates are the files' real sizes; quality is RGB PSNR, Y PSNR and MS-SSIM of the decoded frames
against the source (``lvc.tools.compare`` does the measuring). BD-rates per clip and on average against
x264, x265 and lvc all-intra go to ``bench/results/video_rd.{json,md,png}``. With a model that has
no inter codec, the GOP runs would be all-intra too, so they are skipped and the report says so.

    python bench/video_rd.py [--frames 20] [--clips a.y4m b.y4m] [--qualities 2 4 6 8] [--quiet]
    python bench/video_rd.py --merge runA/video_rd.json runB/video_rd.json   # runs that split the clips
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lvc.tools.compare import METRICS, RdPoint, lvc_point, x26x_point  # noqa: E402
from lvc.io.x26x import ANCHORS, anchor_available  # noqa: E402
from lvc.metrics import bd_rate  # noqa: E402

TRAINING_CLIPS = {"car_detection_768x432.mp4", "cars_320x240.y4m"}  # never benchmarked: we train on them
VIDEO_DIR = ROOT.parent / "shared/data/video"


def series_bd(anchor: list[RdPoint], ours: list[RdPoint], metric: str) -> float | None:
    try:
        return bd_rate([p.bpp for p in anchor], [getattr(p, metric) for p in anchor],
                       [p.bpp for p in ours], [getattr(p, metric) for p in ours])
    except ValueError:
        return None


def run_clip(clip: Path, args: argparse.Namespace, model, work: Path) -> dict:  # noqa: ANN001
    series: dict[str, list[RdPoint]] = {}
    # A GOP as long as the clip or longer codes it as the shorter GOP does: measured once.
    gops = [1] + ([g for g in (12, 32) if g == 12 or g < args.frames] if model.inter is not None else [])
    for gop in gops:
        name = "lvc all-intra" if gop == 1 else f"lvc GOP {gop}"
        series[name] = [lvc_point(clip, q, gop=gop, frames=args.frames, model=model, device="cpu", workdir=work,
                                  progress=False, mode_decision=args.mode_decision) for q in args.qualities]
    for anchor in (a for a in ANCHORS if anchor_available(a)):
        series[f"{anchor} GOP 12"] = [x26x_point(clip, anchor, crf, gop=12, frames=args.frames, workdir=work,
                                                 progress=False) for crf in args.crf]
    ours = [k for k in series if k.startswith("lvc")]
    bd = {f"{o} vs {a}": {m: series_bd(series[a], series[o], m) for m, _ in METRICS}
          for o in ours for a in series if a != o and not (a.startswith("lvc") and o == "lvc all-intra")}
    return {"clip": clip.name, "series": {k: [p.as_dict() for p in v] for k, v in series.items()}, "bd_rate": bd}


def video_bench_parser(description: str, clips: list[str] | None) -> argparse.ArgumentParser:
    """The options every video benchmark shares; ``clips`` is the default list (None: every benchmark clip)."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", nargs="*", default=clips,
                   help="clip names in the video folder (default: " + (" ".join(clips) if clips else "all") + ")")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--qualities", type=float, nargs="+", default=[2, 4, 6, 8])
    p.add_argument("--crf", type=float, nargs="+", default=[22, 27, 32, 37])
    p.add_argument("--model", default=None)
    p.add_argument("--video-dir", type=Path, default=VIDEO_DIR)
    p.add_argument("--out", type=Path, default=ROOT / "bench/results")
    p.add_argument("--quiet", action="store_true")
    return p


def clips_and_model(args: argparse.Namespace):  # noqa: ANN201 - (clips, LoadedModel), or None to skip
    """The clips ``args`` name (every benchmark clip by default) and the model; None, after saying why,
    where the clips are not here (a fresh machine without ``../shared/data``)."""
    if args.clips:
        clips = [args.video_dir / c for c in args.clips]
    else:
        clips = sorted(c for c in args.video_dir.iterdir() if c.suffix in {".y4m", ".mp4"}
                       and c.name not in TRAINING_CLIPS) if args.video_dir.is_dir() else []
    missing = [c for c in clips if not c.exists()]
    if not clips or missing:
        print(f"skipped: no clip at {missing[0] if missing else args.video_dir} "
              "(the benchmark clips live in ../shared/data/video)")
        return None
    from lvc.models.zoo import DEFAULT_VIDEO_MODEL, load_image_model

    return clips, load_image_model(args.model or DEFAULT_VIDEO_MODEL)


def main(argv: list[str] | None = None) -> int:
    p = video_bench_parser(__doc__, None)
    p.add_argument("--no-mode-decision", dest="mode_decision", action="store_false",
                   help="code frames exactly as the GOP schedule says (no RD choice of I over P)")
    p.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                   help="write one report from the video_rd.json of runs that split the clips, and stop")
    args = p.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)
    found = clips_and_model(args)
    if found is None:
        return 0
    clips, model = found
    results = []
    with tempfile.TemporaryDirectory(prefix="lvc-video-rd-") as tmp:
        for clip in clips:
            t0 = time.perf_counter()
            results.append(run_clip(clip, args, model, Path(tmp)))
            if not args.quiet:
                bd = results[-1]["bd_rate"]
                print(f"{clip.name}: " + "; ".join(f"{k} {v['psnr']:+.1f}%" if v["psnr"] is not None else f"{k} n/a"
                                                    for k, v in bd.items()) + f"  [{time.perf_counter() - t0:.0f} s]",
                      flush=True)
    doc = {"date": time.strftime("%Y-%m-%d"), "model_id": model.model_id, "weight_hash": model.weight_hash.hex(),
           "inter": model.inter is not None, "mode_decision": args.mode_decision, "frames": args.frames,
           "qualities": args.qualities, "crf": args.crf, "clips": results}
    write_report(doc, args.out)
    return 0


def merge(paths: list[Path], out: Path) -> int:
    """One report from the ``video_rd.json`` of runs that split the clips between them (e.g. one process
    per core); they must share the model and the settings."""
    docs = [json.loads(p.read_text()) for p in paths]
    same = ("model_id", "weight_hash", "inter", "mode_decision", "frames", "qualities", "crf")
    if any(d[k] != docs[0][k] for d in docs for k in same):
        print("cannot merge: the runs differ in " + ", ".join(k for k in same if len({str(d[k]) for d in docs}) > 1))
        return 2
    write_report({**docs[0], "clips": sorted((c for d in docs for c in d["clips"]), key=lambda c: c["clip"])}, out)
    return 0


def write_report(doc: dict, out: Path) -> None:
    """``video_rd.{json,md,png}`` of ``doc`` (its clips' series and BD-rates), with the averages over clips."""
    results = doc["clips"]
    keys = sorted({k for r in results for k in r["bd_rate"]})
    doc["average_bd_rate"] = {
        k: {m: (float(np.mean(vals)) if (vals := [r["bd_rate"][k][m] for r in results
                                                  if r["bd_rate"].get(k, {}).get(m) is not None]) else None)
            for m, _ in METRICS} for k in keys}
    average = doc["average_bd_rate"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "video_rd.json").write_text(json.dumps(doc, indent=1))
    md = [f"# Video RD ({doc['frames']} frames per clip; model `{doc['model_id']}` ({doc['weight_hash']})"
          + ("" if doc["inter"] else ", intra-only: no GOP runs")
          + ("" if doc["mode_decision"] else ", no I/P mode decision") + ")", "",
          "| BD-rate (RGB PSNR) | " + " | ".join(r["clip"] for r in results) + " | average |",
          "|---|" + "---|" * (len(results) + 1)]
    for k in keys:
        cells = [(f"{r['bd_rate'][k]['psnr']:+.1f}%" if r["bd_rate"].get(k, {}).get("psnr") is not None else "n/a")
                 for r in results]
        avg = average[k]["psnr"]
        md.append(f"| {k} | " + " | ".join(cells) + f" | {'n/a' if avg is None else f'{avg:+.1f}%'} |")
    (out / "video_rd.md").write_text("\n".join(md) + "\n")
    _plot(results, out / "video_rd.png")


def _plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    cols = min(4, n)
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(4 * cols, 3.2 * ((n + cols - 1) // cols)),
                             squeeze=False)
    for ax, r in zip(axes.flat, results):
        for name, pts in r["series"].items():
            ax.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], "o-", ms=3, label=name)
        ax.set_title(r["clip"], fontsize=9)
        ax.set_xlabel("bpp")
        ax.set_ylabel("RGB PSNR (dB)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    sys.exit(main())
