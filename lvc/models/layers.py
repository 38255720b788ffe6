"""Building blocks: fixed-initialised classical transforms, residual blocks and quality gains.

The classical pieces (colour transform, 8x8 DCT) are ordinary learnable convolutions whose
*initial* weights are the classical transform, so step 0 of training is already a working
transform codec (DESIGN.md §6, "start from a classical transform, not from noise").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvc.models.exact_math import exp

# JPEG (ITU T.81 Annex K) quantisation tables, row-major (u = vertical, v = horizontal frequency).
JPEG_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
             14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
JPEG_CHROMA = (17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
               47, 66, 99, 99, 99, 99, 99, 99) + (99,) * 32

# Full-range BT.601 RGB -> YCbCr on [0, 1] values, with Y centred on 0 like Cb and Cr.
_RGB_TO_YCBCR = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
_YCBCR_OFFSET = (-0.5, 0.0, 0.0)


def dct_matrix(n: int = 8) -> Tensor:
    """Orthonormal DCT-II matrix ``D[k, i]`` (float64)."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d


def frequency_order(block: int = 8, colours: int = 3) -> list[tuple[int, int, int]]:
    """(colour, u, v) triples sorted low to high frequency, colours interleaved per radius."""
    triples = [(c, u, v) for c in range(colours) for u in range(block) for v in range(block)]
    return sorted(triples, key=lambda t: (t[1] + t[2], t[0], t[1]))


class ColourTransform(nn.Conv2d):
    """Learnable 1x1 colour transform initialised to RGB -> YCbCr, or its inverse."""

    def __init__(self, *, inverse: bool = False) -> None:
        super().__init__(3, 3, 1)
        m = torch.tensor(_RGB_TO_YCBCR, dtype=torch.float64)
        off = torch.tensor(_YCBCR_OFFSET, dtype=torch.float64)
        with torch.no_grad():
            if inverse:
                inv = torch.linalg.inv(m)
                self.weight.copy_(inv[:, :, None, None].float())
                self.bias.copy_((-inv @ off).float())
            else:
                self.weight.copy_(m[:, :, None, None].float())
                self.bias.copy_(off.float())


class BlockDCT(nn.Module):
    """Pixel-unshuffle by ``block`` then a learnable 1x1 conv initialised to the 2-D DCT.

    (B, 3, H, W) -> (B, 3*block², H/block, W/block), channels in :func:`frequency_order`.
    The inverse (``inverse=True``) is the transposed basis followed by pixel-shuffle.
    """

    def __init__(self, *, block: int = 8, inverse: bool = False, random_init: bool = False) -> None:
        super().__init__()
        self.block = block
        self.inverse = inverse
        n = 3 * block * block
        self.conv = nn.Conv2d(n, n, 1, bias=False)
        if not random_init:
            d = dct_matrix(block)
            basis = torch.zeros(n, n, dtype=torch.float64)
            for o, (c, u, v) in enumerate(frequency_order(block)):
                basis[o, c * block * block:(c + 1) * block * block] = torch.outer(d[u], d[v]).reshape(-1)
            w = basis.T if inverse else basis
            with torch.no_grad():
                self.conv.weight.copy_(w[:, :, None, None].float())

    def forward(self, x: Tensor) -> Tensor:
        if self.inverse:
            return F.pixel_shuffle(self.conv(x), self.block)
        return self.conv(F.pixel_unshuffle(x, self.block))


def interp_levels(table: Tensor, q: Tensor) -> Tensor:
    """Rows of ``table`` (levels, ...) at qualities ``q`` (B,) in [1, levels], linearly interpolated.

    Applied to log-gains (or log-λ) this is geometric interpolation between the anchor qualities."""
    levels = table.shape[0]
    q = q.to(table.dtype).clamp(1, levels) - 1
    lo = q.floor().clamp(max=levels - 2).long()
    t = (q - lo).reshape(-1, *([1] * (table.dim() - 1)))
    return (1 - t) * table[lo] + t * table[lo + 1]


