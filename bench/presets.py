"""Encoder presets: what each one's encoding time buys in bits, against x264 and x265 in the same run.

Every preset of ``lvc.codec.presets`` codes the same clips with the shipped video model at GOP 12 and 4+
qualities; x264 and x265 (``preset=medium``, ``tune=zerolatency``, GOP 12, a CRF sweep) code them
too. Rates are the files' real sizes. For each preset the report gives the BD-rate (RGB PSNR)
against ``medium``, x264 and x265, per clip and on average, and its encoding speed (frames per
second of wall-clock ``lvc encode`` time on this machine, over all qualities). The decoder is the
same for every preset, so decoding speed is ``bench/speed.py``'s.

The default clips are the small benchmark clips, because the slow presets cost seconds a frame.

    python bench/presets.py [--clips a.y4m ...] [--frames 20] [--presets fast medium slow veryslow] [--quiet]

Writes ``bench/results/presets.{json,md,png}``.
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

from bench.video_rd import clips_and_model, series_bd, video_bench_parser  # noqa: E402
from lvc.codec.presets import DEFAULT_PRESET, PRESETS  # noqa: E402
from lvc.io.x26x import ANCHORS, anchor_available  # noqa: E402
from lvc.tools.compare import RdPoint, lvc_point, x26x_point  # noqa: E402

CLIPS = ("foreman_qcif_176x144.y4m", "usc_cronkite_256x256_gray.y4m", "reds_demo000_320x180.y4m",
         "basketballpass_416x240.y4m")
GOP = 12


def run_clip(clip: Path, args: argparse.Namespace, model, work: Path) -> dict:  # noqa: ANN001
    series: dict[str, list[RdPoint]] = {}
    for preset in args.presets:
        series[preset] = [lvc_point(clip, q, gop=GOP, frames=args.frames, model=model, device="cpu", workdir=work,
                                    progress=False, preset=preset) for q in args.qualities]
    anchors = [a for a in ANCHORS if anchor_available(a)]
    for anchor in anchors:
        series[anchor] = [x26x_point(clip, anchor, crf, gop=GOP, frames=args.frames, workdir=work, progress=False)
                          for crf in args.crf]
    rows = {}
    for preset in args.presets:
        pts = series[preset]
        rows[preset] = {"encode_fps": sum(p.frames for p in pts) / sum(p.encode_s for p in pts),
                        "bd_rate": {other: series_bd(series[other], pts, "psnr")
                                    for other in [DEFAULT_PRESET, *anchors] if other != preset and other in series}}
    return {"clip": clip.name, "series": {k: [p.as_dict() for p in v] for k, v in series.items()}, "presets": rows}


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def main(argv: list[str] | None = None) -> int:
    p = video_bench_parser(__doc__, list(CLIPS))
    p.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    args = p.parse_args(argv)
    found = clips_and_model(args)
    if found is None:
        return 0
    clips, model = found
    results = []
    with tempfile.TemporaryDirectory(prefix="lvc-presets-") as tmp:
        for clip in clips:
            t0 = time.perf_counter()
            results.append(run_clip(clip, args, model, Path(tmp)))
            if not args.quiet:
                print(f"{clip.name} [{time.perf_counter() - t0:.0f} s]: " + "; ".join(
                    f"{k} {r['encode_fps']:.2f} fps " + " ".join(
                        f"vs {o} {v:+.1f}%" for o, v in r["bd_rate"].items() if v is not None)
                    for k, r in results[-1]["presets"].items()), flush=True)
    others = sorted({o for r in results for row in r["presets"].values() for o in row["bd_rate"]})
    average = {k: {"encode_fps": _mean([r["presets"][k]["encode_fps"] for r in results]),
                   "bd_rate": {o: _mean([r["presets"][k]["bd_rate"].get(o) for r in results]) for o in others}}
               for k in args.presets}
    doc = {"date": time.strftime("%Y-%m-%d"), "model_id": model.model_id, "weight_hash": model.weight_hash.hex(),
           "gop": GOP, "frames": args.frames, "qualities": args.qualities, "crf": args.crf,
           "presets": {k: vars(PRESETS[k]) for k in args.presets}, "clips": results, "average": average}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "presets.json").write_text(json.dumps(doc, indent=1))
    (args.out / "presets.md").write_text(_markdown(doc, others))
    _plot(doc, others, args.out / "presets.png")
    return 0


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.1f}%"


def _markdown(doc: dict, others: list[str]) -> str:
    clips = [r["clip"] for r in doc["clips"]]
    md = [f"# Encoder presets (GOP {doc['gop']}, {doc['frames']} frames per clip; model `{doc['model_id']}` "
          f"({doc['weight_hash']}); BD-rate on RGB PSNR, rates from file sizes)", "",
          "| preset | encode fps (mean of clips) | " + " | ".join(f"BD-rate vs {o}" for o in others) + " |",
          "|---|---|" + "---|" * len(others)]
    for k, a in doc["average"].items():
        md.append(f"| {k} | {a['encode_fps']:.2f} | " + " | ".join(_pct(a["bd_rate"][o]) for o in others) + " |")
    md += ["", "Per clip (BD-rate vs medium; encode fps):", "",
           "| preset | " + " | ".join(clips) + " |", "|---|" + "---|" * len(clips)]
    for k in doc["average"]:
        cells = [f"{_pct(r['presets'][k]['bd_rate'].get(DEFAULT_PRESET, 0.0 if k == DEFAULT_PRESET else None))}; "
                 f"{r['presets'][k]['encode_fps']:.2f} fps" for r in doc["clips"]]
        md.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(md) + "\n"


def _plot(doc: dict, others: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    names = list(doc["average"])
    fps = [doc["average"][k]["encode_fps"] for k in names]
    for o in others:
        bd = [0.0 if k == o else doc["average"][k]["bd_rate"].get(o) for k in names]
        keep = [(f, b, k) for f, b, k in zip(fps, bd, names) if b is not None]
        left.plot([f for f, _, _ in keep], [b for _, b, _ in keep], "o-", label=f"vs {o}")
        for f, b, k in keep:
            left.annotate(k, (f, b), fontsize=7, xytext=(3, 3), textcoords="offset points")
    left.set_xscale("log")
    left.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.set_xlabel("lvc encode fps (mean of clips, this machine)")
    left.set_ylabel("BD-rate, RGB PSNR (%)")
    left.set_title("what encoding time buys", fontsize=9)
    left.grid(alpha=0.3)
    left.legend(fontsize=7)
    r = max(doc["clips"], key=lambda c: c["series"][names[0]][0]["width"] * c["series"][names[0]][0]["height"])
    for name, pts in r["series"].items():
        right.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], "o-", ms=3, label=name)
    right.set_title(r["clip"], fontsize=9)
    right.set_xlabel("bpp")
    right.set_ylabel("RGB PSNR (dB)")
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    sys.exit(main())
