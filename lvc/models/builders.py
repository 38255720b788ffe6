"""Builders: channel counts and initialisation live here and in the YAML, not in the modules."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import torch

from lvc.entropy import FactorizedPrior, GaussianConditional
from lvc.models.condition import PredictionConditioner
from lvc.models.context import ChannelGroupContext
from lvc.models.image_codec import ImageCodec
from lvc.models.layers import JPEG_CHROMA, JPEG_LUMA, QualityGains, frequency_order
from lvc.models.spatial import CheckerboardContext
from lvc.models.transforms import DctAnalysis, DctSynthesis, hyper_analysis, hyper_synthesis

if TYPE_CHECKING:
    from lvc.models.inter import InterCodec


@dataclass
class ImageCodecSpec:
    """Everything that shapes an :class:`ImageCodec` (saved with the weights)."""

    hidden: int = 192  # channels inside the g_a / g_s residual blocks
    blocks: int = 2  # residual blocks in each of g_a and g_s
    hyper_hidden: int = 128
    hyper_channels: int = 96  # channels of z
    context_hidden: int = 128
    groups: list[int] = field(default_factory=lambda: [9, 36, 147])  # must sum to 192
    spatial_hidden: int = 0  # > 0: a checkerboard context inside each group, this wide (lvc.models.spatial)
    refine_hidden: int = 32
    levels: int = 8  # anchor qualities of the gain vectors
    step_max: float = 16.0  # JPEG-table multiplier at quality 1 (initial gains)
    step_min: float = 0.4  # ... and at quality `levels`
    z_gain_init: float = 0.25
    z_prior_init_scale: float = 2.0  # initial width of p(z): z starts near 0
    random_init: bool = False  # the twin for the warm-start comparison
    zero_levels: int = 0  # latents whose scale is in this many of the lowest table levels are not coded

    def to_dict(self) -> dict:
        return asdict(self)


def _initial_gains(spec: ImageCodecSpec) -> torch.Tensor:
    """(levels, 192) gains = 1 / step; steps follow the JPEG tables, scaled geometrically per level."""
    mult = torch.logspace(torch.log10(torch.tensor(spec.step_max)), torch.log10(torch.tensor(spec.step_min)),
                          spec.levels, dtype=torch.float64)
    if spec.random_init:
        base = torch.full((192,), 32.0, dtype=torch.float64)  # no JPEG prior: flat steps
    else:
        base = torch.tensor([(JPEG_LUMA if c == 0 else JPEG_CHROMA)[u * 8 + v] for c, u, v in frequency_order()],
                            dtype=torch.float64)
    step = base[None, :] / 255.0 * mult[:, None]
    return 1.0 / step


def build_image_codec(spec: ImageCodecSpec, *, condition_hidden: int = 0) -> ImageCodec:
    """Compose an :class:`ImageCodec` from ``spec``; ``condition_hidden`` > 0 makes it a conditional
    residual codec, with a :class:`~lvc.models.condition.PredictionConditioner` of that width."""
    latent = 192
    if sum(spec.groups) != latent:
        raise ValueError(f"channel groups {spec.groups} must sum to {latent}")
    return ImageCodec(
        analysis=DctAnalysis(hidden=spec.hidden, blocks=spec.blocks, random_init=spec.random_init),
        synthesis=DctSynthesis(hidden=spec.hidden, blocks=spec.blocks, levels=spec.levels,
                               refine_hidden=spec.refine_hidden, random_init=spec.random_init),
        hyper_analysis=hyper_analysis(latent=latent, hidden=spec.hyper_hidden, hyper=spec.hyper_channels),
        hyper_synthesis=hyper_synthesis(hyper=spec.hyper_channels, hidden=spec.hyper_hidden),
        context=ChannelGroupContext(groups=spec.groups, hyper_channels=spec.hyper_hidden, hidden=spec.context_hidden),
        hyper_prior=FactorizedPrior(channels=spec.hyper_channels, init_scale=spec.z_prior_init_scale),
        conditional=GaussianConditional(zero_levels=spec.zero_levels),
        y_gains=QualityGains(levels=spec.levels, channels=latent, init=_initial_gains(spec)),
        # z starts near zero: h_s(0) plus σ₀ is already a per-channel prior, and z earns its bits as it trains.
        z_gains=QualityGains(levels=spec.levels, channels=spec.hyper_channels,
                             init=torch.full((spec.levels, spec.hyper_channels), spec.z_gain_init)),
        latent_channels=latent,
        conditioner=(PredictionConditioner(latent=latent, hyper=spec.hyper_hidden, hidden=condition_hidden)
                     if condition_hidden > 0 else None),
        spatial=CheckerboardContext(groups=spec.groups, hidden=spec.spatial_hidden) if spec.spatial_hidden else None,
    )


@dataclass
class InterCodecSpec:
    """Everything that shapes an :class:`~lvc.models.inter.InterCodec` (saved with the weights)."""

    motion: dict = field(default_factory=dict)  # MotionCodecSpec fields
    residual: dict = field(default_factory=dict)  # ImageCodecSpec fields of the residual codec
    compensation_hidden: int = 48
    compensation_blocks: int = 3
    flow_variant: str = "small"
    flow_updates: int = 6
    flow_scale: float = 1.0  # RAFT on downscaled frames (< 1) is the encoder's speed knob on CPUs
    refine_iters: int = 10  # encoder-side fit of the flow to the frame (lvc.codec.refine); 0 = RAFT alone
    refine_scale: int = 4
    refine_lr: float = 0.3
    flow_norm: float = 8.0
    temporal_motion: bool = False  # code the flow against the previous P-frame's (lvc.models.inter)
    condition_hidden: int = 0  # > 0: the residual codec also sees the prediction (lvc.models.condition)

    def to_dict(self) -> dict:
        return asdict(self)


def build_inter_codec(spec: InterCodecSpec, *, with_flow: bool = True) -> InterCodec:
    """Compose an :class:`InterCodec`; ``with_flow=False`` builds the decoder side only (no RAFT)."""
    from lvc.models.compensation import MotionCompensation
    from lvc.models.flow import FlowEstimator
    from lvc.models.inter import InterCodec
    from lvc.models.motion import MotionCodecSpec, build_motion_codec

    flow = (FlowEstimator(variant=spec.flow_variant, updates=spec.flow_updates, flow_scale=spec.flow_scale)
            if with_flow else None)
    return InterCodec(motion=build_motion_codec(MotionCodecSpec(**spec.motion)),
                      compensation=MotionCompensation(hidden=spec.compensation_hidden,
                                                      blocks=spec.compensation_blocks, flow_norm=spec.flow_norm),
                      residual=build_image_codec(ImageCodecSpec(**spec.residual), condition_hidden=spec.condition_hidden),
                      flow=flow,
                      flow_norm=spec.flow_norm, temporal_motion=spec.temporal_motion)
