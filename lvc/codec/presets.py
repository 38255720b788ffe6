"""Encoder presets: how hard the encoder works on the flow it codes. The decoder never sees them.

Like x264's presets, they trade encoding time for bits and leave the bitstream's syntax alone: a
stream made with any preset decodes with the same decoder at the same speed. Where the time goes
is the motion search (``lvc.codec.refine``, ``lvc.codec.rd_refine``):

* ``fast``: RAFT on frames at half size, then the same fit to the warp error as ``medium``;
* ``medium`` (default): RAFT, then a fit of the flow to the warp error (``FlowRefiner``);
* ``slow`` and ``veryslow``: then a fit to the P-frame's own rate–distortion cost through the
  whole inter codec (``RdFlowRefiner``), 5 and 10 iterations.

Each preset's bits and speed are measured by ``bench/presets.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """One encoder effort level."""

    name: str
    flow_scale: float | None  # RAFT on frames scaled by this (None: the model's own setting)
    warp_fit: bool  # run the model's FlowRefiner on RAFT's flow
    rd_iters: int  # RdFlowRefiner iterations after it (0: none)
    rd_lr: float = 0.1


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("fast", flow_scale=0.5, warp_fit=True, rd_iters=0),
    Preset("medium", flow_scale=None, warp_fit=True, rd_iters=0),
    Preset("slow", flow_scale=None, warp_fit=True, rd_iters=5),
    Preset("veryslow", flow_scale=None, warp_fit=True, rd_iters=10),
)}
DEFAULT_PRESET = "medium"


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
