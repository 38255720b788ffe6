"""The ``lvc`` command: ``encode``, ``decode``, ``info``, ``inspect`` and ``compare``; ``main(argv) -> int``.

Heavy imports (torch, PyAV) happen inside the commands, so ``lvc --help`` and ``lvc info`` start
fast, and the inputs, outputs and options are checked before torch loads, so a mistake is reported in
a fraction of a second. Every failure a user can cause ends in one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from lvc import __version__
from lvc.codec.hierarchy import P_OFFSETS, parse_offsets
from lvc.codec.presets import DEFAULT_PRESET, PRESETS
from lvc.codec.ratecontrol import parse_bitrate, parse_size
from lvc.errors import InputError, LvcError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
DEFAULT_GOP = 12  # lvc.api.DEFAULT_GOP, repeated so --help needs no torch
PLAYER_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"}  # names a player opens as its own video
PRESET_HELP = ("encoder effort: fast, medium (default), slow, veryslow; slower presets search the motion "
               "harder for fewer bits, and decode at the same speed")


T = TypeVar("T")


def _parsed(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a parser that raises ValueError with the message to show."""
    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return convert


def _gop(text: str) -> int:
    if text == "auto":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"GOP must be >= 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lvc", description="lvc: a learned video codec.")
    p.add_argument("--version", action="version", version=f"lvc {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--frames", type=int, help="code at most N frames")
    common.add_argument("--start", type=float, help="start at T seconds (decode: at the I-frame before T)")
    common.add_argument("--device", default="cpu", help="cpu or cuda")
    common.add_argument("-y", "--overwrite", action="store_true", help="overwrite existing outputs")
    common.add_argument("--quiet", action="store_true", help="no progress bar and no summary")

    e = sub.add_parser("encode", parents=[common], help="encode an image or video to .lvc")
    e.add_argument("input", help="any image or video PyAV reads (mp4, mkv, webm, mov, y4m, png, jpg, ...)")
    e.add_argument("-o", "--output", required=True, help="output .lvc file")
    e.add_argument("-q", "--quality", type=float, default=None,
                   help="1 (smallest) .. 8 (best), default 4; fractions allowed (with --bitrate/--size: the "
                        "first frame's)")
    rate = e.add_mutually_exclusive_group()
    rate.add_argument("-b", "--bitrate", type=_parsed(parse_bitrate),
                      help="target average bitrate, e.g. 500k or 1.5M (bits/s); each frame's quality is chosen "
                           "to meet it")
    rate.add_argument("--size", type=_parsed(parse_size),
                      help="target file size, e.g. 300k or 2MB (bytes; audio and container included)")
    e.add_argument("-g", "--gop", type=_gop, default=DEFAULT_GOP,
                   help=f"intra period (1 = all-intra; default {DEFAULT_GOP}); 'auto' adds scene-cut detection")
    e.add_argument("--recon", help="also write the encoder's reconstruction (.png, folder, .y4m or .mp4)")
    e.add_argument("--preset", choices=list(PRESETS), default=DEFAULT_PRESET, help=PRESET_HELP)
    e.add_argument("--no-mode-decision", dest="mode_decision", action="store_false",
                   help="code every frame as the GOP schedule says (by default a P-frame that would cost more "
                        "than an I-frame, in rate-distortion terms, is coded as I)")
    e.add_argument("--intra-boost", type=float, default=None, metavar="STEPS",
                   help="code each GOP's I-frame this many quality steps above its P-frames, which all predict "
                        "from it (default 1; 0: one quality for all)")
    e.add_argument("--p-offsets", type=_parsed(parse_offsets), default=None, metavar="STEPS,...",
                   help="quality steps added to the 1st, 2nd, ... P-frame after each I-frame, in a cycle; give "
                        "negative ones with '=', e.g. --p-offsets=-1,0.25,-1,-0.15 (default "
                        f"{','.join(f'{v:g}' for v in P_OFFSETS) or '0'}; 0: one quality for every P-frame)")
    e.add_argument("--model", default=None,
                   help="model id or .pt weight file (default: the shipped video model; the image model for a still)")
    e.add_argument("--no-audio", dest="audio", action="store_false",
                   help="leave the source's audio out (by default the part under the coded frames is copied)")

    d = sub.add_parser("decode", parents=[common], help="decode .lvc to frames")
    d.add_argument("input", help=".lvc file")
    d.add_argument("-o", "--output", required=True,
                   help=".png (one image), folder or %%d pattern of PNGs, .y4m, - (y4m on stdout), or .mp4 (for "
                        "viewing: x264 CRF 18, YUV 4:2:0; 4:4:4 at an odd size)")
    d.add_argument("--lossless", action="store_true",
                   help=".mp4: the decoded RGB exactly (libx264rgb, qp 0; few players show it); PNGs always are")

    i = sub.add_parser("info", help="print the stream header (does not load torch)")
    i.add_argument("input", help=".lvc file")

    outputs = argparse.ArgumentParser(add_help=False)
    outputs.add_argument("--device", default="cpu", help="cpu or cuda")
    outputs.add_argument("-y", "--overwrite", action="store_true", help="overwrite existing outputs")

    n = sub.add_parser("inspect", parents=[outputs], help="frame-by-frame bytes and quality of an .lvc file")
    n.add_argument("--quiet", action="store_true", help="no progress and no table")
    n.add_argument("input", help=".lvc file")
    n.add_argument("--ref", help="the source it was encoded from: adds RGB PSNR, Y PSNR and MS-SSIM per frame")
    n.add_argument("--csv", help="write the per-frame records as CSV")
    n.add_argument("--json", help="write the records, GOP and clip summaries as JSON")
    n.add_argument("--plot", help="write bits and PSNR per frame as a PNG (needs matplotlib)")
    n.add_argument("--frames", help="frames to picture with --dump/--html, e.g. 10,20-25 (from 0; default: up to "
                                    "30 spread over the clip)")
    n.add_argument("--dump", help="folder: one panel PNG per chosen frame (source, decoded, error; P: flow, "
                                  "prediction, residual)")
    n.add_argument("--html", help="write one self-contained HTML page: plots and a frame scrubber (needs matplotlib)")

    c = sub.add_parser("compare", parents=[outputs], help="RD table and BD-rates: lvc vs x264 and x265 on a clip")
    c.add_argument("--quiet", action="store_true", help="no progress (the table is still printed)")
    c.add_argument("input", help="any video (or image) PyAV reads")
    c.add_argument("--qualities", default="2,4,6,8", help="lvc qualities, comma-separated (default 2,4,6,8)")
    c.add_argument("--crf", default="22,27,32,37", help="x264/x265 CRFs, comma-separated (default 22,27,32,37)")
    c.add_argument("-g", "--gop", type=_gop_fixed, default=DEFAULT_GOP,
                   help=f"intra period for every codec (default {DEFAULT_GOP})")
    c.add_argument("--frames", type=int, default=30, help="compare the first N frames (default 30)")
    c.add_argument("--plot", help="write the RD curves as a PNG (needs matplotlib)")
    c.add_argument("--json", help="write every point and the BD-rates as JSON")
    c.add_argument("--model", default=None, help="lvc model id or .pt weight file (default: the shipped video model)")
    c.add_argument("--preset", choices=list(PRESETS), default=DEFAULT_PRESET, help=PRESET_HELP)
    return p


