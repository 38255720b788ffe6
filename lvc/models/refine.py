"""Encoder-side flow refinement: a few gradient steps on the warp error, started from RAFT.

RAFT's flow is a good start but not the best prediction: the encoder knows the frame it codes,
so it can fit the flow to it. Adam minimises ``mean((warp(reference, up(f)) − current)²)`` over a
flow field ``f`` kept at ``1/scale`` resolution (the coarse field is what the motion codec can
carry anyway, and it regularises the fit). Only the encoder runs this: the bitstream and the
decoder do not change, so it is a speed/quality knob like RAFT's number of updates.

Measured (``bench/flow_warp.py``): on the benchmark clips the warped prediction gains 4.0 dB over
RAFT alone (1.9–5.8 dB per clip), for 0.06 s per 416×240 frame. With the motion codec trained on
RAFT's flows, this alone made P-frames of foreman and basketballpass 8–13 % smaller at equal PSNR.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvc.models.warp import warp


class FlowRefiner(nn.Module):
    """``(current, reference, flow) -> refined flow``, all (B, ·, H, W); flow in pixels (see flow.py)."""

    def __init__(self, *, iters: int = 10, scale: int = 4, lr: float = 0.3) -> None:
        super().__init__()
        self.iters = iters
        self.scale = scale
        self.lr = lr

    def forward(self, current: Tensor, reference: Tensor, flow: Tensor) -> Tensor:
        if self.iters <= 0:
            return flow
        h, w = flow.shape[-2:]
        # The encoder runs under inference_mode and training under no_grad/autocast: this fit needs
        # its own autograd graph in fp32, on plain (non-inference) copies of the inputs.
        with torch.inference_mode(False), torch.enable_grad(), torch.autocast(flow.device.type, enabled=False):
            cur, ref = current.float().clone(), reference.float().clone()
            coarse = F.interpolate(flow.float().clone(), scale_factor=1 / self.scale, mode="area")
            coarse.requires_grad_(True)
            opt = torch.optim.Adam([coarse], lr=self.lr)
            for _ in range(self.iters):
                dense = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
                loss = (warp(ref, dense) - cur).pow(2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            with torch.no_grad():
                dense = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
        return dense.detach().to(flow.dtype)
