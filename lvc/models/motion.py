"""Motion coding: a flow autoencoder with a hyperprior, on the same quality scale as the intra codec.

The motion codec is an :class:`~lvc.models.image_codec.ImageCodec` over a 2-channel "image" (the
flow, divided by ``flow_norm`` pixels), composed with the convolutional transforms below instead
of the DCT ones: one entropy-coding path for every latent in lvc.

    g_a:  flow/σ ─ conv5 s2 ×4 ─► y (M channels, 1/16 resolution)
    g_s:  ŷ ─ deconv5 s2 ×2 ─ deconv s2 ×2 (quality-modulated) ─► flow_hat/σ

The synthesis's last two layers, at 1/4 and 1/2 resolution, are its cost: at the first design's
width (``fine_hidden`` = ``hidden`` = 96, kernel 5) they are 24 of its 28 kMAC per pixel, and the
synthesis was the largest stage of a P-frame's decoding (``bench/results/stage_profile.md``). 48
channels and 3x3 kernels make them 3.5 (8 in all). ``fine_hidden`` and ``fine_kernel`` narrow them;
a narrower synthesis is distilled from the wider one (``train.inter``, stage ``synthesis``) before
the codec trains on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from lvc.entropy import FactorizedPrior, GaussianConditional
from lvc.models.context import ChannelGroupContext
from lvc.models.image_codec import ImageCodec
from lvc.models.layers import QualityGains, SubpixelConvTranspose2d
from lvc.models.spatial import CheckerboardContext
from lvc.models.transforms import hyper_analysis, hyper_synthesis


class FlowAnalysis(nn.Module):
    """(B, 2, H, W) normalised flow -> (B, M, H/16, W/16)."""

    def __init__(self, *, hidden: int, latent: int) -> None:
        super().__init__()
        act = nn.LeakyReLU(0.1)
        self.net = nn.Sequential(nn.Conv2d(2, hidden, 5, 2, 2), act, nn.Conv2d(hidden, hidden, 5, 2, 2), act,
                                 nn.Conv2d(hidden, hidden, 5, 2, 2), act, nn.Conv2d(hidden, latent, 5, 2, 2))

    def forward(self, flow: Tensor) -> Tensor:
        return self.net(flow)


class FlowSynthesis(nn.Module):
    """(B, M, h, w) and quality (B,) -> (B, 2, 16h, 16w) normalised flow; the last two layers are
    ``fine`` channels wide (0: ``hidden``) with ``kernel``-sized kernels."""

    def __init__(self, *, hidden: int, latent: int, levels: int, fine: int = 0, kernel: int = 5) -> None:
        super().__init__()
        fine = fine or hidden
        self.ups = nn.ModuleList([nn.ConvTranspose2d(latent, hidden, 5, 2, 2, 1),
                                  nn.ConvTranspose2d(hidden, hidden, 5, 2, 2, 1),
                                  nn.ConvTranspose2d(hidden, fine, kernel, 2, kernel // 2, 1)])
        self.gains = nn.ModuleList(QualityGains(levels=levels, channels=up.out_channels) for up in self.ups)
        self.out = SubpixelConvTranspose2d(fine, 2, kernel, padding=kernel // 2)
        self.act = nn.LeakyReLU(0.1)
        # Channels-last weights and activations: oneDNN's transposed convolutions run twice as fast
        # on CPUs in that layout (measured at 416x240: 80 -> 36 ms; weights left contiguous would be
        # reordered on every call). The layout is part of the arithmetic, and both sides share it.
        self.to(memory_format=torch.channels_last)

    def forward(self, y_hat: Tensor, q: Tensor) -> Tensor:
        x = y_hat.contiguous(memory_format=torch.channels_last)
        for up, gain in zip(self.ups, self.gains):
            x = self.act(up(x)) * gain(q).to(x.dtype)
        return self.out(x)


@dataclass
class MotionCodecSpec:
    """Shape of the motion codec (saved with the weights)."""

    hidden: int = 96
    latent: int = 96
    hyper_hidden: int = 64
    hyper_channels: int = 48
    context_hidden: int = 64
    groups: list[int] = field(default_factory=lambda: [24, 72])
    spatial_hidden: int = 0  # > 0: a checkerboard context inside each group, this wide (lvc.models.spatial)
    fine_hidden: int = 0  # channels of the synthesis's last two layers (0: hidden)
    fine_kernel: int = 5  # their kernel size (odd)
    levels: int = 8
    zero_levels: int = 0  # latents whose scale is in this many of the lowest table levels are not coded

    def to_dict(self) -> dict:
        return asdict(self)


def build_motion_codec(spec: MotionCodecSpec) -> ImageCodec:
    """A flow codec: stride-16 latents, stride-64 hyper-latents."""
    if sum(spec.groups) != spec.latent:
        raise ValueError(f"channel groups {spec.groups} must sum to {spec.latent}")
    return ImageCodec(
        analysis=FlowAnalysis(hidden=spec.hidden, latent=spec.latent),
        synthesis=FlowSynthesis(hidden=spec.hidden, latent=spec.latent, levels=spec.levels,
                                fine=spec.fine_hidden, kernel=spec.fine_kernel),
        hyper_analysis=hyper_analysis(latent=spec.latent, hidden=spec.hyper_hidden, hyper=spec.hyper_channels),
        hyper_synthesis=hyper_synthesis(hyper=spec.hyper_channels, hidden=spec.hyper_hidden),
        context=ChannelGroupContext(groups=spec.groups, hyper_channels=spec.hyper_hidden,
                                    hidden=spec.context_hidden),
        hyper_prior=FactorizedPrior(channels=spec.hyper_channels),
        conditional=GaussianConditional(zero_levels=spec.zero_levels),
        y_gains=QualityGains(levels=spec.levels, channels=spec.latent,
                             init=torch.logspace(0, 1, spec.levels)[:, None].expand(-1, spec.latent).clone()),
        z_gains=QualityGains(levels=spec.levels, channels=spec.hyper_channels),
        latent_channels=spec.latent, stride=64,
        spatial=CheckerboardContext(groups=spec.groups, hidden=spec.spatial_hidden) if spec.spatial_hidden else None)
