import random

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