def _gop_fixed(text: str) -> int:
    value = _gop(text)
    if value == 0:
        raise argparse.ArgumentTypeError("compare needs a fixed GOP that x264 and x265 can match, got 'auto'")
    return value


def _device(name: str) -> str:
    """``name`` if it is a device lvc runs on; torch is asked only for CUDA (the one case that needs it)."""
    if name != "cpu" and not (name == "cuda" or name.startswith("cuda:") and name[5:].isdigit()):
        raise LvcError(f"--device must be cpu or cuda (or cuda:N), got {name!r}")
    if name.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise LvcError(f"--device {name}: no CUDA device is available")
    return name


def cmd_encode(args: argparse.Namespace) -> int:
    from lvc import api

    if Path(args.output).suffix.lower() in PLAYER_SUFFIXES:
        # It works (the .lvc container is MP4), but a player shows such a file without video.
        print(f"lvc: warning: {args.output} will hold an lvc stream, which players show without video; name it "
              ".lvc (and decode it to .mp4 to watch)", file=sys.stderr)
    summary = api.encode(args.input, args.output, quality=args.quality, gop=args.gop or DEFAULT_GOP,
                         scene_cuts=args.gop == 0, frames=args.frames, start=args.start, recon=args.recon,
                         model=args.model, device=_device(args.device),
                         overwrite=args.overwrite, progress=not args.quiet, mode_decision=args.mode_decision,
                         preset=args.preset, bitrate=args.bitrate, size=args.size, audio=args.audio,
                         intra_boost=args.intra_boost, p_offsets=args.p_offsets)
    if not args.quiet:
        print(f"{args.output}: {summary.line()}")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from lvc import api

    summary = api.decode(args.input, args.output, frames=args.frames, start=args.start,
                         device=_device(args.device), overwrite=args.overwrite, progress=not args.quiet,
                         lossless=args.lossless)
    if not args.quiet and args.output != "-":
        print(f"{args.output}: {summary.line()}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from lvc.io.container import stream_info

    s = stream_info(args.input)
    print(f"file      {s.path}  ({s.file_bytes} bytes, {s.container})")
    if s.is_still:  # one image: frame rate, GOP, duration and bitrate mean nothing
        print(f"image     {s.width}x{s.height}  source {s.pixel_format}")
        print(f"rate      {s.bpp:.4f} bpp  quality {s.quality:g}")
        print(f"model     {s.model_id}  weights {s.weight_hash}  tile {s.tile or 'none'}")
        return 0
    types = s.frame_types if len(s.frame_types) <= 60 else s.frame_types[:60] + "..."
    print(f"video     {s.width}x{s.height}  {float(s.fps):g} fps  source {s.pixel_format}"
          + (f"  audio streams {s.audio_streams}" if s.audio_streams else ""))
    print(f"frames    {s.frames}  {types}  GOP {s.gop}")
    print(f"rate      {s.duration_s:.3f} s  {s.bitrate_kbps:.1f} kb/s  {s.bpp:.4f} bpp  quality {s.quality:g}")
    print(f"model     {s.model_id}  weights {s.weight_hash}  tile {s.tile or 'none'}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """``lvc inspect IN.lvc [--ref SOURCE] [--csv] [--json] [--plot] [--frames LIST --dump DIR] [--html]``."""
    from lvc.tools import inspect

    outputs = inspect.Outputs(csv=args.csv, json=args.json, plot=args.plot, html=args.html, dump=args.dump,
                              frames=args.frames)
    device = _device(args.device)
    done = inspect.run(args.input, outputs, ref=args.ref, overwrite=args.overwrite, device=device,
                       progress=not args.quiet)
    if not args.quiet:
        print(done.table)
        # Which files were written goes to stderr, so that stdout stays the table alone.
        for path in done.written:
            print(f"wrote {path}", file=sys.stderr)
        if args.dump is not None:
            print(f"wrote {done.panels} panels to {args.dump}", file=sys.stderr)
    return 0


def _number_list(text: str, what: str, lo: float, hi: float) -> list[float]:
    """``"2,4,6,8"`` -> sorted distinct numbers in [lo, hi]; InputError naming ``--what`` otherwise."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--{what}: expected numbers separated by commas, like 2,4,6,8, got {text!r}") from None
    if not values or any(not lo <= v <= hi for v in values):
        raise InputError(f"--{what}: expected values from {lo:g} to {hi:g}, got {text!r}")
    if len(set(values)) != len(values):
        raise InputError(f"--{what}: values must be distinct, got {text!r}")
    return sorted(values)


def cmd_compare(args: argparse.Namespace) -> int:
    """``lvc compare SOURCE [--qualities 2,4,6,8] [--crf 22,27,32,37] [--gop N] [--frames N] [--plot] [--json]``."""
    from lvc.tools import compare

    device = _device(args.device)
    qualities = _number_list(args.qualities, "qualities", 1, 8)
    crfs = _number_list(args.crf, "crf", 0, 51)

    def announce(text: str) -> None:
        print(text, file=sys.stderr)

    def warn(text: str) -> None:
        print(f"lvc compare: {text}", file=sys.stderr)

    result = compare.run(args.input, qualities=qualities, crfs=crfs, gop=args.gop, frames=args.frames,
                         plot=args.plot, json=args.json, model=args.model, preset=args.preset, device=device,
                         overwrite=args.overwrite, progress=not args.quiet,
                         announce=None if args.quiet else announce, warn=warn)
    # --quiet silences the progress only: the table is what the command is run for.
    print(result.heading())
    print(compare.format_rd(result.points))
    print()
    print(compare.format_bd(result.bd_rate, result.bd_rate_missing))
    return 0


USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOENT, errno.ENOTDIR,
               errno.EISDIR}


def _file_system_refused(exc: BaseException) -> bool:
    """An OSError of the user's file system, not one of FFmpeg's (PyAV's errors subclass OSError too)."""
    return (isinstance(exc, OSError) and exc.errno in USER_ERRNOS and exc.strerror is not None
            and not type(exc).__module__.startswith("av"))


COMMANDS = {"encode": cmd_encode, "decode": cmd_decode, "info": cmd_info, "inspect": cmd_inspect,
            "compare": cmd_compare}


def main(argv: list[str] | None = None) -> int:
    """Run ``lvc`` with ``argv``; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed usage or help
        return EXIT_USAGE if exc.code else 0
    try:
        return COMMANDS[args.command](args)
    except LvcError as exc:
        print(f"lvc: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("lvc: interrupted; partial outputs were removed", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the promise is one line, never a traceback
        if _file_system_refused(exc):  # disk full, or permissions changed after the checks: not a bug
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"lvc: error: {where}{exc.strerror}", file=sys.stderr)
            return EXIT_ERROR
        if os.environ.get("LVC_DEBUG"):
            raise
        print(f"lvc: internal error: {type(exc).__name__}: {exc} (LVC_DEBUG=1 shows a traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
