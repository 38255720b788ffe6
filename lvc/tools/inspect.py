"""Frame-by-frame inspection of an ``.lvc`` stream: per-frame records, GOP and clip summaries, table/CSV/JSON.

One pass decodes the stream (and, with a reference, reads the source in lockstep) and keeps only a
small :class:`FrameRecord` per frame, so memory stays flat however long the clip is. Callers that
want pictures of some frames (``--dump``, ``--html``) get them through a callback during the pass;
nothing else holds a frame.

:func:`run` wires the pass to the outputs of ``lvc inspect``: the table, CSV, JSON, the plot
(:mod:`lvc.tools.plots`), panels (:mod:`lvc.tools.panels`) and the HTML page
(:mod:`lvc.tools.html_report`); ``lvc.cli`` parses the options and prints.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lvc import rates
from lvc.errors import InputError
from lvc.format.stream_info import StreamInfo
from lvc.tools import json_doc

if TYPE_CHECKING:
    from lvc.io.video import SourceFrame

PART_ORDER = ("motion", "residual", "hyper", "latent", "header")
"""How byte parts are ordered in tables; parts a future codec adds come after these, sorted."""

DEFAULT_SHOWN = 30  # frames pictured by --html (and --dump) when --frames is not given


@dataclass
class FrameRecord:
    """What ``lvc inspect`` reports about one frame. Metrics are None without a reference."""

    index: int
    pts: int
    time: float  # seconds
    type: str
    quality: float  # as coded: the GOP's quality hierarchy and rate control move it from frame to frame
    bytes: int
    bpp: float
    gop: int
    parts: dict[str, int] = field(default_factory=dict)
    motion: str = ""  # how a P-frame's flow was coded (lvc.models.inter.InterCodec.motion_label); "" for I
    psnr: float | None = None
    psnr_y: float | None = None
    ms_ssim: float | None = None

    def flat(self, parts: Iterable[str]) -> dict[str, object]:
        """One flat row (for CSV and JSON): the parts become ``bytes_<part>`` columns (0 when absent)."""
        row: dict[str, object] = {"index": self.index, "pts": self.pts, "time": round(self.time, 6),
                                  "type": self.type, "quality": self.quality, "bytes": self.bytes, "bpp": self.bpp,
                                  "gop": self.gop}
        row.update({f"bytes_{p}": self.parts.get(p, 0) for p in parts})
        row["motion_mode"] = self.motion
        row.update({"psnr": self.psnr, "psnr_y": self.psnr_y, "ms_ssim": self.ms_ssim})
        return row


@dataclass
class Summary:
    """Totals and means over a run of frames (one GOP, or the whole clip)."""

    label: str
    first: int
    last: int
    types: str
    bytes: int
    bpp: float
    kbps: float
    parts: dict[str, int]
    psnr: float | None
    psnr_y: float | None
    ms_ssim: float | None

    @property
    def frames(self) -> int:
        return len(self.types)

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "first": self.first, "last": self.last, "frames": self.frames,
                "types": self.types, "bytes": self.bytes, "bpp": self.bpp, "kbps": self.kbps,
                "parts": dict(self.parts), "psnr": self.psnr, "psnr_y": self.psnr_y, "ms_ssim": self.ms_ssim}


@dataclass
class Report:
    """Everything one inspection pass found."""

    info: StreamInfo
    ref: str | None
    records: list[FrameRecord]

    @property
    def parts(self) -> list[str]:
        """Byte parts present anywhere in the stream, in table order."""
        return ordered_parts(r.parts for r in self.records)

    def gops(self) -> list[Summary]:
        groups: dict[int, list[FrameRecord]] = {}
        for r in self.records:
            groups.setdefault(r.gop, []).append(r)
        return [summarize(rs, f"GOP {g}", self.info) for g, rs in groups.items()]

    def clip(self) -> Summary:
        return summarize(self.records, "clip", self.info)

    @property
    def payload_bytes(self) -> int:
        """Bytes of all access units: the file less the container's own bytes."""
        return sum(r.bytes for r in self.records)


def ordered_parts(parts: Iterable[dict[str, int]]) -> list[str]:
    names: set[str] = set()
    for p in parts:
        names.update(p)
    return [p for p in PART_ORDER if p in names] + sorted(names - set(PART_ORDER))


