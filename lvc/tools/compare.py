"""``lvc compare SOURCE``: lvc against x264 and x265 on the user's own clip, from real files.

Each point is a real encode written to a temporary folder: lvc at several qualities (an ``.lvc``
file), and x264 and x265 through PyAV at a CRF sweep (an MP4 file each, ``preset=medium``,
``tune=zerolatency``, 4:2:0, the same GOP as lvc with scene cuts off so that the intra period is
exactly the same). The rate is the file's size on disk, container included for every codec; the
quality is measured on the frames decoded back from that file against the source's frames (RGB
PSNR, Y PSNR, MS-SSIM, averaged over frames). BD-rates of lvc against each anchor use
:func:`lvc.metrics.bd_rate`. Frames stream through every step: nothing holds the clip.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from lvc import rates
from lvc.codec.presets import DEFAULT_PRESET
from lvc.errors import InputError, LvcError
from lvc.io.x26x import ANCHORS, PRESET, TUNE, anchor_available, x26x_encode
from lvc.weights import default_model_id, model_path

DEFAULT_QUALITIES = (2.0, 4.0, 6.0, 8.0)
DEFAULT_CRFS = (22, 27, 32, 37)
DEFAULT_FRAMES = 30  # enough for a GOP or two; a 1080p clip still finishes in minutes on a laptop
METRICS = (("psnr", "RGB PSNR"), ("psnr_y", "Y PSNR"), ("ms_ssim_db", "MS-SSIM"))


@dataclass(frozen=True)
class RdPoint(rates.Rated):
    """One encode: its file size and the mean quality of its decoded frames."""

    codec: str
    setting: str
    frames: int
    file_bytes: int
    width: int
    height: int
    fps: float
    psnr: float
    psnr_y: float
    ms_ssim: float
    encode_s: float | None = None  # wall-clock seconds of the encode, where measured
    bytes_field: ClassVar[str] = "file_bytes"  # what bpp and kbps count (rates.Rated)

    @property
    def ms_ssim_db(self) -> float:
        from lvc.metrics import ms_ssim_db

        return ms_ssim_db(self.ms_ssim)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "bpp": self.bpp, "kbps": self.kbps, "ms_ssim_db": self.ms_ssim_db}


# ---------------------------------------------------------------------- measuring
def _source_frames(source: str | Path, frames: int) -> Iterator[np.ndarray]:
    from lvc.io.video import open_media

    _, it = open_media(source)
    try:
        for i, f in enumerate(it):
            if i >= frames:
                break
            yield f.rgb
    finally:
        it.close()


def measure(decoded: Iterable[np.ndarray], source: str | Path, frames: int, *, label: str,
            progress: bool) -> tuple[int, float, float, float]:
    """``(frames, mean RGB PSNR, mean Y PSNR, mean MS-SSIM)`` of ``decoded`` against the first ``frames`` of
    ``source``, in lockstep; the two must have the same number of frames."""
    from lvc.metrics import ms_ssim, psnr, psnr_y
    from lvc.progress import Progress

    bar = Progress(total=frames, fps=1.0, label=f"{label} measure", enabled=progress)
    values: list[tuple[float, float, float]] = []
    sources = _source_frames(source, frames)
    try:
        for rgb in decoded:
            src = next(sources, None)
            if src is None:
                raise LvcError(f"{label}: decoded more frames than the {len(values)} source frames coded")
            if src.shape != rgb.shape:
                raise LvcError(f"{label}: decoded frame {len(values)} is {rgb.shape}, the source is {src.shape}")
            values.append((psnr(src, rgb), psnr_y(src, rgb), ms_ssim(src, rgb)))
            bar.update()
        if next(sources, None) is not None:
            raise LvcError(f"{label}: decoded only {len(values)} frames of the source's first {frames}")
    finally:
        sources.close()
        bar.close()
    if not values:
        raise InputError(f"{source}: no frames to compare")
    p, y, m = (rates.mean_finite(col) for col in zip(*values))
    return len(values), p, y, m


def lvc_point(source: str | Path, quality: float | None, *, gop: int, frames: int, model, device: str,  # noqa: ANN001
              workdir: Path, progress: bool, mode_decision: bool = True, preset: str = DEFAULT_PRESET,
              bitrate: float | None = None, intra_boost: float | None = None,
              p_offsets: tuple[float, ...] | None = None) -> RdPoint:
    """Encode ``source`` with lvc at ``quality`` (or rate-controlled to ``bitrate``, bits/s), decode the
    file, measure. ``model`` is a LoadedModel; ``intra_boost`` and ``p_offsets`` (None: the shipped
    ones) place the frames in the GOP's quality hierarchy."""
    from lvc import api

    setting = f"q{quality:g}" if bitrate is None else f"{bitrate / 1000:g}k"
    out = workdir / f"lvc_{setting}.lvc"
    # No audio: the x264/x265 files carry none, and their rates must count the same things.
    summary = api.encode(source, out, quality=quality, gop=gop, frames=frames, model=model, device=device,
                         overwrite=True, progress=progress, mode_decision=mode_decision, preset=preset,
                         bitrate=bitrate, audio=False, intra_boost=intra_boost, p_offsets=p_offsets)
    decoded = (f.rgb for f in api.iter_decode(out, device=device, model=model))
    n, p, y, m = measure(decoded, source, summary.frames, label=f"lvc {setting}", progress=progress)
    return RdPoint("lvc", setting, n, out.stat().st_size, summary.width, summary.height, summary.fps, p, y, m,
                   encode_s=summary.seconds)


