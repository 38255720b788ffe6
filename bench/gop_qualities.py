"""The GOP's quality hierarchy: what the I-frame's boost and the P-frames' offsets buy, against x264 in the same run.

Each hierarchy (``--config NAME=BOOST/OFFSETS``: the I-frame's quality steps above the P-frames, and
the P-frames' offsets in a cycle, ``0`` for none; see ``lvc.codec.hierarchy``) codes the same clips
with the shipped video model at GOP 12 and 4 qualities; x264 (``medium``, GOP 12, a CRF sweep)
codes them too. Rates are the files' real sizes. The report gives each hierarchy's BD-rate (RGB
PSNR) against the first one and against x264, per clip, on average and on the worst clip: a
hierarchy that pays on average but loses on the clip whose P-frames predict least does not ship.

The default clips are the benchmark's worst for P-frames (aerial2, toys), basketballpass, foreman and
``train_video/tree.avi``, which no training run sees.

    python bench/gop_qualities.py [--clips ...] [--config flat=1/0 --config alt=1/-0.5,0 ...] [--quiet]

Writes ``bench/results/gop_qualities.{json,md,png}``.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.video_rd import clips_and_model, series_bd, video_bench_parser  # noqa: E402
from lvc.codec.hierarchy import QualityHierarchy, parse_offsets  # noqa: E402
from lvc.rates import mean_finite  # noqa: E402
from lvc.io.x26x import anchor_available  # noqa: E402
from lvc.tools.compare import RdPoint, lvc_point, x26x_point  # noqa: E402

CLIPS = ("usc_aerial2_256x256_gray.y4m", "usc_toys_512x512_gray.y4m", "basketballpass_416x240.y4m",
         "foreman_qcif_176x144.y4m", "../train_video/tree.avi")
CONFIGS = ("flat=1/0", "alt=1/-0.5,0", "dcvc=1/-1,0.25,-1,-0.15", "soft=1/-0.5,0.25,-0.5,0")
GOP = 12
ANCHOR = "x264"


def parse_config(text: str) -> tuple[str, QualityHierarchy]:
    """``"alt=1/-0.5,0"`` -> ("alt", QualityHierarchy(1.0, (-0.5, 0.0)))."""
    name, _, spec = text.partition("=")
    boost, _, offsets = spec.partition("/")
    if not name or not boost:
        raise ValueError(f"expected NAME=BOOST/OFFSETS such as alt=1/-0.5,0, got {text!r}")
    return name, QualityHierarchy(float(boost), parse_offsets(offsets))


def run_clip(clip: Path, args, configs: dict[str, QualityHierarchy], model, work: Path) -> dict:  # noqa: ANN001
    series: dict[str, list[RdPoint]] = {}
    for name, h in configs.items():
        series[name] = [lvc_point(clip, q, gop=GOP, frames=args.frames, model=model, device="cpu", workdir=work,
                                  progress=False, intra_boost=h.intra_boost, p_offsets=h.p_offsets)
                        for q in args.qualities]
    if anchor_available(ANCHOR):
        series[ANCHOR] = [x26x_point(clip, ANCHOR, crf, gop=GOP, frames=args.frames, workdir=work, progress=False)
                          for crf in args.crf]
    reference = next(iter(configs))
    rows = {name: {"vs " + reference: series_bd(series[reference], series[name], "psnr"),
                   "vs " + ANCHOR: series_bd(series[ANCHOR], series[name], "psnr") if ANCHOR in series else None}
            for name in configs}
    return {"clip": clip.name, "series": {k: [p.as_dict() for p in v] for k, v in series.items()}, "bd_rate": rows}


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.1f}%"


def main(argv: list[str] | None = None) -> int:
    p = video_bench_parser(__doc__, list(CLIPS))
    p.set_defaults(frames=12)
    p.add_argument("--config", action="append", default=None, metavar="NAME=BOOST/OFFSETS",
                   help="a hierarchy to measure (repeatable; the first is the reference; default: "
                        + " ".join(CONFIGS) + ")")
    args = p.parse_args(argv)
    try:
        configs = dict(parse_config(c) for c in (args.config or CONFIGS))
    except ValueError as e:
        p.error(str(e))
    found = clips_and_model(args)
    if found is None:
        return 0
    clips, model = found
    results = []
    with tempfile.TemporaryDirectory(prefix="lvc-gop-qualities-") as tmp:
        for clip in clips:
            t0 = time.perf_counter()
            results.append(run_clip(clip, args, configs, model, Path(tmp)))
            if not args.quiet:
                print(f"{clip.name} [{time.perf_counter() - t0:.0f} s]: " + "; ".join(
                    f"{k} " + " ".join(f"{o} {_pct(v)}" for o, v in row.items()) for k, row in
                    results[-1]["bd_rate"].items()), flush=True)
    keys = list(results[0]["bd_rate"][next(iter(configs))])
    summary = {name: {key: {"mean": mean_finite([r["bd_rate"][name][key] for r in results]),
                            "worst": max((r["bd_rate"][name][key] for r in results if r["bd_rate"][name][key]
                                          is not None), default=None)} for key in keys} for name in configs}
    doc = {"date": time.strftime("%Y-%m-%d"), "model_id": model.model_id, "weight_hash": model.weight_hash.hex(),
           "gop": GOP, "frames": args.frames, "qualities": args.qualities, "crf": args.crf,
           "configs": {k: {"intra_boost": h.intra_boost, "p_offsets": list(h.p_offsets)} for k, h in configs.items()},
           "clips": results, "summary": summary}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gop_qualities.json").write_text(json.dumps(doc, indent=1))
    (args.out / "gop_qualities.md").write_text(_markdown(doc, keys))
    plot(doc, args.out / "gop_qualities.png")
    if not args.quiet:
        print(_markdown(doc, keys))
    return 0


def _markdown(doc: dict, keys: list[str]) -> str:
    clips = [r["clip"] for r in doc["clips"]]
    md = [f"# The GOP's quality hierarchy (GOP {doc['gop']}, {doc['frames']} frames per clip, qualities "
          f"{' '.join(f'{q:g}' for q in doc['qualities'])}; model `{doc['model_id']}` ({doc['weight_hash'][:8]}); "
          "BD-rate on RGB PSNR, rates from file sizes)", "",
          "| hierarchy | I-frame boost | P-frame offsets | " + " | ".join(f"{k}: mean | {k}: worst clip" for k in keys)
          + " |", "|---|---|---|" + "---|---|" * len(keys)]
    for name, s in doc["summary"].items():
        c = doc["configs"][name]
        offsets = ", ".join(f"{v:+g}" for v in c["p_offsets"]) or "none"
        md.append(f"| {name} | {c['intra_boost']:+g} | {offsets} | "
                  + " | ".join(f"{_pct(s[k]['mean'])} | {_pct(s[k]['worst'])}" for k in keys) + " |")
    md += ["", "Per clip:", "", "| hierarchy | " + " | ".join(f"{c} {k}" for c in clips for k in keys) + " |",
           "|---|" + "---|" * (len(clips) * len(keys))]
    for name in doc["summary"]:
        md.append(f"| {name} | " + " | ".join(_pct(r["bd_rate"][name][k]) for r in doc["clips"] for k in keys) + " |")
    return "\n".join(md) + "\n"


def plot(doc: dict, path: Path) -> None:
    """Left: each hierarchy's BD-rate against the reference, per clip; right: the RD curves of the clip
    on which the hierarchies disagree most."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(doc["configs"])
    reference = "vs " + names[0]
    clips = [r["clip"] for r in doc["clips"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    width = 0.8 / max(len(names) - 1, 1)
    for i, name in enumerate(names[1:]):
        values = [np.nan if r["bd_rate"][name][reference] is None else r["bd_rate"][name][reference]
                  for r in doc["clips"]]
        left.bar(np.arange(len(clips)) + i * width, values, width, label=name)
    left.axhline(0, color="k", lw=0.8)
    left.set_xticks(np.arange(len(clips)) + width * (len(names) - 2) / 2)
    left.set_xticklabels([re.sub(r"_\d+x\d+.*$", "", Path(c).stem) for c in clips], fontsize=8)
    left.set_ylabel(f"BD-rate {reference} (%), lower is better")
    left.grid(axis="y", alpha=0.3)
    left.legend(fontsize=8)
    spread = max(doc["clips"], key=lambda r: np.ptp([r["bd_rate"][n][reference] or 0.0 for n in names]))
    for name, pts in spread["series"].items():
        right.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], "o-", ms=3, label=name)
    right.set_title(spread["clip"], fontsize=9)
    right.set_xlabel("bpp (file sizes)")
    right.set_ylabel("RGB PSNR (dB)")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.suptitle(f"The GOP's quality hierarchy (GOP {doc['gop']}, {doc['frames']} frames, I-frame boost and "
                 "P-frame offsets)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    sys.exit(main())
