"""Rate control: how close ``lvc encode --bitrate`` lands, and what it costs against constant quality.

For each clip, lvc codes the first frames at constant qualities (the anchor curve), then with
``--bitrate`` set to what constant quality 3 and 5 spent. The report gives, per run, the target,
the stream's bitrate (the lvc access units, what the controller steers) and the file's (MP4 boxes
included), the error, and the PSNR against the constant-quality curve at the same file rate
(interpolated in log rate; negative: rate control loses that much). Rates come from the bytes written.

    python bench/rate_control.py [--clips a.y4m ...] [--frames 30] [--quiet]

Writes ``bench/results/rate_control.{json,md}``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.presets import CLIPS  # noqa: E402
from bench.video_rd import clips_and_model, video_bench_parser  # noqa: E402
from lvc import rates  # noqa: E402
from lvc.tools.compare import lvc_point  # noqa: E402

GOP = 12
ANCHOR_QUALITIES = (2.0, 3.0, 4.0, 5.0, 6.0)
TARGET_QUALITIES = (3.0, 5.0)  # targets: what these constant qualities spent


def _stream_bytes(path: Path) -> int:
    from lvc.io.container import ContainerReader

    with ContainerReader(path) as r:
        return sum(len(u.data) for u in r.units())


def run_clip(clip: Path, frames: int, model, work: Path) -> dict:  # noqa: ANN001
    def point(**kw: float) -> dict:
        p = lvc_point(clip, kw.get("quality"), gop=GOP, frames=frames, model=model, device="cpu", workdir=work,
                      progress=False, bitrate=kw.get("bitrate"))
        stream_kbps = rates.kbps(_stream_bytes(work / f"lvc_{p.setting}.lvc"), p.frames, p.fps)
        return {**p.as_dict(), "stream_kbps": stream_kbps}

    anchors = [point(quality=q) for q in ANCHOR_QUALITIES]
    runs = []
    for q in TARGET_QUALITIES:
        target = anchors[ANCHOR_QUALITIES.index(q)]["stream_kbps"]
        run = point(bitrate=target * 1000)
        curve = sorted(anchors, key=lambda a: a["kbps"])
        at_rate = float(np.interp(np.log(run["kbps"]), [np.log(a["kbps"]) for a in curve], [a["psnr"] for a in curve]))
        runs.append({"target_kbps": target, "run": run, "error_pct": 100 * (run["stream_kbps"] / target - 1),
                     "psnr_vs_constant_quality_db": run["psnr"] - at_rate})
    return {"clip": clip.name, "anchors": anchors, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    args = video_bench_parser(__doc__, list(CLIPS)).parse_args(argv)
    found = clips_and_model(args)
    if found is None:
        return 0
    clips, model = found
    results = []
    with tempfile.TemporaryDirectory(prefix="lvc-rate-") as tmp:
        for clip in clips:
            results.append(run_clip(clip, args.frames, model, Path(tmp)))
            if not args.quiet:
                print(f"{clip.name}: " + "; ".join(
                    f"target {r['target_kbps']:.1f} kb/s -> {r['run']['stream_kbps']:.1f} ({r['error_pct']:+.1f}%), "
                    f"{r['psnr_vs_constant_quality_db']:+.2f} dB vs constant quality" for r in results[-1]["runs"]),
                    flush=True)
    errors = [abs(r["error_pct"]) for c in results for r in c["runs"]]
    losses = [r["psnr_vs_constant_quality_db"] for c in results for r in c["runs"]]
    doc = {"date": time.strftime("%Y-%m-%d"), "model_id": model.model_id, "weight_hash": model.weight_hash.hex(),
           "gop": GOP, "frames": args.frames, "clips": results,
           "mean_abs_error_pct": float(np.mean(errors)), "max_abs_error_pct": float(np.max(errors)),
           "mean_psnr_vs_constant_quality_db": float(np.mean(losses))}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rate_control.json").write_text(json.dumps(doc, indent=1))
    md = [f"# Rate control (`--bitrate`), GOP {GOP}, {args.frames} frames per clip; model `{model.model_id}` "
          f"({model.weight_hash.hex()})", "",
          f"Mean |error| {doc['mean_abs_error_pct']:.1f} % (max {doc['max_abs_error_pct']:.1f} %); PSNR against "
          f"constant quality at the same file rate {doc['mean_psnr_vs_constant_quality_db']:+.2f} dB on average.", "",
          "| clip | target kb/s | stream kb/s | error | file kb/s | RGB PSNR | vs constant quality |",
          "|---|---|---|---|---|---|---|"]
    for c in results:
        for r in c["runs"]:
            run = r["run"]
            md.append(f"| {c['clip']} | {r['target_kbps']:.1f} | {run['stream_kbps']:.1f} | {r['error_pct']:+.1f}% | "
                      f"{run['kbps']:.1f} | {run['psnr']:.2f} | {r['psnr_vs_constant_quality_db']:+.2f} dB |")
    (args.out / "rate_control.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
