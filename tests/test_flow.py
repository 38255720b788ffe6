import torch

from lvc.models.flow import FlowEstimator
from lvc.models.warp import warp


def test_zero_flow_is_identity() -> None:
    x = torch.rand(2, 3, 17, 23)
    assert torch.allclose(warp(x, torch.zeros(2, 2, 17, 23)), x, atol=1e-6)


def test_integer_shift_convention() -> None:
    x = torch.rand(1, 3, 16, 20)
    flow = torch.zeros(1, 2, 16, 20)
    flow[:, 0] = 3.0  # current(p) = reference(p + 3 px right)
    flow[:, 1] = -2.0  # ... and 2 px up
    out = warp(x, flow)
    assert torch.allclose(out[..., 2:, :-3], x[..., :-2, 3:], atol=1e-5)


def test_raft_shapes_any_size_and_scale() -> None:
    torch.manual_seed(0)
    for scale, size in [(1.0, (37, 53)), (0.5, (64, 96))]:
        est = FlowEstimator(updates=2, flow_scale=scale).eval()
        a, b = torch.rand(1, 3, *size), torch.rand(1, 3, *size)
        with torch.no_grad():
            flow = est(a, b)
            flows = est(a, b, all_iterations=True)
        assert flow.shape == (1, 2, *size)
        assert len(flows) == 2 and torch.allclose(flows[-1], flow)
