"""The encoder's motion search: the flow a P-frame codes, found once and handed to the inter codec.

RAFT (at the preset's scale), then the model's warp fit (:class:`~lvc.codec.refine.FlowRefiner`),
then, for the slow presets, the fit to the P-frame's own rate–distortion cost
(:class:`~lvc.codec.rd_refine.RdFlowRefiner`). The decoder never runs any of it: it reads the flow
from the stream. The encoder takes a :class:`MotionSearch` (or any callable of the same shape) as a
part, so a test or a benchmark can give it another search.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from lvc.codec.presets import Preset
from lvc.codec.rd_refine import RdFlowRefiner
from lvc.codec.refine import FlowRefiner, warp_fit
from lvc.errors import InputError
from lvc.models.builders import InterCodecSpec
from lvc.models.flow import FeatureCache, FlowEstimator
from lvc.models.inter import InterCodec
from lvc.models.motion_mode import GLOBAL_UNITS, OFFSET_LIMIT


class FlowSearch(Protocol):
    """``(current, reference, q, λ, flow_prev, previous) -> flow`` (B, 2, H, W) in pixels; ``previous`` is
    the source frame that ``reference`` decodes (None where the caller does not give it)."""

    def __call__(self, current: Tensor, reference: Tensor, *, quality: float | None = None,
                 lam: float | None = None, flow_prev: Tensor | None = None,
                 previous: Tensor | None = None) -> Tensor: ...


class MotionSearch:
    """RAFT, then the warp fit when given, then the RD fit when given.

    With ``source_reference`` RAFT matches the frame against the previous *source* frame, where the
    caller gives it, rather than its decoded reference: its features were computed in the previous
    call (as that call's current frame) and are reused (:class:`~lvc.models.flow.FeatureCache`). The
    warp and RD fits that follow always fit the flow to the decoded reference, which is what the
    decoder warps.
    """

    def __init__(self, *, estimator: FlowEstimator, flow_scale: float | None = None, flow_updates: int | None = None,
                 flow_max_pixels: int | None = None, refiner: FlowRefiner | None = None,
                 rd_refiner: RdFlowRefiner | None = None, source_reference: bool = False) -> None:
        self.estimator = estimator
        self.flow_scale = flow_scale
        self.flow_max_pixels = flow_max_pixels
        self.flow_updates = flow_updates
        self.refiner = refiner
        self.rd_refiner = rd_refiner
        self._features = FeatureCache() if source_reference else None

    @classmethod
    def for_preset(cls, codec: InterCodec, preset: Preset, *, spec: InterCodecSpec,
                   lambdas: tuple[float, ...] | None, model_id: str = "") -> MotionSearch:
        """The search ``preset`` runs with the RAFT that ``codec`` carries and the warp fit that its
        ``spec`` sets; the RD fit needs the λ the model was trained with (``lambdas``)."""
        if codec.flow is None:
            raise RuntimeError("this InterCodec has no flow estimator (decoder-only)")
        rd = None
        if preset.rd_iters:
            if not lambdas:
                raise InputError(f"preset {preset.name!r} needs the λ the model was trained with; "
                                 f"'{model_id}' does not record them")
            rd = RdFlowRefiner(codec, iters=preset.rd_iters, lr=preset.rd_lr)
        return cls(estimator=codec.flow, flow_scale=preset.flow_scale, flow_updates=preset.flow_updates,
                   flow_max_pixels=preset.flow_max_pixels, refiner=warp_fit(spec) if preset.warp_fit else None,
                   rd_refiner=rd, source_reference=preset.source_reference)

    def __call__(self, current: Tensor, reference: Tensor, *, quality: float | None = None,
                 lam: float | None = None, flow_prev: Tensor | None = None,
                 previous: Tensor | None = None) -> Tensor:
        """The flow (B, 2, H, W) to code for ``current`` against ``reference``; the RD fit also needs the
        frame's ``quality`` and ``lam``, and the motion predictor ``flow_prev``; ``previous`` is the source
        frame of ``reference``."""
        if self.rd_refiner is not None and (quality is None or lam is None):
            raise ValueError("the RD flow fit needs the frame's quality and λ")
        matched = previous if self._features is not None and previous is not None else reference
        flow = self.estimator(current, matched, flow_scale=self.flow_scale, updates=self.flow_updates,
                              max_pixels=self.flow_max_pixels, cache=self._features)
        if self.refiner is not None:
            flow = self.refiner(current, reference, flow)
        if self.rd_refiner is not None:
            flow = self.rd_refiner(current, reference, quality, lam, flow, flow_prev=flow_prev)
        return flow


def global_offset(flow: Tensor) -> tuple[int, int] | None:
    """The global-motion candidate of ``flow`` (1, 2, H, W): its median vector, x then y, rounded to
    1/GLOBAL_UNITS pixel; None where that is zero. The median, not the mean: on a pan over a moving
    object it is the pan."""
    med = flow[0].flatten(1).median(dim=1).values.double() * GLOBAL_UNITS
    x, y = (int(v) for v in torch.round(med).clamp(-OFFSET_LIMIT, OFFSET_LIMIT).tolist())
    return (x, y) if x or y else None