def summarize(records: list[FrameRecord], label: str, info: StreamInfo) -> Summary:
    """Totals (bytes, per-part bytes) and per-frame means (bpp, PSNR, MS-SSIM) of ``records``."""
    total = sum(r.bytes for r in records)
    n = len(records)
    parts: dict[str, int] = {}
    for r in records:
        for k, v in r.parts.items():
            parts[k] = parts.get(k, 0) + v
    return Summary(label=label, first=records[0].index if records else 0, last=records[-1].index if records else -1,
                   types="".join(r.type for r in records), bytes=total,
                   bpp=rates.bpp(total, info.height, info.width, n), kbps=rates.kbps(total, n, float(info.fps)),
                   parts={p: parts[p] for p in ordered_parts([parts])},
                   psnr=rates.mean_finite(r.psnr for r in records), psnr_y=rates.mean_finite(r.psnr_y for r in records),
                   ms_ssim=rates.mean_finite(r.ms_ssim for r in records))


class GopCounter:
    """Numbers the GOPs of a frame-type sequence.

    A GOP starts at an I-frame when the running GOP already holds a P-frame or has reached the
    stream's intra period. So ``IPPP IPPP`` (period 4) is two GOPs, a scene-cut ``IP I PP`` starts
    a new one at the cut, and an all-intra stream is grouped by its period rather than frame by frame
    (this build codes the frames its scheduler marks P as I).
    """

    def __init__(self, period: int) -> None:
        self.period = max(1, period)
        self.gop = -1
        self._length = 0
        self._has_p = False

    def next(self, frame_type: str) -> int:
        if self.gop < 0 or (frame_type == "I" and (self._has_p or self._length >= self.period)):
            self.gop += 1
            self._length, self._has_p = 0, False
        self._length += 1
        self._has_p |= frame_type != "I"
        return self.gop


# ---------------------------------------------------------------------- frame selection
def parse_frame_list(text: str) -> list[int]:
    """``"10,20-25"`` -> ``[10, 20, 21, 22, 23, 24, 25]`` (sorted, unique; indices count from 0)."""
    out: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        try:
            if "-" in item:
                lo_text, hi_text = item.split("-", 1)
                lo, hi = int(lo_text), int(hi_text)
                if hi < lo:
                    raise ValueError
                out.update(range(lo, hi + 1))
            else:
                out.add(int(item))
        except ValueError:
            raise InputError(f"--frames: expected frame indices like 10,20-25, got {item!r} in {text!r}") from None
    if not out or min(out) < 0:
        raise InputError(f"--frames: expected frame indices from 0 up, like 10,20-25, got {text!r}")
    return sorted(out)


def evenly_spaced(total: int, count: int = DEFAULT_SHOWN) -> list[int]:
    """Up to ``count`` frame indices spread evenly over ``total`` frames, first and last included."""
    if total <= count:
        return list(range(total))
    return sorted({round(i * (total - 1) / (count - 1)) for i in range(count)})


# ---------------------------------------------------------------------- the pass
def _reference(ref: str | Path, info: StreamInfo) -> tuple[Fraction, Iterator[SourceFrame]]:
    """The reference's time base and frames, checked against the stream's size."""
    from lvc.io.video import open_media

    media, frames = open_media(ref)
    if (media.width, media.height) != (info.width, info.height):
        frames.close()
        raise InputError(f"--ref {ref}: is {media.width}x{media.height} but {info.path} is "
                         f"{info.width}x{info.height}; give the source the stream was encoded from")
    return media.time_base, frames