# ---------------------------------------------------------------------- x264 / x265
def x26x_point(source: str | Path, name: str, crf: float, *, gop: int, frames: int, workdir: Path,
               progress: bool) -> RdPoint:
    """Encode with x264/x265 at ``crf``, decode the MP4 file, measure."""
    from lvc.io.video import open_media

    out = workdir / f"{name}_crf{crf:g}.mp4"
    n, w, h, fps = x26x_encode(source, out, name, crf, gop=gop, frames=frames, progress=progress)
    _, it = open_media(out)
    decoded = (f.rgb[:h, :w] for f in it)
    try:
        count, p, y, m = measure(decoded, source, n, label=f"{name} crf{crf:g}", progress=progress)
    finally:
        it.close()
    return RdPoint(name, f"crf{crf:g}", count, out.stat().st_size, w, h, float(fps), p, y, m)


# ---------------------------------------------------------------------- BD-rates and output
def bd_rates(points: list[RdPoint]) -> tuple[dict[str, dict[str, float | None]], dict[str, dict[str, str]]]:
    """BD-rate (%) of lvc against each anchor for each metric, and why a value is missing where one is."""
    from lvc.metrics import bd_rate

    ours = [p for p in points if p.codec == "lvc"]
    values: dict[str, dict[str, float | None]] = {}
    reasons: dict[str, dict[str, str]] = {}
    for anchor in dict.fromkeys(p.codec for p in points if p.codec != "lvc"):
        theirs = [p for p in points if p.codec == anchor]
        values[anchor], reasons[anchor] = {}, {}
        for metric, _ in METRICS:
            try:
                values[anchor][metric] = bd_rate([p.bpp for p in theirs], [getattr(p, metric) for p in theirs],
                                                 [p.bpp for p in ours], [getattr(p, metric) for p in ours])
            except ValueError as exc:
                values[anchor][metric] = None
                reasons[anchor][metric] = ("curves do not overlap" if "do not overlap" in str(exc)
                                           else str(exc).split(": ", 1)[-1])
    return values, reasons


def format_rd(points: list[RdPoint]) -> str:
    lines = [f"{'codec':<6} {'setting':<8} {'frames':>6} {'bytes':>10} {'bpp':>8} {'kb/s':>9} "
             f"{'PSNR':>6} {'PSNR-Y':>6} {'MS-SSIM':>7}"]
    for p in points:
        lines.append(f"{p.codec:<6} {p.setting:<8} {p.frames:>6} {p.file_bytes:>10} {p.bpp:>8.4f} {p.kbps:>9.1f} "
                     f"{p.psnr:>6.2f} {p.psnr_y:>6.2f} {p.ms_ssim:>7.4f}")
    return "\n".join(lines)


def format_bd(values: dict[str, dict[str, float | None]], reasons: dict[str, dict[str, str]]) -> str:
    lines = ["BD-rate of lvc (negative: lvc needs fewer bits than the anchor for the same quality)"]
    for anchor, row in values.items():
        cells = [f"{label} " + (f"{row[m]:+.1f}%" if row[m] is not None else f"n/a ({reasons[anchor][m]})")
                 for m, label in METRICS]
        lines.append(f"  vs {anchor}: " + ", ".join(cells))
    if not values:
        lines.append("  no anchor ran")
    return "\n".join(lines)


