"""Figures for ``lvc inspect`` (bits and PSNR per frame) and ``lvc compare`` (rate-distortion curves).

matplotlib is optional (the ``plot`` extra): it is imported only here, lazily, with the Agg backend so
that no display is needed. Figures come back as PNG bytes; the caller decides where they go (a
file, or inlined in the HTML report).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from types import ModuleType
from typing import Protocol

from lvc.errors import LvcError


class FramePoint(Protocol):
    """What a per-frame figure reads of each frame (an ``lvc.tools.inspect.FrameRecord`` is one)."""

    index: int
    type: str
    bytes: int
    psnr: float | None
    psnr_y: float | None


class RatePoint(Protocol):
    """What an RD figure reads of each encode (an ``lvc.tools.compare.RdPoint`` is one)."""

    codec: str
    psnr: float
    ms_ssim: float

    @property
    def bpp(self) -> float: ...

_I_COLOR, _P_COLOR = "#d62728", "#1f77b4"
_MANY = 1500  # beyond this many frames, bars become a step line (thousands of bars draw slowly)


def require_matplotlib() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend, or a one-line error saying what to install."""
    try:
        import matplotlib
    except ImportError:
        raise LvcError("plots need matplotlib, which is not installed: install matplotlib "
                       "(pip install matplotlib, or pip install -e '.[plot]')") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:  # noqa: ANN001 - a matplotlib Figure
    plt = require_matplotlib()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def inspect_figure(records: Sequence[FramePoint], *, title: str = "") -> bytes:
    """Bits per frame (I-frames in red) and, when measured, RGB and Y PSNR per frame, on one frame axis."""
    plt = require_matplotlib()
    with_psnr = any(r.psnr is not None for r in records)
    fig, axes = plt.subplots(2 if with_psnr else 1, 1, sharex=True, squeeze=False,
                             figsize=(10, 6 if with_psnr else 3.5))
    ax = axes[0][0]
    x = [r.index for r in records]
    kbits = [r.bytes * 8 / 1000 for r in records]
    if len(records) <= _MANY:
        colors = [_I_COLOR if r.type == "I" else _P_COLOR for r in records]
        ax.bar(x, kbits, width=0.9, color=colors)
    else:
        ax.step(x, kbits, where="mid", color=_P_COLOR, linewidth=0.7)
        i_x = [r.index for r in records if r.type == "I"]
        ax.plot(i_x, [kbits[i] for i, r in enumerate(records) if r.type == "I"], "v", color=_I_COLOR, markersize=3)
    from matplotlib.patches import Patch

    # Above the axes, so that it never hides a bar.
    ax.legend(handles=[Patch(color=_I_COLOR, label="I-frame"), Patch(color=_P_COLOR, label="P-frame")],
              loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False)
    ax.set_ylabel("kbit per frame")
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title, loc="left")
    if with_psnr:
        ax2 = axes[1][0]
        for attr, label, color in (("psnr", "RGB PSNR", "k"), ("psnr_y", "Y PSNR", "#2ca02c")):
            pts = [(r.index, getattr(r, attr)) for r in records
                   if getattr(r, attr) is not None and math.isfinite(getattr(r, attr))]
            ax2.plot([p[0] for p in pts], [p[1] for p in pts], "-", color=color, linewidth=1,
                     marker="." if len(pts) <= 200 else None, label=label)
        for r in records:
            if r.type == "I" and len(records) <= _MANY:
                ax2.axvline(r.index, color=_I_COLOR, alpha=0.15, linewidth=0.8)
        ax2.set_ylabel("PSNR (dB)")
        ax2.legend(loc="best", fontsize=8)
        ax2.grid(alpha=0.3)
    axes[-1][0].set_xlabel("frame")
    fig.tight_layout()
    return _png(fig)


def rd_figure(points: Sequence[RatePoint], *, title: str = "") -> bytes:
    """Rate-distortion curves, one per codec: bpp against RGB PSNR and against MS-SSIM (dB)."""
    from lvc.metrics import ms_ssim_db

    plt = require_matplotlib()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    codecs = list(dict.fromkeys(p.codec for p in points))
    for name in codecs:
        pts = sorted((p for p in points if p.codec == name), key=lambda p: p.bpp)
        bpp = [p.bpp for p in pts]
        left.plot(bpp, [p.psnr for p in pts], "o-", label=name)
        right.plot(bpp, [ms_ssim_db(p.ms_ssim) for p in pts], "o-", label=name)
    left.set_ylabel("RGB PSNR (dB)")
    right.set_ylabel("MS-SSIM (dB)")
    for ax in (left, right):
        ax.set_xlabel("bits per pixel (from file sizes)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _png(fig)