class _ByTime:
    """The reference's frames matched to decoded frames by timestamp.

    A stream made with ``--frames``/``--start`` holds part of its source, with the source's pts, so the
    whole source is a valid reference: frames before and after the coded span are skipped, and only a
    coded frame with no source frame at its time is refused.
    """

    def __init__(self, ref: str | Path, time_base: Fraction, frames: Iterator[SourceFrame], info: StreamInfo) -> None:
        self.ref, self.time_base, self.frames, self.info = ref, time_base, frames, info
        self._pending: SourceFrame | None = None

    def at(self, t: float, tolerance: float, index: int) -> np.ndarray:
        """The source frame at ``t`` seconds (within ``tolerance``) for decoded frame ``index``."""
        while True:
            if self._pending is None:
                self._pending = next(self.frames, None)
            if self._pending is None:
                raise InputError(self._missing(t, index, "ends before"))
            ts = float(self._pending.pts * self.time_base)
            if ts < t - tolerance:  # before the coded span (or between coded frames): not compared
                self._pending = None
                continue
            if ts > t + tolerance:
                raise InputError(self._missing(t, index, "has no frame at"))
            frame, self._pending = self._pending, None
            return frame.rgb

    def _missing(self, t: float, index: int, what: str) -> str:
        return (f"--ref {self.ref}: {what} {t:.3f} s, the time of frame {index} of {self.info.frames} in "
                f"{self.info.path}; give the source it was encoded from (frames are matched by timestamp)")

    def close(self) -> None:
        self.frames.close()


def iter_inspect(path: str | Path, *, ref: str | Path | None = None, info: StreamInfo | None = None,
                 device: str = "cpu") -> Iterator[tuple[FrameRecord, np.ndarray, np.ndarray | None, dict]]:
    """``(record, decoded rgb, source rgb or None, decoder extras)`` for every frame, streaming.

    With ``ref``, each decoded frame is compared with the reference frame at the same time.
    """
    from lvc import api

    info = info or api.info(path)
    sources = _ByTime(ref, *_reference(ref, info), info) if ref is not None else None
    try:
        from lvc.metrics import ms_ssim, psnr, psnr_y

        gops = GopCounter(info.gop)
        for frame in api.iter_decode(path, device=device, intermediates=True):
            t = float(frame.pts * info.time_base)
            source = None
            if sources is not None:
                half = frame.duration * info.time_base / 2 if frame.duration else 1 / (2 * info.fps)
                source = sources.at(t, float(half), frame.index)
            record = FrameRecord(index=frame.index, pts=frame.pts, time=t,
                                 type=frame.frame_type, quality=frame.quality, bytes=frame.nbytes,
                                 bpp=rates.bpp(frame.nbytes, info.height, info.width),
                                 gop=gops.next(frame.frame_type),
                                 parts=dict(frame.parts), motion=frame.motion)
            if source is not None:
                record.psnr = psnr(source, frame.rgb)
                record.psnr_y = psnr_y(source, frame.rgb)
                record.ms_ssim = ms_ssim(source, frame.rgb)
            yield record, frame.rgb, source, frame.extras
    finally:
        if sources is not None:
            sources.close()


FrameHook = Callable[[FrameRecord, np.ndarray, "np.ndarray | None", dict], None]


def inspect(path: str | Path, *, ref: str | Path | None = None, show: Iterable[int] = (),
            on_frame: FrameHook | None = None, info: StreamInfo | None = None, device: str = "cpu",
            progress: bool = False) -> Report:
    """Inspect ``path``: the records of every frame; ``on_frame`` also sees the pictures of the frames in ``show``."""
    from lvc import api
    from lvc.progress import Progress

    info = info or api.info(path)
    wanted = set(show)
    bar = Progress(total=info.frames, fps=float(info.fps), label="inspect", enabled=progress and info.frames > 1)
    records: list[FrameRecord] = []
    try:
        for record, decoded, source, extras in iter_inspect(path, ref=ref, info=info, device=device):
            records.append(record)
            if on_frame is not None and record.index in wanted:
                on_frame(record, decoded, source, extras)
            bar.update(record.bytes)
    finally:
        bar.close()
    return Report(info=info, ref=None if ref is None else str(ref), records=records)


