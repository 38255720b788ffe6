"""Checkerboard spatial context for the entropy parameters (He et al. 2021, "Checkerboard context
model for efficient learned image compression"), inside each channel group (as ELIC's SCCTX).

Each channel group is coded in two halves of a checkerboard over the latent grid. The anchors
((row + column) even) take their mean and scale from the channel-group context alone; the other
half then also sees the group's decoded anchors around it, through a 5×5 convolution. Both halves
are parallel over space, so decoding costs one pass more per group, not a serial scan.

Without it the latents' only spatial information is the hyper-latent z, which then carries
everything the entropy model knows about where the texture is: at low rates z was half of the
bytes. Neighbouring latents say much of that for free.

The heads start at zero: a codec given this context codes exactly the symbols it coded without
it (only split into two streams per group) until training moves them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

KERNEL = 5  # a non-anchor sees the 12 anchors within two latents of it


class CheckerboardContext(nn.Module):
    """Per channel group: (decoded anchors, the group's context parameters) -> corrections to the
    normalised (mean, log-scale) of the non-anchor half."""

    def __init__(self, *, groups: Sequence[int], hidden: int) -> None:
        super().__init__()
        self.groups = tuple(int(g) for g in groups)
        self.neighbours = nn.ModuleList()  # the anchors around each position
        self.params = nn.ModuleList()  # what the channel context already says there
        self.heads = nn.ModuleList()
        for size in self.groups:
            self.neighbours.append(nn.Conv2d(size, hidden, KERNEL, padding=KERNEL // 2))
            self.params.append(nn.Conv2d(2 * size, hidden, 1))
            last = nn.Conv2d(hidden, 2 * size, 1)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.heads.append(nn.Sequential(nn.LeakyReLU(0.1), nn.Conv2d(hidden, hidden, 1), nn.LeakyReLU(0.1), last))

    @staticmethod
    def anchors(height: int, width: int, device: torch.device | str = "cpu") -> Tensor:
        """(1, 1, height, width) bool: True on the anchor half, where (row + column) is even."""
        rows = torch.arange(height, device=device)[:, None]
        cols = torch.arange(width, device=device)[None, :]
        return ((rows + cols) % 2 == 0)[None, None]

    def forward(self, i: int, anchors: Tensor, mean: Tensor, log_scale: Tensor) -> tuple[Tensor, Tensor]:
        """Corrections (mean, log_scale) for group ``i``, each (B, groups[i], h, w), in normalised units.

        ``anchors``: the group's decoded latents, normalised, zero off the anchor half; ``mean`` and
        ``log_scale``: the channel context's normalised parameters. Only the non-anchor half of the
        result is used."""
        hidden = self.neighbours[i](anchors) + self.params[i](torch.cat([mean, log_scale], dim=1))
        d_mean, d_log_scale = self.heads[i](hidden).chunk(2, dim=1)
        return d_mean, d_log_scale
