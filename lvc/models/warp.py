"""Backward warping with ``grid_sample``; the flow convention is the one in :mod:`lvc.models.flow`.

``warp(reference, flow)(p) = reference(p + flow(p))``, bilinear, pixel centres at integer
coordinates (``align_corners=True``), and samples outside the frame take the nearest edge pixel
(``padding_mode="border"``), so a camera pan does not pull black into the prediction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def base_grid(h: int, w: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """(1, 2, H, W) pixel coordinates: channel 0 is x, channel 1 is y."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=dtype),
                            torch.arange(w, device=device, dtype=dtype), indexing="ij")
    return torch.stack([xs, ys])[None]


def warp(reference: Tensor, flow: Tensor) -> Tensor:
    """Sample ``reference`` (B, C, H, W) at ``p + flow(p)``; flow (B, 2, H, W) in pixels."""
    b, _, h, w = reference.shape
    coords = base_grid(h, w, flow.device, flow.dtype) + flow
    gx = 2 * coords[:, 0] / max(w - 1, 1) - 1
    gy = 2 * coords[:, 1] / max(h - 1, 1) - 1
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(reference, grid, mode="bilinear", padding_mode="border", align_corners=True)
