"""Synthetic motion with known flow, made from still images (DESIGN.md §6).

Each pair is a reference crop and a "current" frame made by backward-warping it with a flow we
choose, so the ground truth is exact:

* camera motion: a random affine move (shift, small rotation, zoom) plus a smooth random field;
* a moving object: a soft-edged patch from elsewhere pasted at ``q`` in the reference and at
  ``q - d`` in the current frame (so its flow is ``d``), occluding the background. Background
  pixels of the current frame whose source lies under the patch in the reference are occluded:
  ``valid`` is 0 there.

Flow follows :mod:`lvc.models.flow`: ``current(p) = reference(p + flow(p))``.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import Tensor

from lvc.models.warp import base_grid, warp

MARGIN = 24  # pixels around the crop that camera motion may pull in


def _affine_flow(size: int, shift: float, rot_deg: float, zoom: float, rng: random.Random) -> Tensor:
    a = math.radians(rng.uniform(-rot_deg, rot_deg))
    z = rng.uniform(1 / zoom, zoom)
    tx, ty = rng.uniform(-shift, shift), rng.uniform(-shift, shift)
    p = base_grid(size, size, torch.device("cpu"), torch.float32)[0] - (size - 1) / 2
    x, y = p[0], p[1]
    xs = z * (math.cos(a) * x - math.sin(a) * y) + tx
    ys = z * (math.sin(a) * x + math.cos(a) * y) + ty
    return torch.stack([xs - x, ys - y])


def _smooth_field(size: int, amplitude: float, rng: random.Random) -> Tensor:
    g = torch.Generator().manual_seed(rng.randrange(1 << 30))
    coarse = torch.randn(1, 2, 4, 4, generator=g) * amplitude
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True)[0]


def _ellipse(h: int, w: int) -> Tensor:
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    return ((1 - (xs ** 2 + ys ** 2)) * 4).clamp(0, 1)  # soft edge


def synthetic_pair(image: Tensor, crop: int, rng: random.Random, *, shift: float = 6.0, rot_deg: float = 2.0,
                   zoom: float = 1.04, field: float = 1.5, objects: int = 1, object_motion: float = 8.0
                   ) -> dict[str, Tensor]:
    """``reference``, ``current`` (3, crop, crop) in [0, 1], ``flow`` (2, crop, crop), ``valid`` (crop, crop).

    ``image`` (3, H, W) float in [0, 1] must be at least ``crop + 2 * MARGIN`` on each side.
    """
    _, h, w = image.shape
    big = crop + 2 * MARGIN
    if h < big or w < big:
        raise ValueError(f"image {w}x{h} is smaller than {big}x{big}")
    top, left = rng.randint(0, h - big), rng.randint(0, w - big)
    region = image[:, top:top + big, left:left + big]
    flow = _affine_flow(crop, shift, rot_deg, zoom, rng) + _smooth_field(crop, field, rng)
    # Sample the bigger region at p + MARGIN + flow: the current frame is exactly the reference moved.
    shifted = F.pad(flow[None], (MARGIN, MARGIN, MARGIN, MARGIN))
    current = warp(region[None], shifted)[0, :, MARGIN:-MARGIN, MARGIN:-MARGIN]
    reference = region[:, MARGIN:-MARGIN, MARGIN:-MARGIN].clone()
    valid = torch.ones(crop, crop)
    for _ in range(objects):
        ph, pw = rng.randint(crop // 8, crop // 3), rng.randint(crop // 8, crop // 3)
        sy, sx = rng.randint(0, h - ph), rng.randint(0, w - pw)
        patch, alpha = image[:, sy:sy + ph, sx:sx + pw], _ellipse(ph, pw)
        dx, dy = round(rng.uniform(-object_motion, object_motion)), round(rng.uniform(-object_motion, object_motion))
        ry, rx = rng.randint(max(0, dy), crop - ph + min(0, dy)), rng.randint(max(0, dx), crop - pw + min(0, dx))
        cy, cx = ry - dy, rx - dx  # position in the current frame
        # Occlusion: background pixels of `current` whose source point lies under the patch in `reference`.
        src = base_grid(crop, crop, torch.device("cpu"), torch.float32)[0] + flow
        inside = ((src[0] >= rx) & (src[0] <= rx + pw - 1) & (src[1] >= ry) & (src[1] <= ry + ph - 1))
        valid[inside] = 0
        reference[:, ry:ry + ph, rx:rx + pw] = alpha * patch + (1 - alpha) * reference[:, ry:ry + ph, rx:rx + pw]
        current[:, cy:cy + ph, cx:cx + pw] = alpha * patch + (1 - alpha) * current[:, cy:cy + ph, cx:cx + pw]
        solid = alpha > 0.5
        flow[0, cy:cy + ph, cx:cx + pw][solid] = float(dx)
        flow[1, cy:cy + ph, cx:cx + pw][solid] = float(dy)
        valid[cy:cy + ph, cx:cx + pw][solid] = 1
        blend = (alpha > 0) & ~solid  # soft edges have no single true flow
        valid[cy:cy + ph, cx:cx + pw][blend] = 0
    return {"reference": reference.clamp(0, 1), "current": current.clamp(0, 1), "flow": flow, "valid": valid}


CLIP_MARGIN = 48  # pixels around the crop that a clip's accumulated camera motion may pull in


def _paste(frame: Tensor, patch: Tensor, alpha: Tensor, y: int, x: int) -> None:
    """Alpha-blend ``patch`` into ``frame`` with its top-left corner at (y, x), clipped to the frame."""
    _, h, w = frame.shape
    ph, pw = patch.shape[-2:]
    y0, x0, y1, x1 = max(0, y), max(0, x), min(h, y + ph), min(w, x + pw)
    if y0 >= y1 or x0 >= x1:
        return
    p, a = patch[:, y0 - y:y1 - y, x0 - x:x1 - x], alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    frame[:, y0:y1, x0:x1] = a * p + (1 - a) * frame[:, y0:y1, x0:x1]


def synthetic_clip(image: Tensor, crop: int, frames: int, rng: random.Random, *, shift: float = 5.0,
                   rot_deg: float = 1.0, zoom: float = 1.02, field: float = 1.0, objects: int = 2,
                   object_motion: float = 6.0, noise: float = 0.006, brightness: float = 0.01) -> Tensor:
    """``frames`` consecutive frames (frames, 3, crop, crop) in [0, 1] of a still moved by a camera.

    Frame t samples the still at ``p + t·F(p)`` for one camera flow F (affine plus a smooth field,
    at a random speed, static clips included), so motion is constant-velocity and every frame is
    exact; objects cross it at their own velocity, occluding the background. Sensor noise,
    independent per frame, and a slow brightness drift stand in for what real cameras add.
    ``image`` (3, H, W) must be at least ``crop + 2 * CLIP_MARGIN`` on each side.
    """
    _, h, w = image.shape
    big = crop + 2 * CLIP_MARGIN
    if h < big or w < big:
        raise ValueError(f"image {w}x{h} is smaller than {big}x{big}")
    top, left = rng.randint(0, h - big), rng.randint(0, w - big)
    region = image[None, :, top:top + big, left:left + big]
    flow = (_affine_flow(crop, shift, rot_deg, zoom, rng) + _smooth_field(crop, field, rng)) * rng.uniform(0, 1)
    reach = (frames - 1) * float(flow.abs().max())
    if reach > CLIP_MARGIN - 1:  # the last frame must still sample inside the region
        flow = flow * ((CLIP_MARGIN - 1) / reach)
    pad = (CLIP_MARGIN,) * 4
    inner = slice(CLIP_MARGIN, -CLIP_MARGIN)
    clip = torch.stack([warp(region, F.pad(t * flow[None], pad))[0, :, inner, inner] for t in range(frames)])
    for _ in range(rng.randint(0, objects)):
        ph, pw = rng.randint(crop // 8, crop // 3), rng.randint(crop // 8, crop // 3)
        sy, sx = rng.randint(0, h - ph), rng.randint(0, w - pw)
        patch, alpha = image[:, sy:sy + ph, sx:sx + pw], _ellipse(ph, pw)
        vy, vx = rng.uniform(-object_motion, object_motion), rng.uniform(-object_motion, object_motion)
        y, x = rng.randint(0, crop - ph), rng.randint(0, crop - pw)
        for t in range(frames):
            _paste(clip[t], patch, alpha, round(y + t * vy), round(x + t * vx))
    gain = 1 + brightness * rng.uniform(-1, 1) * torch.arange(frames).view(-1, 1, 1, 1)
    sigma = noise * rng.uniform(0, 1)
    g = torch.Generator().manual_seed(rng.randrange(1 << 30))
    return (clip * gain + sigma * torch.randn(clip.shape, generator=g)).clamp(0, 1)