# ---------------------------------------------------------------------- writers
def _num(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def format_table(report: Report) -> str:
    """The terminal view: one row per frame, then one per GOP, then the clip."""
    parts = report.parts
    metrics = report.ref is not None
    head = f"{'frame':>6} {'pts':>8} {'type':>4} {'q':>5} {'bytes':>8} {'bpp':>7}" + "".join(f" {p:>8}" for p in parts)
    modes = any(r.motion for r in report.records)
    if modes:
        head += f" {'mode':<11}"
    if metrics:
        head += f" {'PSNR':>6} {'PSNR-Y':>6} {'MS-SSIM':>7}"
    lines = [head]
    for r in report.records:
        line = f"{r.index:>6} {r.pts:>8} {r.type:>4} {r.quality:>5g} {r.bytes:>8} {r.bpp:>7.4f}"
        line += "".join(f" {r.parts.get(p, 0):>8}" for p in parts)
        if modes:
            line += f" {r.motion or '-':<11}"
        if metrics:
            line += f" {_num(r.psnr, 2):>6} {_num(r.psnr_y, 2):>6} {_num(r.ms_ssim, 4):>7}"
        lines.append(line)
    lines.append("")
    head = f"{'':<9} {'frames':>11} {'types':<14} {'bytes':>9} {'bpp':>7} {'kb/s':>9}"
    if metrics:
        head += f" {'PSNR':>6} {'PSNR-Y':>6} {'MS-SSIM':>7}"
    lines.append(head)
    for s in [*report.gops(), report.clip()]:
        types = s.types if len(s.types) <= 14 else s.types[:11] + "..."
        line = (f"{s.label:<9} {f'{s.first}-{s.last}':>11} {types:<14} {s.bytes:>9} {s.bpp:>7.4f} {s.kbps:>9.1f}")
        if metrics:
            line += f" {_num(s.psnr, 2):>6} {_num(s.psnr_y, 2):>6} {_num(s.ms_ssim, 4):>7}"
        lines.append(line)
    clip = report.clip()
    split = ", ".join(f"{p} {100 * v / max(clip.bytes, 1):.1f}%" for p, v in clip.parts.items())
    lines.append(f"bytes: {split}; frames {report.payload_bytes} + container "
                 f"{report.info.file_bytes - report.payload_bytes} = file {report.info.file_bytes}")
    if modes:
        counts: dict[str, int] = {}
        for r in report.records:
            if r.motion:
                counts[r.motion] = counts.get(r.motion, 0) + 1
        lines.append("P-frame motion: " + ", ".join(f"{m} {n}" for m, n in sorted(counts.items(), key=lambda c: -c[1])))
    return "\n".join(lines)


def report_dict(report: Report) -> dict[str, object]:
    """The JSON document: the stream, the per-frame records, the GOPs and the clip."""
    i = report.info
    parts = report.parts
    return {
        "file": i.path, "file_bytes": i.file_bytes, "payload_bytes": report.payload_bytes, "ref": report.ref,
        "width": i.width, "height": i.height, "fps": float(i.fps), "frames": i.frames, "gop": i.gop,
        "model_id": i.model_id, "quality": i.quality,
        "records": [json_doc.json_safe(r.flat(parts)) for r in report.records],
        "gops": [json_doc.json_safe(s.as_dict()) for s in report.gops()],
        "clip": json_doc.json_safe(report.clip().as_dict()),
    }


def csv_text(report: Report) -> str:
    """The per-frame records as CSV (infinite PSNR written as ``inf``, missing metrics empty)."""
    rows = [r.flat(report.parts) for r in report.records]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["index"], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


def json_text(report: Report) -> str:
    """The JSON document of :func:`report_dict`, as text."""
    return json_doc.json_text(report_dict(report))


# ---------------------------------------------------------------------- lvc inspect
class PanelDumper:
    """``--dump DIR``: one PNG panel per chosen frame, ``frame_000010.png``. ``abort()`` removes what it wrote."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: list[Path] = []
        self._made = not folder.exists()  # a folder this run creates is removed again by abort()

    def __call__(self, record: FrameRecord, decoded: np.ndarray, source: np.ndarray | None, extras: dict) -> None:
        from lvc.io.video import write_png
        from lvc.tools.panels import compose_panel, frame_tiles

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"frame_{record.index:06d}.png"
        write_png(path, compose_panel(frame_tiles(decoded, source, extras)))
        self.written.append(path)

    def abort(self) -> None:
        from lvc.io.video import remove_empty_folders

        for path in self.written:
            path.unlink(missing_ok=True)
        if self._made:
            remove_empty_folders(self.folder)


@dataclass(frozen=True)
class Outputs:
    """What one ``lvc inspect`` writes besides its table (each None: not written)."""

    csv: str | None = None
    json: str | None = None
    plot: str | None = None  # PNG of bits and PSNR per frame (needs matplotlib)
    html: str | None = None  # one self-contained page (needs matplotlib)
    dump: str | None = None  # folder of panel PNGs
    frames: str | None = None  # the frames that dump/html picture, e.g. "10,20-25"

    def files(self) -> dict[str, str]:
        """The single files asked for, by option name."""
        return {k: v for k, v in (("csv", self.csv), ("json", self.json), ("plot", self.plot),
                                  ("html", self.html)) if v is not None}


@dataclass
class Inspection:
    """What :func:`run` did: the report, its table, and what it wrote."""

    report: Report
    table: str
    written: list[str]
    panels: int = 0


def check_outputs(path: str | Path, outputs: Outputs, overwrite: bool) -> None:
    """Refuse outputs that cannot be written, or options that do not go together, before any work."""
    from lvc.io.files import check_output

    for name, out in outputs.files().items():
        check_output(out, overwrite, (path,))
        if Path(out).is_dir():
            raise InputError(f"--{name} {out}: is a directory, expected a file")
    if outputs.dump is not None:
        check_output(outputs.dump, overwrite, (path,))
        if Path(outputs.dump).exists() and not Path(outputs.dump).is_dir():
            raise InputError(f"--dump {outputs.dump}: is a file, expected a folder")
    if outputs.frames is not None and outputs.dump is None and outputs.html is None:
        raise InputError("--frames chooses the frames that --dump and --html picture; give one of them")


def run(path: str | Path, outputs: Outputs = Outputs(), *, ref: str | Path | None = None, overwrite: bool = False,
        device: str = "cpu", progress: bool = False) -> Inspection:
    """Inspect ``path`` (against the source ``ref``, when given) and write ``outputs``."""
    from lvc import api
    from lvc.io.files import atomic_write_bytes, check_input

    check_outputs(path, outputs, overwrite)
    if ref is not None:
        check_input(ref)  # now, before the stream is read
    if outputs.plot is not None or outputs.html is not None:
        from lvc.tools.plots import require_matplotlib

        require_matplotlib()  # before the pass, not after minutes of decoding
    info = api.info(path)
    api.check_weights(info.model_id, bytes.fromhex(info.weight_hash))  # before the reference is opened
    if outputs.frames is not None:
        show = parse_frame_list(outputs.frames)
        if show[-1] >= info.frames:
            raise InputError(f"--frames {outputs.frames}: {info.path} has {info.frames} frames "
                             f"(0-{info.frames - 1})")
    else:
        show = evenly_spaced(info.frames) if (outputs.dump or outputs.html) else []

    hooks: list[FrameHook] = []
    dumper = PanelDumper(Path(outputs.dump)) if outputs.dump is not None else None
    if dumper is not None:
        hooks.append(dumper)
    page = None
    if outputs.html is not None:
        from lvc.tools.html_report import PageFrames

        page = PageFrames()
        hooks.append(page.add)

    def on_frame(record: FrameRecord, decoded: np.ndarray, source: np.ndarray | None, extras: dict) -> None:
        for hook in hooks:
            hook(record, decoded, source, extras)

    try:
        report = inspect(path, ref=ref, show=show, on_frame=on_frame, info=info, device=device, progress=progress)
        table = format_table(report)
        if outputs.csv is not None:
            atomic_write_bytes(outputs.csv, csv_text(report).encode())
        if outputs.json is not None:
            atomic_write_bytes(outputs.json, json_text(report).encode())
        if outputs.plot is not None or page is not None:
            from lvc.tools.plots import inspect_figure

            figure = inspect_figure(report.records, title=Path(path).name)
            if outputs.plot is not None:
                atomic_write_bytes(outputs.plot, figure)
            if page is not None:
                from lvc.tools.html_report import render_page

                atomic_write_bytes(outputs.html, render_page(title=f"lvc inspect {Path(path).name}",
                                                             summary=table.split("\n\n", 1)[-1], plot_png=figure,
                                                             frames=page.frames).encode())
    except BaseException:
        if dumper is not None:
            dumper.abort()
        raise
    return Inspection(report, table, list(outputs.files().values()), len(dumper.written) if dumper else 0)


__all__ = ["FrameRecord", "GopCounter", "Inspection", "Outputs", "Report", "Summary", "check_outputs", "csv_text",
           "evenly_spaced", "format_table", "inspect", "iter_inspect", "json_text", "parse_frame_list", "report_dict",
           "run", "summarize"]
