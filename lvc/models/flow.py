"""Optical flow for the encoder: torchvision's RAFT, built without downloaded weights.

This is the only module that imports torchvision's RAFT. The decoder never runs it: flow is
estimated at the encoder, then coded by the motion codec.

Convention (shared with :mod:`lvc.models.warp`): ``flow`` is (B, 2, H, W) in pixels, channel 0
horizontal (+x right) and channel 1 vertical (+y down), and maps the *current* frame to the
*reference*: ``current(p) ≈ reference(p + flow(p))``. This is RAFT's ``flow(image1 -> image2)``
with ``image1`` the current frame and ``image2`` the reference.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MIN_SIDE = 128  # RAFT works at 1/8 resolution and needs 128 px for its 4-level correlation pyramid


class FlowEstimator(nn.Module):
    """RAFT (small or large) on [0, 1] RGB, any size, with a resolution knob for CPUs.

    ``flow_scale`` < 1 estimates flow on downscaled frames (never below 128 px a side) and upsamples
    it (values rescaled), trading accuracy for speed; ``updates`` is RAFT's number of recurrent
    refinements.
    """

    def __init__(self, *, variant: Literal["small", "large"] = "small", updates: int = 6,
                 flow_scale: float = 1.0) -> None:
        super().__init__()
        from torchvision.models.optical_flow import raft_large, raft_small

        self.raft = (raft_small if variant == "small" else raft_large)(weights=None, progress=False)
        self.updates = updates
        self.flow_scale = flow_scale

    def forward(self, current: Tensor, reference: Tensor, *, all_iterations: bool = False,
                flow_scale: float | None = None, updates: int | None = None) -> Tensor | list[Tensor]:
        """Flow (B, 2, H, W) from ``current`` to ``reference``, both (B, 3, H, W) in [0, 1].

        With ``all_iterations`` the list of every refinement's flow is returned (for RAFT's
        sequence loss in training). ``flow_scale`` and ``updates`` override the module's for this call.
        """
        h, w = current.shape[-2:]
        s = self.flow_scale if flow_scale is None else flow_scale
        # Below RAFT's 128 px minimum the frames would be padded back up: no time saved, detail lost.
        s = min(1.0, max(s, MIN_SIDE / min(h, w)))
        if s != 1.0:
            size = (max(8, round(h * s)), max(8, round(w * s)))
            current = F.interpolate(current, size=size, mode="bilinear", align_corners=False, antialias=True)
            reference = F.interpolate(reference, size=size, mode="bilinear", align_corners=False, antialias=True)
        hs, ws = current.shape[-2:]
        ph, pw = max(MIN_SIDE, -(-hs // 8) * 8) - hs, max(MIN_SIDE, -(-ws // 8) * 8) - ws
        pad = (0, pw, 0, ph)
        a = F.pad(current * 2 - 1, pad, mode="replicate")
        b = F.pad(reference * 2 - 1, pad, mode="replicate")
        flows = self.raft(a, b, num_flow_updates=self.updates if updates is None else updates)
        out = [self._restore(f[..., :hs, :ws], (h, w)) for f in (flows if all_iterations else flows[-1:])]
        return out if all_iterations else out[0]

    @staticmethod
    def _restore(flow: Tensor, size: tuple[int, int]) -> Tensor:
        if flow.shape[-2:] == size:
            return flow
        sy, sx = size[0] / flow.shape[-2], size[1] / flow.shape[-1]
        flow = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
        return torch.stack([flow[:, 0] * sx, flow[:, 1] * sy], dim=1)
