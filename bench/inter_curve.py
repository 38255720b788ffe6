"""What each CPU-hour of inter training bought: video rate–distortion of every inter checkpoint.

Each point is one P-frame codec: an installed video model (``--point STEPS=ID``) or the Lightning
checkpoints of a run (``--run NAME[:OFFSET]``, every ``--every``-th step; OFFSET is the step count
the run continued from). A checkpoint is exported exactly as it would ship (fp16, tables built) into
a temporary folder. Every point codes the same clips at GOP 12 with the shipped encoder (``medium``
preset, mode decision on) and real bytes. x264 (``medium``, CRF sweep, GOP 12) and lvc all-intra are
coded once per clip in the same run, so each point gets its BD-rate against both.

The default clips are the benchmark's three hardest for P-frames, plus ``train_video/tree.avi``,
which no training run sees: what is learnt must carry over to it too.

    python bench/inter_curve.py --point 0=video-dct-hp --point 598=video-dct-hp-real --run inter_real:598

Writes ``bench/results/inter_training_curve.{json,md,png}``; points already there are kept.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.video_rd import series_bd  # noqa: E402
from lvc.codec.hierarchy import P_OFFSETS  # noqa: E402
from lvc.tools.compare import RdPoint, lvc_point, x26x_point  # noqa: E402

DATA = ROOT.parent / "shared/data"
CLIPS = ("video/usc_toys_512x512_gray.y4m", "video/usc_aerial2_256x256_gray.y4m",
         "video/basketballpass_416x240.y4m", "train_video/tree.avi")
HELD_OUT = "train_video/tree.avi"


def run_checkpoints(spec: str, every: int) -> list[tuple[int, Path]]:
    """(cumulative steps, checkpoint) of ``NAME[:OFFSET]``'s ``runs/NAME/ckpt/step=*.ckpt``."""
    name, _, offset = spec.partition(":")
    found = []
    for p in (ROOT / "runs" / name / "ckpt").resolve().glob("step=*.ckpt"):
        step = int(re.findall(r"\d+", p.stem)[0])
        if step % every == 0:
            found.append((int(offset or 0) + step, p))
    return sorted(found)


def export_temp(ckpt: Path, folder: Path) -> Path:
    from train.export import export_checkpoint

    return export_checkpoint(ckpt, f"curve-{ckpt.stem.replace('=', '')}", out_dir=folder)


