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


def warp_exact(reference: Tensor, flow: Tensor) -> Tensor:
    """:func:`warp` from elementwise IEEE operations and gathers only, so the same bits on every machine
    (``grid_sample``'s kernels differ between ISAs in how they fuse multiply-adds).

    The sample point is clamped into the frame (``grid_sample``'s border mode), then the four
    neighbours are weighted bilinearly: each product and sum a separate, correctly rounded operation.
    """
    b, c, h, w = reference.shape
    grid = base_grid(h, w, flow.device, flow.dtype)
    x = (grid[:, 0] + flow[:, 0]).clamp(0, w - 1)
    y = (grid[:, 1] + flow[:, 1]).clamp(0, h - 1)
    x0, y0 = x.floor(), y.floor()
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0i, y0i = x0.long(), y0.long()
    x1i, y1i = (x0i + 1).clamp(max=w - 1), (y0i + 1).clamp(max=h - 1)
    flat = reference.reshape(b, c, h * w)

    def tap(yi: Tensor, xi: Tensor) -> Tensor:
        return flat.gather(2, (yi * w + xi).reshape(b, 1, h * w).expand(b, c, h * w)).reshape(b, c, h, w)

    top = tap(y0i, x0i) * (1 - fx) + tap(y0i, x1i) * fx
    bottom = tap(y1i, x0i) * (1 - fx) + tap(y1i, x1i) * fx
    return top * (1 - fy) + bottom * fy
