"""Optical flow for the encoder: torchvision's RAFT, built without downloaded weights.

This is the only module that imports torchvision's RAFT. The decoder never runs it: flow is
estimated at the encoder, then coded by the motion codec.

Convention (shared with :mod:`lvc.models.warp`): ``flow`` is (B, 2, H, W) in pixels, channel 0
horizontal (+x right) and channel 1 vertical (+y down), and maps the *current* frame to the
*reference*: ``current(p) ≈ reference(p + flow(p))``. This is RAFT's ``flow(image1 -> image2)``
with ``image1`` the current frame and ``image2`` the reference.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MIN_SIDE = 128  # RAFT works at 1/8 resolution and needs 128 px for its 4-level correlation pyramid


def lean_corr_block(*, num_levels: int, radius: int) -> nn.Module:
    """torchvision's ``CorrBlock`` with the same values, less memory: its all-pairs volume is scaled
    in place, where torchvision's division allocates a second volume (830 MB at 1280x720)."""
    from torchvision.models.optical_flow.raft import CorrBlock

    class LeanCorrBlock(CorrBlock):
        def _compute_corr_volume(self, fmap1: Tensor, fmap2: Tensor) -> Tensor:
            b, c, h, w = fmap1.shape
            corr = torch.matmul(fmap1.view(b, c, h * w).transpose(1, 2), fmap2.view(b, c, h * w))
            return corr.view(b, h, w, 1, h, w).div_(torch.sqrt(torch.tensor(c)))

    return LeanCorrBlock(num_levels=num_levels, radius=radius)


class FeatureCache:
    """RAFT's feature map of the last frame it was given as ``current``: an encoder that estimates the
    next frame's flow against that same frame (the previous source frame) reuses it, saving one of the
    two feature passes. It checks the frame itself, so a different reference is never given stale features."""

    def __init__(self) -> None:
        self._image: Tensor | None = None
        self._features: Tensor | None = None

    def get(self, image: Tensor) -> Tensor | None:
        """The features of ``image`` if it is the frame last put, else None."""
        if self._image is not None and self._image.shape == image.shape and torch.equal(self._image, image):
            return self._features
        return None

    def put(self, image: Tensor, features: Tensor) -> None:
        """Keep ``features`` as those of ``image`` (the one frame held)."""
        self._image, self._features = image, features


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
        corr = self.raft.corr_block  # it holds no weights: replacing it leaves the state dict alone
        self.raft.corr_block = lean_corr_block(num_levels=corr.num_levels, radius=corr.radius)
        self.updates = updates
        self.flow_scale = flow_scale

    def forward(self, current: Tensor, reference: Tensor, *, all_iterations: bool = False,
                flow_scale: float | None = None, updates: int | None = None,
                max_pixels: int | None = None, cache: FeatureCache | None = None) -> Tensor | list[Tensor]:
        """Flow (B, 2, H, W) from ``current`` to ``reference``, both (B, 3, H, W) in [0, 1].

        With ``all_iterations`` the list of every refinement's flow is returned (for RAFT's
        sequence loss in training). ``flow_scale`` and ``updates`` override the module's for this call;
        ``max_pixels`` scales larger frames further down, to that many pixels. ``cache`` keeps the
        features of the last ``current``, so that a ``reference`` equal to it (the previous source frame)
        costs no second feature pass.
        """
        h, w = current.shape[-2:]
        s = self.flow_scale if flow_scale is None else flow_scale
        if max_pixels is not None:
            # RAFT's all-pairs correlation grows with the square of the pixel count: 830 MB at 1280x720,
            # 4.2 GB at 1920x1080, before its pyramid. Capped, its time and memory stop growing.
            s = min(s, math.sqrt(max_pixels / (h * w)))
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
        flows = self._raft(a, b, self.updates if updates is None else updates, cache=cache, every=all_iterations)
        out = [self._restore(f[..., :hs, :ws], (h, w)) for f in flows]
        return out if all_iterations else out[0]

    def _raft(self, a: Tensor, b: Tensor, updates: int, *, cache: FeatureCache | None, every: bool) -> list[Tensor]:
        """torchvision's RAFT loop over its own parts, so that the reference's features may come from
        ``cache``; without it its results equal ``RAFT.forward``'s. Only the flows asked for are
        upsampled (``every``: each update's, as the sequence loss needs)."""
        from torchvision.models.optical_flow._utils import make_coords_grid, upsample_flow

        raft = self.raft
        fa, fb = self._features(a, b, cache)
        raft.corr_block.build_pyramid(fa, fb)
        context = raft.context_encoder(a)
        hidden_size = raft.update_block.hidden_state_size
        hidden, context = torch.split(context, [hidden_size, context.shape[1] - hidden_size], dim=1)
        hidden, context = torch.tanh(hidden), F.relu(context)
        coords0 = make_coords_grid(a.shape[0], *fa.shape[-2:]).to(fa.device)
        coords1 = coords0
        flows = []
        for i in range(updates):
            coords1 = coords1.detach()  # as RAFT: no gradient through the coordinates
            corr = raft.corr_block.index_pyramid(centroids_coords=coords1)
            hidden, delta = raft.update_block(hidden, context, corr, coords1 - coords0)
            coords1 = coords1 + delta
            if every or i == updates - 1:
                mask = None if raft.mask_predictor is None else raft.mask_predictor(hidden)
                flows.append(upsample_flow(flow=coords1 - coords0, up_mask=mask))
        return flows

    def _features(self, a: Tensor, b: Tensor, cache: FeatureCache | None) -> tuple[Tensor, Tensor]:
        """RAFT's feature maps of both frames, in one batch, unless ``cache`` holds ``b``'s."""
        fb = None if cache is None else cache.get(b)
        if fb is None:
            fa, fb = torch.chunk(self.raft.feature_encoder(torch.cat([a, b], dim=0)), chunks=2, dim=0)
        else:
            fa = self.raft.feature_encoder(a)
        if cache is not None:
            cache.put(a, fa)
        return fa, fb

    @staticmethod
    def _restore(flow: Tensor, size: tuple[int, int]) -> Tensor:
        if flow.shape[-2:] == size:
            return flow
        sy, sx = size[0] / flow.shape[-2], size[1] / flow.shape[-1]
        flow = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
        return torch.stack([flow[:, 0] * sx, flow[:, 1] * sy], dim=1)
