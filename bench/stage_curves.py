"""Training curves of the inter-codec stages, from their Lightning CSV logs.

Each ``--stage NAME=metrics.csv`` (repeatable; several files of one name are consecutive runs,
e.g. a stage continued in a second lease) becomes one panel: its logged metrics against the
step, smoothed over ``--smooth`` logged rows because each row is one random batch.

    python bench/stage_curves.py --stage flow=runs/flow/log/version_0/metrics.csv --stage ...

Writes ``bench/results/inter_training_curves.{json,png}``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# What each stage's panel shows: the metrics that say whether it learned.
PANELS = {"flow": ("epe", "val_epe", "val_epe_zero_motion"), "flow_real": ("photometric",),
          "inter_motion": ("psnr_p1", "bpp_p1"),
          "inter_residual": ("psnr_p1", "bpp_p1"),
          # Each batch draws its own qualities, so PSNR and bpp swing with them; the RD loss is the objective.
          "inter_joint": ("loss",)}
YLABELS = {"flow": "EPE (px)", "flow_real": "photometric loss (Charbonnier + smoothness)",
           "inter_joint": "RD loss (λ·255²·MSE + bpp, per P-frame)"}


def read_runs(paths: list[Path]) -> tuple[dict[str, list[tuple[int, float]]], list[int]]:
    """Metric -> [(step, value)], the runs of ``paths`` laid end to end; and the steps where each
    run after the first begins."""
    series: dict[str, list[tuple[int, float]]] = {}
    offset = 0
    starts = []
    for path in paths:
        if offset:
            starts.append(offset)
        last = 0
        with path.open() as f:
            for row in csv.DictReader(f):
                step = int(float(row["step"])) + offset
                last = max(last, step)
                for k, v in row.items():
                    if k not in ("step", "epoch") and v:
                        series.setdefault(k, []).append((step, float(v)))
        offset = last + 1
    return series, starts


def smooth(values: list[float], n: int) -> list[float]:
    if n <= 1 or len(values) < n:
        return values
    kernel = np.ones(n) / n
    padded = np.concatenate([np.full(n - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid").tolist()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", action="append", required=True, help="NAME=path/to/metrics.csv (repeatable)")
    p.add_argument("--smooth", type=int, default=8)
    p.add_argument("--note", default="", help="a line for the JSON: what machine and data produced the logs")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results")
    args = p.parse_args(argv)
    files: dict[str, list[Path]] = {}
    for item in args.stage:
        name, _, path = item.partition("=")
        files.setdefault(name, []).append(Path(path))
    stages = {}
    for name, paths in files.items():
        series, starts = read_runs(paths)
        keep = [k for k in PANELS.get(name, tuple(series)) if k in series]
        stages[name] = {"sources": [str(p) for p in paths], "continued_at": starts,
                        "metrics": {k: {"step": [s for s, _ in series[k]],
                                        "value": [round(v, 5) for _, v in series[k]]} for k in keep}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "inter_training_curves.json").write_text(json.dumps({"note": args.note, "stages": stages}, indent=1))
    plot(stages, args.smooth, args.out / "inter_training_curves.png")
    for name, st in stages.items():
        ends = ", ".join(f"{k} {np.mean(m['value'][-args.smooth:]):.3f}" for k, m in st["metrics"].items())
        print(f"{name}: {max(max(m['step']) for m in st['metrics'].values())} steps; last {args.smooth} rows: {ends}")
    return 0


def plot(stages: dict, n: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(stages), figsize=(4.2 * len(stages), 3.6), squeeze=False)
    for ax, (name, st) in zip(axes[0], stages.items()):
        twin = None
        for k, m in st["metrics"].items():
            on_twin = k.startswith("bpp")
            if on_twin and twin is None:
                twin = ax.twinx()
            target = twin if on_twin else ax
            target.plot(m["step"], smooth(m["value"], 1 if k.startswith("val") else n), ls="--" if on_twin else "-",
                        label=k)
        for step in st["continued_at"]:
            ax.axvline(step, color="grey", lw=0.8, ls=":")
        ax.set_title(name + (" (dotted: continued)" if st["continued_at"] else ""))
        ax.set_xlabel("step")
        ax.set_ylabel(YLABELS.get(name, "PSNR (dB)"))
        if twin is not None:
            twin.set_ylabel("bpp (estimate, training batch)")
        lines = [ln for a in (ax, twin) if a is not None for ln in a.get_lines() if not ln.get_label().startswith("_")]
        ax.legend(lines, [ln.get_label() for ln in lines], fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle("Inter-codec training stages")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    sys.exit(main())