def summarise(points: list[RdPoint]) -> dict:
    return {"bpp": [p.bpp for p in points], "psnr": [p.psnr for p in points], "points": [p.as_dict() for p in points]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--point", action="append", default=[], help="STEPS=MODEL: an installed model or .pt file")
    p.add_argument("--run", action="append", default=[], help="NAME[:OFFSET]: the checkpoints of runs/NAME")
    p.add_argument("--tag", default="", help="a variant of the same training steps, kept as its own series "
                   "(e.g. 'spatial intra': the same P-frame codec paired with other intra weights)")
    p.add_argument("--every", type=int, default=200, help="use run checkpoints whose step is a multiple of this")
    p.add_argument("--clips", nargs="+", default=list(CLIPS), help="paths under --data")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--qualities", type=float, nargs="+", default=[2, 4, 6, 8])
    p.add_argument("--crf", type=float, nargs="+", default=[22, 27, 32, 37])
    p.add_argument("--out", type=Path, default=ROOT / "bench/results")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    clips = [args.data / c for c in args.clips]
    missing = [c for c in clips if not c.exists()]
    if missing:
        print(f"skipped: no clip at {missing[0]} (the clips live in ../shared/data)")
        return 0
    from lvc.models.zoo import load_image_model

    out_json = args.out / "inter_training_curve.json"
    doc = json.loads(out_json.read_text()) if out_json.exists() else {}
    if doc.get("frames") != args.frames or doc.get("qualities") != args.qualities:
        doc = {"frames": args.frames, "qualities": args.qualities, "crf": args.crf, "anchors": {}, "points": {}}
    sources: list[tuple[int, str | Path]] = [(int(s), m) for s, _, m in (x.partition("=") for x in args.point)]
    for spec in args.run:
        sources += run_checkpoints(spec, args.every)
    with tempfile.TemporaryDirectory(prefix="lvc-inter-curve-") as tmp:
        work = Path(tmp)
        for steps, source in sources:
            if str(steps) in doc["points"] and isinstance(source, Path):  # a run's checkpoints export to float
                continue
            t0 = time.perf_counter()
            path = export_temp(source, work) if isinstance(source, Path) else source
            model = load_image_model(str(path))
            arithmetic = "exact" if model.exact else "float"  # a calibrated file decodes exactly (issue 11)
            point_key = str(steps) if arithmetic == "float" else f"{steps} exact"
            # Points up to 5,287 steps were coded with one quality for every P-frame; the encoder's
            # P-frame offsets (lvc.codec.hierarchy) are part of the point, so the two never mix.
            point_key += f" p{_offsets(list(P_OFFSETS))}" if P_OFFSETS else ""
            point_key += f" {args.tag}" if args.tag else ""
            if point_key in doc["points"]:
                continue
            label = source.relative_to(ROOT / "runs").as_posix() if isinstance(source, Path) else source
            pt = {"steps": steps, "source": label, "weight_hash": model.weight_hash.hex(), "arithmetic": arithmetic,
                  "p_offsets": list(P_OFFSETS), "clips": {}, **({"tag": args.tag} if args.tag else {})}
            for clip in clips:
                key = clip.relative_to(args.data).as_posix()
                if key not in doc["anchors"]:  # the anchors do not change between points: once per clip
                    doc["anchors"][key] = {
                        "x264": summarise([x26x_point(clip, "x264", c, gop=12, frames=args.frames, workdir=work,
                                                      progress=False) for c in args.crf]),
                        "lvc all-intra": summarise([lvc_point(clip, q, gop=1, frames=args.frames, model=model,
                                                              device="cpu", workdir=work, progress=False)
                                                    for q in args.qualities])}
                ours = [lvc_point(clip, q, gop=12, frames=args.frames, model=model, device="cpu", workdir=work,
                                  progress=False) for q in args.qualities]
                a = doc["anchors"][key]
                pt["clips"][key] = {**summarise(ours),
                                    "bd_vs_x264": series_bd(_points(a["x264"]), ours, "psnr"),
                                    "bd_vs_intra": series_bd(_points(a["lvc all-intra"]), ours, "psnr")}
            doc["points"][point_key] = pt
            if not args.quiet:
                print(f"step {steps:5d} ({label}, {arithmetic}): " + "  ".join(
                    f"{Path(k).stem} {_fmt(v['bd_vs_x264'])} vs x264, {_fmt(v['bd_vs_intra'])} vs intra"
                    for k, v in pt["clips"].items()) + f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
            args.out.mkdir(parents=True, exist_ok=True)
            out_json.write_text(json.dumps(doc, indent=1))  # after every point: a long run keeps what it did
    if not doc["points"]:
        print("nothing to measure: give --point or --run")
        return 2
    write_md(doc, args.out / "inter_training_curve.md")
    plot(doc, args.out / "inter_training_curve.png")
    return 0


def _points(series: dict) -> list[RdPoint]:
    names = {f.name for f in fields(RdPoint)}  # as_dict adds derived values (bpp, kbps): not fields
    return [RdPoint(**{k: v for k, v in p.items() if k in names}) for p in series["points"]]


def _sorted_points(doc: dict) -> list[dict]:
    return sorted(doc["points"].values(), key=lambda p: (p["steps"], _kind(p)))


def _offsets(values: list[float]) -> str:
    return ",".join(f"{v:g}" for v in values) or "none"


def _kind(p: dict) -> str:
    """The arithmetic and the encoder's P-frame offsets a point was coded with."""
    offsets = p.get("p_offsets", [])
    return (p.get("arithmetic", "float") + (f", P offsets {_offsets(offsets)}" if offsets else "")
            + (f", {p['tag']}" if p.get("tag") else ""))


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.1f}%"


def write_md(doc: dict, path: Path) -> None:
    pts = _sorted_points(doc)
    clips = list(pts[0]["clips"])
    lines = [f"# Inter training curve ({doc['frames']} frames per clip, GOP 12, qualities "
             f"{' '.join(f'{q:g}' for q in doc['qualities'])}; `{HELD_OUT}` is held out of training)", "",
             "Arithmetic: `float` is the trained model as exported; `exact` is the calibrated file that ships, "
             "decoded in exact arithmetic (lvc.models.exact), which is what users get. P-frame offsets: the "
             "encoder's quality hierarchy (lvc.codec.hierarchy); `none` codes every P-frame at one quality.", "",
             "| steps | arithmetic | P-frame offsets | model | "
             + " | ".join(f"{Path(c).stem} vs x264 | vs all-intra" for c in clips)
             + " |", "|---|---|---|---|" + "---|---|" * len(clips)]
    for p in pts:
        cells = [f"{_fmt(p['clips'][c]['bd_vs_x264'])} | {_fmt(p['clips'][c]['bd_vs_intra'])}" for c in clips]
        lines.append(f"| {p['steps']}{' (' + p['tag'] + ')' if p.get('tag') else ''} | {p.get('arithmetic', 'float')} | "
                     f"{_offsets(p.get('p_offsets', []))} | "
                     f"`{p['source']}` ({p['weight_hash'][:8]}) | "
                     + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    every = _sorted_points(doc)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, clip in enumerate(every[0]["clips"]):
        colour = f"C{i}"
        for kind, style in zip(dict.fromkeys(_kind(p) for p in every), ("o-", "x--", "s:", "^-.")):
            pts = [p for p in every if _kind(p) == kind]
            steps = [p["steps"] for p in pts]
            label = Path(clip).stem + (" (held out)" if clip == HELD_OUT else "") + f", {kind}"
            for ax, key in ((ax1, "bd_vs_x264"), (ax2, "bd_vs_intra")):
                ax.plot(steps, [np.nan if p["clips"][clip][key] is None else p["clips"][clip][key] for p in pts],
                        style, color=colour, label=label)
    for ax, what in ((ax1, "BD-rate vs x264 GOP 12 (%)"), (ax2, "BD-rate vs lvc all-intra (%)")):
        ax.set_xlabel("inter training steps (batch 4, 6-P-frame rollouts on real video)")
        ax.set_ylabel(what + ", lower is better")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"lvc P-frames: rate–distortion against training ({doc['frames']} frames, GOP 12, real bytes)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
