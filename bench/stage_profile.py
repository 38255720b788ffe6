"""Where the time goes: ms per frame and MACs per pixel of every encoder and decoder stage.

The clip is ``bench/speed.py``'s (a pan across a real frame), coded as ``lvc encode`` codes it by
default (the shipped video model, GOP 12, quality 4, the default preset) and decoded again. Each
stage is a module, a method or a function of the shipped codec, timed *exclusively* (a stage
nested inside another is subtracted from its parent), so the rows add up to the frame's time;
``other`` is what no stage covers (frame <-> tensor, CRC, Python). MACs are those of convolutions
and matrix products (``torch.utils.flop_counter``), counted in a second pass so that counting does
not slow the timed one.

    python bench/stage_profile.py [--size 832x480] [--frames 13] [--model FILE] [--quiet]

Writes ``bench/results/stage_profile.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.speed import make_clip  # noqa: E402


class StageClock:
    """Exclusive wall time and MACs per (pass, frame type, stage); stages nest, children are subtracted."""

    def __init__(self, flops: FlopCounterMode | None = None) -> None:
        self.flops = flops
        self.where = ("encode", "I")  # the pass and frame type being timed, set by the frame loop
        self.ms: dict[tuple[str, str, str], float] = defaultdict(float)
        self.macs: dict[tuple[str, str, str], float] = defaultdict(float)
        self._stack: list[list[float]] = []  # per open stage: [start s, start flops, child s, child flops]

    def _total_flops(self) -> float:
        return float(self.flops.get_total_flops()) if self.flops is not None else 0.0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        entry = [time.perf_counter(), self._total_flops(), 0.0, 0.0]
        self._stack.append(entry)
        try:
            yield
        finally:
            self._stack.pop()
            dt, df = time.perf_counter() - entry[0], self._total_flops() - entry[1]
            self.ms[(*self.where, name)] += 1e3 * (dt - entry[2])
            self.macs[(*self.where, name)] += (df - entry[3]) / 2
            if self._stack:
                self._stack[-1][2] += dt
                self._stack[-1][3] += df

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            with self.stage(name):
                return fn(*args, **kwargs)
        return timed


def instrument(clock: StageClock, stack: ExitStack, model, search) -> None:  # noqa: ANN001
    """Time the stages of ``model`` (a LoadedModel) and the encoder's motion ``search`` by wrapping
    their modules' ``forward``, the entropy coders' methods and the warp; undone when ``stack`` closes."""
    import lvc.models.compensation as compensation_mod

    def patch(obj, attr: str, name: str) -> None:  # noqa: ANN001
        if obj is not None:
            setattr(obj, attr, clock.wrap(name, getattr(obj, attr)))
            stack.callback(vars(obj).pop, attr, None)  # the instance attribute shadowed the class's method

    def codec_parts(codec, prefix: str) -> None:  # noqa: ANN001
        for part, label in (("g_a", "g_a"), ("h_a", "h_a"), ("h_s", "h_s"), ("context", "context model"),
                            ("g_s", "g_s"), ("conditioner", "conditioner"),
                            ("spatial", "spatial context")):
            patch(getattr(codec, part), "forward", f"{prefix} {label}")
        patch(getattr(codec.g_s, "refine", None), "forward", f"{prefix} g_s full-res refine")
        for coder in (codec.hyper_prior, codec.conditional):
            for method in ("compress", "decompress"):
                patch(coder, method, f"{prefix} entropy coding")

    codec_parts(model.codec, "intra")
    if model.inter is not None:
        codec_parts(model.inter.motion, "motion")
        codec_parts(model.inter.residual, "residual")
        patch(model.inter.compensation.body, "forward", "compensation refine")
        patch(model.inter.flow, "forward", "RAFT")
        patch(search.refiner, "forward", "flow fit")
        original_warp = compensation_mod.warp
        compensation_mod.warp = clock.wrap("warp", original_warp)
        stack.callback(setattr, compensation_mod, "warp", original_warp)


def run(model, clip: Path, frames: int, flops: bool) -> tuple[StageClock, dict[tuple[str, str], float], dict[str, int]]:  # noqa: ANN001
    """Encode then decode the first ``frames`` of ``clip`` with ``model`` (a LoadedModel), every stage
    timed; returns the clock, the total ms of each (pass, frame type), and the count of each frame type
    (the schedule's: GOP 12)."""
    from lvc.codec.decoder import VideoDecoder
    from lvc.codec.encoder import build_encoder
    from lvc.format import bitstream as bs
    from lvc.io.video import open_media

    info, source = open_media(clip)
    enc = build_encoder(model, width=info.width, height=info.height, quality=4.0, gop=12)
    dec = VideoDecoder(load_model=lambda *_: model)
    counter = FlopCounterMode(display=False) if flops else None
    clock = StageClock(counter)
    totals: dict[tuple[str, str], float] = defaultdict(float)
    counts = {"I": 0, "P": 0}
    units = []
    with ExitStack() as stack:
        instrument(clock, stack, model, enc.inter.search)
        if counter is not None:
            stack.enter_context(counter)
        for i, frame in zip(range(frames), source):
            kind = "I" if i % 12 == 0 else "P"
            clock.where = ("encode", kind)
            t = time.perf_counter()
            with clock.stage("other"):
                data = enc.encode(frame.rgb).data
            totals["encode", kind] += 1e3 * (time.perf_counter() - t)
            counts[kind] += 1
            units.append((list(bs.iter_sized_units(data, elementary=False)), kind))
        for parsed, kind in units:
            clock.where = ("decode", kind)
            t = time.perf_counter()
            with clock.stage("other"):
                for _ in dec.decode_units(parsed):
                    pass
            totals["decode", kind] += 1e3 * (time.perf_counter() - t)
    return clock, totals, counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="832x480")
    ap.add_argument("--frames", type=int, default=13, help="frames coded (GOP 12: an I-frame, then P-frames)")
    ap.add_argument("--out", default=str(ROOT / "bench/results/stage_profile"))
    ap.add_argument("--model", default=None, help="an installed video model or a .pt file (default: the shipped one)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    from lvc.models.zoo import default_model_id, load_image_model

    model_id = args.model or default_model_id(still=False)
    model = load_image_model(model_id)
    counted_frames = min(args.frames, 3)  # an I-frame, then P-frames with and without a previous flow
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.y4m", w, h, args.frames)
        timed, totals, counts = run(model, clip, args.frames, flops=False)
        counted, _, counted_n = run(model, clip, counted_frames, flops=True)
    rows = [{"pass": p, "frame": kind, "stage": stage, "ms_per_frame": ms / counts[kind],
             "macs_per_pixel": counted.macs.get((p, kind, stage), 0.0) / max(counted_n[kind], 1) / (w * h)}
            for (p, kind, stage), ms in sorted(timed.ms.items(), key=lambda kv: (kv[0][:2], -kv[1]))]
    result = {"size": args.size, "model": model_id, "frames": counts,
              "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
              "fps": {p: sum(counts.values()) / (sum(v for k, v in totals.items() if k[0] == p) / 1e3)
                      for p in ("encode", "decode")},
              "ms_per_frame": {f"{p} {k}": v / counts[k] for (p, k), v in totals.items()},
              "stages": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    out.with_suffix(".md").write_text(render(result))
    if not args.quiet:
        print(render(result))
    return 0


def render(result: dict) -> str:
    """The profile as Markdown: one table per pass and frame type."""
    lines = [f"# lvc profile at {result['size']} ({result['model']}, quality 4, GOP 12, default preset)", "",
             f"{result['frames']['I']} I- and {result['frames']['P']} P-frames: encode {result['fps']['encode']:.2f} fps, "
             f"decode {result['fps']['decode']:.2f} fps ({result['threads']} threads; `python bench/stage_profile.py "
             f"--size {result['size']}`). Stage times are exclusive (a nested stage is subtracted from its parent), "
             "so each table adds up to the frame's time; `other` is what no stage covers. MACs count "
             "convolutions and matrix products only.", ""]
    for key, total in result["ms_per_frame"].items():
        p, kind = key.split()
        lines += [f"## {p}, {kind}-frames: {total:.0f} ms per frame", "",
                  "| stage | ms per frame | share | kMAC per pixel |", "|---|---|---|---|"]
        for r in result["stages"]:
            if (r["pass"], r["frame"]) == (p, kind):
                lines.append(f"| {r['stage']} | {r['ms_per_frame']:.1f} | {100 * r['ms_per_frame'] / total:.0f} % "
                             f"| {r['macs_per_pixel'] / 1e3:.1f} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
