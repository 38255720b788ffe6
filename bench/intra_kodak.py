"""Intra benchmark on Kodak: lvc against JPEG, JPEG 2000 and HEVC intra, measured in one run.

    python bench/intra_kodak.py [--kodak DIR] [--images N] [--qualities Q ...] [--out DIR] [--quiet]

Every codec writes real bytes; bpp comes from them. Per image and setting it records bytes, bpp,
RGB PSNR, Y PSNR, MS-SSIM and encode/decode seconds; per setting the averages over images (mean
bpp and mean PSNR, as CompressAI reports). Then Bjøntegaard deltas (PCHIP, on the averaged
curves) of lvc against each anchor and of JPEG 2000 and HEVC against JPEG as a sanity check.
Writes ``intra_kodak.json`` (everything), ``intra_kodak.md`` and ``intra_kodak.png`` under ``--out``.
A codec that cannot run here (no x265, no lvc weights) is reported and skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as `python bench/intra_kodak.py`
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench import anchors  # noqa: E402
from lvc.metrics import bd_psnr, bd_rate, bpp, ms_ssim, ms_ssim_db, psnr, psnr_y  # noqa: E402
from lvc.tools.json_doc import json_safe  # noqa: E402

DEFAULT_KODAK = REPO_ROOT.parent / "shared" / "data" / "kodak"
DEFAULT_OUT = REPO_ROOT / "bench" / "results"
DEFAULT_QUALITIES = (1, 2, 3, 4, 5, 6, 7, 8)
KODAK_PIXELS = 768 * 512

PUBLISHED: dict[str, dict[str, list[float]]] = {
    # DESIGN.md §7: published RGB PSNR on all 24 Kodak images.
    "JPEG 2000 (published)": {"bpp": [0.25, 0.5, 1.0], "psnr": [28.6, 31.3, 34.7]},
    "Ballé 2018 hyperprior (published)": {"bpp": [0.25, 0.5, 1.0], "psnr": [30.0, 33.1, 37.1]},
    "BPG (published)": {"bpp": [0.25, 0.5, 1.0], "psnr": [30.3, 33.3, 37.2]},
}

# (anchor, test): lvc against every anchor, then the anchors against JPEG as a sanity check.
BD_PAIRS: tuple[tuple[str, str], ...] = (
    ("jpeg", "lvc"), ("j2k", "lvc"), ("hevc", "lvc"), ("jpeg", "j2k"), ("jpeg", "hevc"))

# An anchor gives an AnchorResult; lvc also a dict of extra per-image numbers (its z bytes).
Runner = Callable[[np.ndarray, float], "anchors.AnchorResult | tuple[int, np.ndarray, float, float, dict[str, float]]"]
CODEC_KEYS = ("lvc", "jpeg", "j2k", "hevc")


@dataclass
class Codec:
    """One codec under test: a runner called once per (image, setting)."""

    key: str
    label: str
    param_name: str
    params: list[float]
    run: Runner
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- codecs


def lvc_codec(qualities: Sequence[float], model_id: str | None) -> Codec:
    """lvc through ``lvc.image``; the model is loaded once, here."""
    from lvc import image as lvc_image

    model = lvc_image.load_codec(model_id)

    def run(rgb: np.ndarray, quality: float) -> anchors.AnchorResult:
        t0 = time.perf_counter()
        data = lvc_image.encode_image(rgb, float(quality), model=model)
        t1 = time.perf_counter()
        decoded, parts = lvc_image.decode_image_parts(data, model=model)
        t2 = time.perf_counter()
        return len(data), np.asarray(decoded), t1 - t0, t2 - t1, {"hyper_bytes": parts["hyper"]}

    weight_hash = getattr(model, "weight_hash", None)
    info = {
        "model_id": getattr(model, "model_id", model_id),
        "weight_hash": weight_hash.hex() if isinstance(weight_hash, (bytes, bytearray)) else weight_hash,
    }
    return Codec("lvc", "lvc", "quality", list(qualities), run, info)


def anchor_codec(key: str) -> Codec:
    """The anchor ``key`` (jpeg, j2k or hevc); raises :class:`anchors.AnchorUnavailable` if it cannot run."""
    if key == "jpeg":
        return Codec("jpeg", "JPEG (Pillow)", "quality", list(anchors.JPEG_QUALITIES), anchors.jpeg,
                     {"subsampling": "4:2:0 (Pillow default)", "optimize": False})
    if key == "j2k":
        anchors.j2k(np.zeros((16, 16, 3), np.uint8), 24)  # fails here, not mid-run, if OpenJPEG is missing
        return Codec("j2k", "JPEG 2000 (OpenJPEG)", "ratio", list(anchors.J2K_RATIOS), anchors.j2k,
                     {"irreversible": True, "mct": 1, "quality_mode": "rates", "stream": "j2k codestream"})
    if key == "hevc":
        pix_fmt = anchors.hevc_pix_fmt()
        return Codec("hevc", f"HEVC intra (x265, {pix_fmt})", "qp", list(anchors.HEVC_QPS), anchors.hevc,
                     {"encoder": anchors.HEVC_ENCODER, "pix_fmt": pix_fmt, "preset": anchors.HEVC_PRESET,
                      "tune": anchors.HEVC_TUNE, "colour": "full-range BT.601", "stream": "Annex B, no container"})
    raise ValueError(f"unknown anchor {key!r}, expected jpeg, j2k or hevc")


def setup_codecs(args: argparse.Namespace) -> tuple[list[Codec], dict[str, str]]:
    """Build the requested codecs; those that cannot run are returned as ``{key: reason}``."""
    codecs, skipped = [], {}
    for key in args.codecs:
        try:
            codecs.append(lvc_codec(args.qualities, args.model) if key == "lvc" else anchor_codec(key))
        except Exception as e:  # noqa: BLE001 - any setup failure skips that codec, with its reason
            skipped[key] = f"{type(e).__name__}: {e}"
            print(f"{key}: skipped ({skipped[key]})", flush=True)
    return codecs, skipped


# --------------------------------------------------------------------------- measuring


def measure(codec: Codec, rgb: np.ndarray, param: float) -> dict[str, float]:
    """Code one image at one setting and measure it (lvc also says how many of its bytes are z's)."""
    num_bytes, decoded, enc_s, dec_s, *extra = codec.run(rgb, param)
    if decoded.shape != rgb.shape or decoded.dtype != np.uint8:
        raise RuntimeError(
            f"{codec.key} at {codec.param_name}={param} decoded {decoded.shape} {decoded.dtype}, "
            f"expected {rgb.shape} uint8")
    h, w = rgb.shape[:2]
    return {
        "bytes": num_bytes, "bpp": bpp(num_bytes, h, w), "psnr": psnr(rgb, decoded), "psnr_y": psnr_y(rgb, decoded),
        "ms_ssim": ms_ssim(rgb, decoded), "enc_s": enc_s, "dec_s": dec_s, **(extra[0] if extra else {}),
    }


def summarise(per_image: list[dict[str, Any]]) -> dict[str, float]:
    """Averages over images of one setting; MS-SSIM dB is taken of the mean MS-SSIM."""
    keys = ("bytes", "bpp", "psnr", "psnr_y", "ms_ssim", "enc_s", "dec_s")
    out = {k: statistics.fmean(r[k] for r in per_image) for k in keys}
    out["ms_ssim_db"] = ms_ssim_db(out["ms_ssim"])
    if "hyper_bytes" in per_image[0]:  # z's share of all the bytes at this setting
        out["z_share"] = sum(r["hyper_bytes"] for r in per_image) / sum(r["bytes"] for r in per_image)
    return out


def bd_table(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """BD-rate (PSNR and MS-SSIM dB) and BD-PSNR for every pair in :data:`BD_PAIRS` that ran."""
    rows = []
    for anchor, test in BD_PAIRS:
        if anchor not in results or test not in results:
            continue
        a, b = results[anchor]["points"], results[test]["points"]
        row: dict[str, Any] = {"anchor": anchor, "test": test}
        for name, fn, metric in (("bd_rate_psnr", bd_rate, "psnr"), ("bd_rate_ms_ssim", bd_rate, "ms_ssim_db"),
                                 ("bd_psnr", bd_psnr, "psnr")):
            try:
                row[name] = fn([p["bpp"] for p in a], [p[metric] for p in a],
                               [p["bpp"] for p in b], [p[metric] for p in b])
            except ValueError as e:
                row[name] = None
                row[f"{name}_error"] = str(e)
        rows.append(row)
    return rows


def speed_table(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """Median encode/decode seconds per 768x512 (or 512x768) image, over all images and settings."""
    out = {}
    for key, res in results.items():
        recs = [r for p in res["points"] for r in p["images"] if r["height"] * r["width"] == KODAK_PIXELS]
        out[key] = {
            "enc_s_median": statistics.median(r["enc_s"] for r in recs) if recs else None,
            "dec_s_median": statistics.median(r["dec_s"] for r in recs) if recs else None,
            "samples": len(recs),
        }
    return out


def machine() -> dict[str, Any]:
    import os

    import av
    import PIL
    import torch

    return {
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "numpy": np.__version__, "pillow": PIL.__version__,
        "av": av.__version__,
    }


# --------------------------------------------------------------------------- reports


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None or not math.isfinite(x) else format(x, spec)


def rd_rows(res: dict[str, Any]) -> list[list[str]]:
    return [[_fmt(p["param"], "g"), _fmt(p["bpp"], ".4f"), _fmt(p["psnr"], ".3f"), _fmt(p["ms_ssim"], ".5f"),
             _fmt(p["ms_ssim_db"], ".3f"), _fmt(1e3 * p["enc_s"], ".1f"), _fmt(1e3 * p["dec_s"], ".1f"),
             _fmt(100 * p["z_share"], ".1f") if "z_share" in p else "-"]
            for p in res["points"]]


RD_HEADER = ["setting", "bpp", "PSNR dB", "MS-SSIM", "MS-SSIM dB", "enc ms", "dec ms", "z %"]
BD_HEADER = ["test vs anchor", "BD-rate PSNR %", "BD-rate MS-SSIM %", "BD-PSNR dB"]


def bd_cells(row: dict[str, Any]) -> list[str]:
    return [f"{row['test']} vs {row['anchor']}", _fmt(row["bd_rate_psnr"], "+.2f"),
            _fmt(row["bd_rate_ms_ssim"], "+.2f"), _fmt(row["bd_psnr"], "+.3f")]


def print_report(report: dict[str, Any]) -> None:
    for key, res in report["codecs"].items():
        print(f"\n{res['label']}  ({res['param_name']}, mean over {report['num_images']} images)")
        print("  ".join(f"{h:>10}" for h in RD_HEADER))
        for row in rd_rows(res):
            print("  ".join(f"{c:>10}" for c in row))
    for key, reason in report["skipped"].items():
        print(f"\n{key}: skipped ({reason})")
    if report["bd"]:
        print("\nBjøntegaard deltas (PCHIP, averaged curves; negative BD-rate = test saves bits)")
        print("  ".join(f"{h:>18}" for h in BD_HEADER))
        for row in report["bd"]:
            print("  ".join(f"{c:>18}" for c in bd_cells(row)))
    print("\nmedian seconds per 768x512 image (encode / decode)")
    for key, s in report["speed"].items():
        print(f"  {key:>5}: {_fmt(s['enc_s_median'], '.3f')} / {_fmt(s['dec_s_median'], '.3f')}")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Intra coding on Kodak", "",
        f"{report['num_images']} images from `{report['kodak']}`, {report['date']}; "
        f"{m['platform']}, {m['cpu_count']} CPUs, torch {m['torch']}.",
        "Averages over images per setting (mean bpp from real bytes, mean RGB PSNR, mean MS-SSIM).", "",
    ]
    for key, res in report["codecs"].items():
        info = ", ".join(f"{k}={v}" for k, v in res["info"].items())
        lines += [f"## {res['label']}", "", f"Setting: {res['param_name']}. {info}", ""]
        lines += _md_table(RD_HEADER, rd_rows(res)) + [""]
    for key, reason in report["skipped"].items():
        lines += [f"**{key} skipped:** {reason}", ""]
    if report["bd"]:
        lines += ["## Bjøntegaard deltas", "",
                  "PCHIP over the overlapping range of the averaged curves; MS-SSIM in dB. Negative BD-rate: "
                  "the test codec needs fewer bits for the same quality.", ""]
        lines += _md_table(BD_HEADER, [bd_cells(r) for r in report["bd"]]) + [""]
        errors = [f"- {r['test']} vs {r['anchor']}: {v}"
                  for r in report["bd"] for k, v in r.items() if k.endswith("_error")]
        lines += errors + ([""] if errors else [])
    lines += ["## Speed", "", "Median seconds per 768x512 image, over all images and settings.", ""]
    lines += _md_table(["codec", "encode s", "decode s", "samples"],
                       [[k, _fmt(s["enc_s_median"], ".3f"), _fmt(s["dec_s_median"], ".3f"), str(s["samples"])]
                        for k, s in report["speed"].items()]) + [""]
    lines += ["Published full-Kodak reference points (DESIGN.md §7), RGB PSNR at 0.25 / 0.5 / 1.0 bpp: "
              + "; ".join(f"{k}: {' / '.join(str(v) for v in p['psnr'])} dB" for k, p in PUBLISHED.items()) + "."]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_p, ax_m) = plt.subplots(1, 2, figsize=(12, 5))
    for res in report["codecs"].values():
        pts = sorted(res["points"], key=lambda p: p["bpp"])
        x = [p["bpp"] for p in pts]
        style = "o-" if res["key"] == "lvc" else ".-"
        ax_p.plot(x, [p["psnr"] for p in pts], style, label=res["label"])
        ax_m.plot(x, [p["ms_ssim_db"] for p in pts], style, label=res["label"])
    for (name, ref), marker in zip(PUBLISHED.items(), ("s", "^", "D")):
        ax_p.plot(ref["bpp"], ref["psnr"], marker, linestyle="none", markerfacecolor="none", markersize=8, label=name)
    ax_p.set(xlabel="bpp", ylabel="RGB PSNR (dB)", title=f"Kodak ({report['num_images']} images)", xlim=(0, 2.2))
    ax_m.set(xlabel="bpp", ylabel="MS-SSIM (dB) = -10 log10(1 - MS-SSIM)", title="MS-SSIM", xlim=(0, 2.2))
    for ax in (ax_p, ax_m):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kodak", type=Path, default=DEFAULT_KODAK, help="folder of Kodak PNGs (default: %(default)s)")
    p.add_argument("--images", type=int, default=None, help="code only the first N images (sorted by name)")
    p.add_argument("--qualities", type=float, nargs="+", default=list(DEFAULT_QUALITIES), help="lvc qualities")
    p.add_argument("--codecs", nargs="+", default=list(CODEC_KEYS), choices=CODEC_KEYS,
                   help="codecs to run (default: all)")
    p.add_argument("--model", default=None, help="lvc model id (default: lvc's default image model)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no per-image progress lines")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    paths = sorted(args.kodak.glob("*.png")) if args.kodak.is_dir() else []
    if not paths:
        print(f"skipped: no Kodak PNGs in {args.kodak}")
        return 0
    if args.images is not None:
        paths = paths[: args.images]

    codecs, skipped = setup_codecs(args)
    per_setting: dict[str, list[list[dict[str, Any]]]] = {c.key: [[] for _ in c.params] for c in codecs}
    for i, path in enumerate(paths):
        rgb = np.array(Image.open(path).convert("RGB"))
        h, w = rgb.shape[:2]
        spent = []
        for c in codecs:
            t0 = time.perf_counter()
            for j, param in enumerate(c.params):
                rec = measure(c, rgb, param)
                per_setting[c.key][j].append({"image": path.name, "height": h, "width": w, **rec})
            spent.append(f"{c.key} {time.perf_counter() - t0:.1f}s")
        if not args.quiet:
            print(f"[{i + 1:2d}/{len(paths)}] {path.name} {w}x{h}  " + "  ".join(spent), flush=True)

    results = {
        c.key: {"key": c.key, "label": c.label, "param_name": c.param_name, "info": c.info,
                "points": [{"param": p, **summarise(recs), "images": recs}
                           for p, recs in zip(c.params, per_setting[c.key])]}
        for c in codecs
    }
    report = {
        "benchmark": "intra_kodak", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kodak": str(args.kodak), "num_images": len(paths), "images": [p.name for p in paths],
        "machine": machine(), "codecs": results, "skipped": skipped, "bd": bd_table(results),
        "speed": speed_table(results), "published": PUBLISHED,
        "lvc": results.get("lvc", {}).get("info"),
    }
    print_report(report)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "intra_kodak.json").write_text(json.dumps(json_safe(report), indent=1) + "\n")
    (args.out / "intra_kodak.md").write_text(markdown(report))
    plot(report, args.out / "intra_kodak.png")
    print(f"\nwrote {args.out / 'intra_kodak.json'}, .md and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
