"""Quantisation-aware training for exact decoding (issue 11, DESIGN.md §4).

A calibrated weight file decodes through :class:`lvc.models.exact.ExactConv`: each decoder-side
convolution rounds its input to one grid and its weights to a grid per output channel. Training
the float model alone leaves that rounding to chance (1–5 % BD-rate on video). Here the same
rounding runs inside training, with straight-through gradients, so the weights learn to work on
the grids they will be decoded on:

- each decoder-side convolution keeps its parameters and its state-dict keys (export is unchanged);
  only its ``forward`` is replaced, by one that computes ``ExactConv``'s values in float;
- the grids are derived by ``ExactConv`` itself, from the live weights and the file's calibration,
  and re-derived every ``refresh_every`` steps as the weights move.

After training, ``python -m train calibrate`` derives the shipped grids from the final weights, as
for any export.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvc.models.exact import ExactConv
from lvc.models.layers import subpixel_weight


def _round_ste(x: Tensor) -> Tensor:
    """round(x) in value, identity in gradient."""
    return x + (torch.round(x) - x).detach()


class FakeExact:
    """A convolution's exact twin, re-derived from its live weights, and a ``forward`` that computes the
    twin's values with gradients to the float weights (straight through the rounding)."""

    def __init__(self, conv: nn.Conv2d | nn.ConvTranspose2d, act_max: Tensor) -> None:
        self.conv, self.act_max = conv, act_max.detach().float().cpu()
        self.refresh()

    @torch.no_grad()
    def refresh(self) -> None:
        """Re-derive the grids from the conv's current weights, exactly as the decoder will."""
        source = self.conv if self.conv.weight.device.type == "cpu" else copy.deepcopy(self.conv).cpu()
        self.exact = ExactConv(source, self.act_max)

    def forward(self, x: Tensor) -> Tensor:
        conv, ex = self.conv, self.exact.to(x.device)  # a no-op once it is there
        u = _round_ste(x.float() * ex.in_inv).clamp(-ex.qa, ex.qa)
        w, b = conv.weight, conv.bias
        if ex.shuffle:
            w, b = subpixel_weight(w, conv.padding[0]), None if b is None else b.repeat_interleave(4)
        y = ex.integer_conv(u, _round_ste(w * ex.in_range / ex.w_scale), exact_sums=False) * ex.out_scale
        y = y if b is None else y + b.reshape(1, -1, 1, 1)
        return F.pixel_shuffle(y, 2) if ex.shuffle else y


class QuantAware:
    """Rounds ``model``'s calibrated convolutions as the exact decoder does, while training."""

    def __init__(self, model: nn.Module, act_max: dict[str, Tensor], refresh_every: int = 50) -> None:
        self.refresh_every = refresh_every
        self.layers: list[FakeExact] = []
        for name, amax in act_max.items():
            conv = model.get_submodule(name)
            fake = FakeExact(conv, amax)
            conv.forward = fake.forward  # the instance's forward; parameters untouched
            self.layers.append(fake)

    def step(self, global_step: int) -> None:
        """Call once per training step: re-derives the grids every ``refresh_every`` steps (0: never)."""
        if self.refresh_every and global_step > 0 and global_step % self.refresh_every == 0:
            for layer in self.layers:
                layer.refresh()