@dataclass
class Comparison:
    """What :func:`run` measured: every point, and the BD-rates of lvc against each anchor that ran."""

    source: str
    width: int
    height: int
    fps: float
    gop: int
    preset: str
    points: list[RdPoint]
    bd_rate: dict[str, dict[str, float | None]]
    bd_rate_missing: dict[str, dict[str, str]]
    skipped: list[str]  # anchors this PyAV cannot encode

    @property
    def frames(self) -> int:
        return self.points[0].frames

    def as_dict(self) -> dict[str, object]:
        """The ``--json`` document."""
        return {"source": self.source, "width": self.width, "height": self.height, "fps": self.fps,
                "frames": self.frames, "gop": self.gop, "lvc_preset": self.preset,
                "preset": PRESET, "tune": TUNE,
                "rate": "file bytes on disk (container included) * 8 / (width * height * frames)",
                "points": [p.as_dict() for p in self.points], "bd_rate": self.bd_rate,
                "bd_rate_missing": self.bd_rate_missing}

    def heading(self) -> str:
        return (f"{self.source}: {self.width}x{self.height}, {self.frames} frames, GOP {self.gop}; "
                f"lvc preset {self.preset}; rates are file sizes, quality is the decoded frames against the source")


def run(source: str | Path, *, qualities: Sequence[float] = DEFAULT_QUALITIES, crfs: Sequence[float] = DEFAULT_CRFS,
        gop: int = 12, frames: int = DEFAULT_FRAMES, plot: str | Path | None = None, json: str | Path | None = None,
        model: str | None = None, preset: str = DEFAULT_PRESET, device: str = "cpu", overwrite: bool = False,
        progress: bool = False, announce: Callable[[str], None] | None = None,
        warn: Callable[[str], None] | None = None) -> Comparison:
    """lvc at ``qualities`` against x264 and x265 at ``crfs`` on the first ``frames`` of ``source``; writes the
    ``plot`` (needs matplotlib) and the ``json`` document when given. ``announce`` hears each encode as it
    starts, ``warn`` each anchor that cannot run."""
    from lvc.io.files import atomic_write_bytes, check_output
    from lvc.io.video import open_media
    from lvc.tools.json_doc import json_text

    if frames < 1:
        raise InputError(f"--frames must be at least 1, got {frames}")
    for name, out in (("plot", plot), ("json", json)):
        if out is not None:
            check_output(out, overwrite, (source,))
    if plot is not None:
        from lvc.tools.plots import require_matplotlib

        require_matplotlib()
    media, it = open_media(source)  # a bad source fails here, before any encode (and before torch loads)
    it.close()
    model = model or default_model_id(media.is_still)
    model_path(model)  # so does a model that is not installed
    from lvc.models.zoo import load_image_model

    anchors = [a for a in ANCHORS if anchor_available(a)]
    skipped = [a for a in ANCHORS if a not in anchors]
    for missing in skipped if warn is not None else ():
        warn(f"{missing} skipped: this PyAV has no {ANCHORS[missing]} encoder")
    loaded = load_image_model(model)
    points: list[RdPoint] = []
    total = len(qualities) + len(anchors) * len(crfs)

    def starting(what: str) -> None:
        if announce is not None:
            announce(f"[{len(points) + 1}/{total}] {what}")

    with tempfile.TemporaryDirectory(prefix="lvc-compare-") as tmp:
        work = Path(tmp)
        for q in qualities:
            starting(f"lvc quality {q:g}")
            points.append(lvc_point(source, q, gop=gop, frames=frames, model=loaded, preset=preset,
                                    device=device, workdir=work, progress=progress))
        for anchor in anchors:
            for crf in crfs:
                starting(f"{anchor} crf {crf:g}")
                points.append(x26x_point(source, anchor, crf, gop=gop, frames=frames, workdir=work,
                                         progress=progress))
    counts = {p.frames for p in points}
    if len(counts) != 1:
        raise LvcError(f"the encodes coded different numbers of frames ({sorted(counts)}); cannot compare them")
    values, reasons = bd_rates(points)
    result = Comparison(str(source), media.width, media.height, float(media.fps), gop, preset, points, values,
                        reasons, skipped)
    if json is not None:
        atomic_write_bytes(json, json_text(result.as_dict()).encode())
    if plot is not None:
        from lvc.tools.plots import rd_figure

        title = f"{Path(source).name}: {result.frames} frames, GOP {gop}, lvc preset {preset}"
        atomic_write_bytes(plot, rd_figure(points, title=title))
    return result