class QualityGains(nn.Module):
    """Per-channel gains at ``levels`` anchor qualities, interpolated geometrically in between.

    ``forward(q)`` with q of shape (B,) in [1, levels] gives (B, C, 1, 1). One model then serves
    every rate (gain units as in DCVC-HEM / Cui et al. 2021).
    """

    exact = False  # set by lvc.models.exact.exactify: the gains then come from exact_exp

    def __init__(self, *, levels: int, channels: int, init: Tensor | None = None) -> None:
        super().__init__()
        self.levels = levels
        log_gain = torch.zeros(levels, channels) if init is None else init.log().float()
        self.log_gain = nn.Parameter(log_gain.clone())

    def log(self, q: Tensor) -> Tensor:
        return interp_levels(self.log_gain, q)[:, :, None, None]

    def forward(self, q: Tensor) -> Tensor:
        return exp(self.log(q), self.exact)


class ResBlock(nn.Module):
    """``x + conv(act(conv(x)))``; the last conv starts at zero so the block starts as identity.

    With ``gains`` the hidden features are scaled per quality (the decoder's quality conditioning).
    """

    def __init__(self, *, channels: int, hidden: int, kernel: int = 3, gains: QualityGains | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, hidden, kernel, padding=kernel // 2)
        self.act = nn.LeakyReLU(0.1)
        self.conv2 = nn.Conv2d(hidden, channels, kernel, padding=kernel // 2)
        self.gains = gains
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor, q: Tensor | None = None) -> Tensor:
        h = self.act(self.conv1(x))
        if self.gains is not None and q is not None:
            h = h * self.gains(q).to(h.dtype)
        return x + self.conv2(h)


class PixelRefine(nn.Module):
    """Cheap full-resolution residual refinement: work at stride 2 after pixel-unshuffle.

    Sees 6 pixels either side, enough to smooth 8x8 block edges, at about 4k MACs per pixel.
    """

    def __init__(self, *, hidden: int = 32, layers: int = 3) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(12, hidden, 3, padding=1), nn.LeakyReLU(0.1)]
        for _ in range(layers - 2):
            mods += [nn.Conv2d(hidden, hidden, 3, padding=1), nn.LeakyReLU(0.1)]
        last = nn.Conv2d(hidden, 12, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.body = nn.Sequential(*mods, last)

    def forward(self, x: Tensor) -> Tensor:
        return x + F.pixel_shuffle(self.body(F.pixel_unshuffle(x, 2)), 2)


def subpixel_weight(weight: Tensor, padding: int) -> Tensor:
    """The stride-2 transposed convolution of ``weight`` (C_in, C_out, k, k) with k = 2·padding + 1
    (and ``output_padding`` 1, so the output is exactly twice the input) as a stride-1 convolution to 4·C_out channels then ``pixel_shuffle(2)``.

    Output pixel ``o = 2i + a`` of the transposed convolution gathers input ``m = i + d`` through tap
    ``a + padding − 2d``; each phase (a, b) is one group of output channels of a convolution over
    offsets ``d`` in [−r, r]. The returned (4·C_out, C_in, 2r+1, 2r+1) weight is used with padding r.
    """
    c_in, c_out, k, _ = weight.shape
    r = (k - 1 + padding) // 2  # the widest input offset a tap reaches
    taps = [[(d + r, a + padding - 2 * d) for d in range(-r, r + 1) if 0 <= a + padding - 2 * d < k] for a in (0, 1)]
    out = weight.new_zeros(c_out, 2, 2, c_in, 2 * r + 1, 2 * r + 1)
    for a in (0, 1):
        for b in (0, 1):
            for iy, ky in taps[a]:
                for ix, kx in taps[b]:
                    out[:, a, b, :, iy, ix] = weight[:, :, ky, kx].t()
    return out.reshape(4 * c_out, c_in, 2 * r + 1, 2 * r + 1)


class SubpixelConvTranspose2d(nn.ConvTranspose2d):
    """A stride-2 ``ConvTranspose2d`` (same parameters, same state dict) computed as a convolution
    and a pixel shuffle: for few output channels, such as a flow's two, CPUs run that twice as fast
    (measured: 96 -> 2 channels at 224x128 -> 448x256, 16.5 -> 8 ms)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int) -> None:
        if kernel_size != 2 * padding + 1:
            raise ValueError("a subpixel transposed convolution doubles the size: kernel_size must be 2·padding + 1")
        super().__init__(in_channels, out_channels, kernel_size, stride=2, padding=padding, output_padding=1)

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]  # always exactly twice the size
        r = (self.kernel_size[0] - 1 + self.padding[0]) // 2
        y = F.conv2d(x, subpixel_weight(self.weight, self.padding[0]), self.bias.repeat_interleave(4), padding=r)
        return F.pixel_shuffle(y, 2)
