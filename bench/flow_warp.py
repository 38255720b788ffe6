"""How much the encoder's motion explains on the real benchmark clips: warped prediction vs zero motion.

For the first ``--pairs`` consecutive frame pairs of each benchmark clip (never the training clips),
the shipped video model's RAFT estimates the flow from frame t to frame t-1, the encoder's refiner
(``lvc.codec.refine``) fits it to frame t, and frame t-1 is warped onto frame t by each. The RGB
PSNR of those predictions is compared with the PSNR of frame t-1 itself (zero motion). No coding
happens here: this isolates flow estimation from the motion codec.

    python bench/flow_warp.py [--pairs 8] [--model video-dct-hp]

Writes ``bench/results/flow_warp.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.video_rd import TRAINING_CLIPS, VIDEO_DIR  # noqa: E402
from lvc.metrics import psnr  # noqa: E402


def clip_scores(path: Path, inter, refiner, pairs: int) -> dict:  # noqa: ANN001
    import torch

    from lvc.codec.tensors import to_tensor, to_uint8
    from lvc.io.video import open_media
    from lvc.models.warp import warp

    _, frames = open_media(path)
    rgbs = [f.rgb for f in islice(frames, pairs + 1)]
    frames.close()
    warped, refined, zero = [], [], []
    with torch.inference_mode():
        for prev, cur in zip(rgbs, rgbs[1:]):
            ref, x = to_tensor(prev, "cpu"), to_tensor(cur, "cpu")
            flow = inter.flow(x, ref)
            warped.append(psnr(cur, to_uint8(warp(ref, flow))))
            if refiner is not None:
                refined.append(psnr(cur, to_uint8(warp(ref, refiner(x, ref, flow)))))
            zero.append(psnr(cur, prev))
    refined = refined or warped
    return {"clip": path.name, "pairs": len(warped), "psnr_warped": float(np.mean(warped)),
            "psnr_refined": float(np.mean(refined)), "psnr_zero_motion": float(np.mean(zero)),
            "gain_db": float(np.mean(warped) - np.mean(zero)),
            "refined_gain_db": float(np.mean(refined) - np.mean(zero))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=8)
    p.add_argument("--model", default=None, help="video model id or .pt file (default: the shipped one)")
    p.add_argument("--video-dir", type=Path, default=VIDEO_DIR)
    p.add_argument("--out", type=Path, default=ROOT / "bench/results")
    args = p.parse_args(argv)
    if not args.video_dir.exists():
        print(f"skipped: no video folder at {args.video_dir}")
        return 0
    from lvc.codec.tensors import codec_threads
    from lvc.codec.refine import warp_fit
    from lvc.models.zoo import DEFAULT_VIDEO_MODEL, load_image_model

    model = load_image_model(args.model or DEFAULT_VIDEO_MODEL)
    if model.inter is None or model.inter.flow is None:
        print(f"{model.model_id} has no flow estimator")
        return 1
    clips = sorted(c for c in args.video_dir.iterdir() if c.suffix in {".y4m", ".mp4"} and c.name not in TRAINING_CLIPS)
    rows = []
    with codec_threads():
        for clip in clips:
            t0 = time.perf_counter()
            rows.append(clip_scores(clip, model.inter, warp_fit(model.inter_spec), args.pairs))
            r = rows[-1]
            print(f"{r['clip']:>34}: RAFT {r['psnr_warped']:.2f} dB, refined {r['psnr_refined']:.2f} dB, "
                  f"zero motion {r['psnr_zero_motion']:.2f} dB  [{time.perf_counter() - t0:.0f} s]", flush=True)
    keys = ("psnr_warped", "psnr_refined", "psnr_zero_motion", "gain_db", "refined_gain_db")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    doc = {"date": time.strftime("%Y-%m-%d"), "model_id": model.model_id, "weight_hash": model.weight_hash.hex(),
           "pairs_per_clip": args.pairs, "clips": rows, "mean": mean}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "flow_warp.json").write_text(json.dumps(doc, indent=1))
    md = [f"# Warped prediction vs zero motion ({args.pairs} pairs per clip; model `{model.model_id}`, "
          f"{model.weight_hash.hex()})", "", "RGB PSNR in dB of frame t-1 warped onto frame t (no coding).", "",
          "| clip | zero motion | RAFT | RAFT + refinement | gain of RAFT | gain of RAFT + refinement |",
          "|---|---|---|---|---|---|"]
    row = ("| {} | {psnr_zero_motion:.2f} | {psnr_warped:.2f} | {psnr_refined:.2f} | {gain_db:+.2f} "
           "| {refined_gain_db:+.2f} |")
    md += [row.format(r["clip"], **r) for r in rows]
    md.append(row.format("**mean**", **mean))
    (args.out / "flow_warp.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
