"""Channel-group context for the entropy parameters (Minnen & Singh 2020, without the serial scan).

Latent channels are split into groups; group ``i`` gets its mean and scale from the hyperprior
features and the decoded groups ``0..i-1``. With DCT-ordered channels this is natural: the decoded
low frequencies say where the texture is, which is where the high frequencies are large. It is
parallel over space, so decoding costs a few convolutions more than a plain hyperprior.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class ChannelGroupContext(nn.Module):
    """Maps (hyper features, earlier groups) to normalised (mean, log-scale) of each group."""

    def __init__(self, *, groups: Sequence[int], hyper_channels: int, hidden: int) -> None:
        super().__init__()
        self.groups = tuple(int(g) for g in groups)
        self.nets = nn.ModuleList()
        seen = 0
        for size in self.groups:
            last = nn.Conv2d(hidden, 2 * size, 1)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.nets.append(nn.Sequential(
                nn.Conv2d(hyper_channels + seen, hidden, 3, padding=1), nn.LeakyReLU(0.1),
                nn.Conv2d(hidden, hidden, 1), nn.LeakyReLU(0.1), last))
            seen += size

    def slices(self) -> list[slice]:
        """Channel slice of each group."""
        out, start = [], 0
        for size in self.groups:
            out.append(slice(start, start + size))
            start += size
        return out

    def forward(self, i: int, hyper: Tensor, decoded: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """(mean, log_scale) of group ``i``, each (B, groups[i], h, w), in normalised units."""
        params = self.nets[i](torch.cat([hyper, *decoded], dim=1))
        mean, log_scale = params.chunk(2, dim=1)
        return mean, log_scale
