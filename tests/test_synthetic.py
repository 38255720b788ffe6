import random

import pytest
import torch

from lvc.models.warp import warp
from tests.conftest import natural_image
from train.synthetic import synthetic_pair


def test_flow_is_exact_where_valid() -> None:
    img = torch.from_numpy(natural_image(200, 240)).permute(2, 0, 1).float() / 255
    for seed in range(5):
        s = synthetic_pair(img, 96, random.Random(seed))
        pred = warp(s["reference"][None], s["flow"][None])[0]
        err = (pred - s["current"]).abs().mean(0)
        inner = torch.zeros_like(s["valid"], dtype=torch.bool)
        inner[4:-4, 4:-4] = True  # a flow that points outside the crop samples the border instead
        m = (s["valid"] > 0) & inner & ((torch.arange(96)[None] + s["flow"][0]).abs() < 95)
        assert err[m].mean() < 0.02, err[m].mean()
        assert 0.3 < s["valid"].mean() <= 1.0
        assert s["flow"].abs().max() > 0.5  # there is motion


def test_synthetic_clip_moves_consistently() -> None:
    from train.synthetic import CLIP_MARGIN, synthetic_clip

    img = torch.from_numpy(natural_image(64 + 2 * CLIP_MARGIN + 20, 64 + 2 * CLIP_MARGIN + 30)).permute(2, 0, 1)
    img = img.float() / 255
    moving = 0
    for seed in range(6):
        clip = synthetic_clip(img, 64, 5, random.Random(seed))
        assert clip.shape == (5, 3, 64, 64) and 0 <= clip.min() and clip.max() <= 1
        steps = [(clip[t + 1] - clip[t]).abs().mean().item() for t in range(4)]
        moving += max(steps) > 0.01
        # constant velocity: no step is wildly different from the others (noise and objects aside)
        assert max(steps) < 4 * min(steps) + 0.02
    assert moving >= 4
    same = synthetic_clip(img, 64, 3, random.Random(7)), synthetic_clip(img, 64, 3, random.Random(7))
    assert torch.equal(*same)
    with pytest.raises(ValueError, match="smaller than"):
        synthetic_clip(img[:, :100, :100], 64, 3, random.Random(0))
