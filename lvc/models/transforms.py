"""Analysis / synthesis transforms of the intra codec, warm-started from YCbCr + 8x8 DCT.

    g_a:  x ─ colour ─ unshuffle(8) ─ DCT ─ ResBlock×n ─► y        (B, 192, H/8, W/8)
    g_s:  y_hat ─ ResBlock×n (quality-modulated) ─ IDCT ─ shuffle(8) ─ colour⁻¹ ─ PixelRefine ─► x_hat

At initialisation every ResBlock is the identity, so g_s(g_a(x)) == x exactly: the learned layers
only ever add to a transform that already works. The 3x3 convolutions on DCT coefficients see
neighbouring blocks, which lets training turn the block DCT into a lapped transform.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lvc.models.layers import BlockDCT, ColourTransform, PixelRefine, QualityGains, ResBlock


class DctAnalysis(nn.Module):
    """g_a: (B, 3, H, W) in [0, 1] -> y (B, 3*block², H/block, W/block)."""

    def __init__(self, *, hidden: int = 192, blocks: int = 2, block: int = 8, random_init: bool = False) -> None:
        super().__init__()
        channels = 3 * block * block
        self.colour = ColourTransform()
        self.dct = BlockDCT(block=block, random_init=random_init)
        if random_init:
            self.colour.reset_parameters()
        self.blocks = nn.ModuleList(ResBlock(channels=channels, hidden=hidden) for _ in range(blocks))
        self.register_buffer("coef_scale", torch.ones(1, channels, 1, 1))

    def set_coefficient_scale(self, std: Tensor) -> None:
        """Per-channel scale of the DCT coefficients, so the residual blocks see unit-range inputs."""
        self.coef_scale.copy_(std.reshape(self.coef_scale.shape))

    def forward(self, x: Tensor) -> Tensor:
        y = classical(self.dct, classical(self.colour, x)) / self.coef_scale
        for blk in self.blocks:
            y = blk(y)
        return y * self.coef_scale


class DctSynthesis(nn.Module):
    """g_s: y_hat (B, 3*block², h, w) and quality q (B,) -> x_hat (B, 3, h*block, w*block)."""

    def __init__(self, *, hidden: int = 192, blocks: int = 2, block: int = 8, levels: int = 8,
                 refine_hidden: int = 32, refine_layers: int = 3, random_init: bool = False) -> None:
        super().__init__()
        channels = 3 * block * block
        self.blocks = nn.ModuleList(
            ResBlock(channels=channels, hidden=hidden, gains=QualityGains(levels=levels, channels=hidden))
            for _ in range(blocks))
        self.idct = BlockDCT(block=block, inverse=True, random_init=random_init)
        self.colour = ColourTransform(inverse=True)
        if random_init:
            self.colour.reset_parameters()
        self.refine = PixelRefine(hidden=refine_hidden, layers=refine_layers)
        self.register_buffer("coef_scale", torch.ones(1, channels, 1, 1))

    def set_coefficient_scale(self, std: Tensor) -> None:
        """Per-channel scale of the DCT coefficients, so the residual blocks see unit-range inputs."""
        self.coef_scale.copy_(std.reshape(self.coef_scale.shape))

    def forward(self, y_hat: Tensor, q: Tensor) -> Tensor:
        y_hat = y_hat / self.coef_scale
        for blk in self.blocks:
            y_hat = blk(y_hat, q)
        x = classical(self.colour, classical(self.idct, y_hat.float() * self.coef_scale))
        return self.refine(x)


def classical(layer: nn.Module, x: Tensor) -> Tensor:
    """Run a colour/DCT layer in fp32 even under autocast: bf16 would cost a quantization step of
    precision on large coefficients at high quality."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        return layer(x.float())


def hyper_analysis(*, latent: int, hidden: int, hyper: int) -> nn.Sequential:
    """h_a: y (stride 8) -> z (stride 32)."""
    return nn.Sequential(
        nn.Conv2d(latent, hidden, 3, padding=1), nn.LeakyReLU(0.1),
        nn.Conv2d(hidden, hidden, 5, stride=2, padding=2), nn.LeakyReLU(0.1),
        nn.Conv2d(hidden, hyper, 5, stride=2, padding=2))


def hyper_synthesis(*, hyper: int, hidden: int) -> nn.Sequential:
    """h_s: z_hat (stride 32) -> hyper features (stride 8)."""
    return nn.Sequential(
        nn.ConvTranspose2d(hyper, hidden, 5, stride=2, padding=2, output_padding=1), nn.LeakyReLU(0.1),
        nn.ConvTranspose2d(hidden, hidden, 5, stride=2, padding=2, output_padding=1), nn.LeakyReLU(0.1),
        nn.Conv2d(hidden, hidden, 3, padding=1))
