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
    for scale, size in [(1.0, (37, 53)), (0.5, (256, 272))]:
        est = FlowEstimator(updates=2, flow_scale=scale).eval()
        a, b = torch.rand(1, 3, *size), torch.rand(1, 3, *size)
        with torch.no_grad():
            flow = est(a, b)
            flows = est(a, b, all_iterations=True)
        assert flow.shape == (1, 2, *size)
        assert len(flows) == 2 and torch.allclose(flows[-1], flow)


def test_raft_is_never_run_below_its_minimum_size() -> None:
    """Halving a 160 px frame would only be padded back to 128 px: the scale is floored at 128/160."""
    torch.manual_seed(0)
    est = FlowEstimator(updates=2).eval()
    a, b = torch.rand(1, 3, 160, 256), torch.rand(1, 3, 160, 256)
    with torch.no_grad():
        assert torch.equal(est(a, b, flow_scale=0.5), est(a, b, flow_scale=0.8))
        assert not torch.equal(est(a, b, flow_scale=0.5), est(a, b))


def test_the_lean_correlation_gives_torchvisions_flow_bit_for_bit() -> None:
    from torchvision.models.optical_flow.raft import CorrBlock

    torch.manual_seed(0)
    est = FlowEstimator(updates=3).eval()
    a, b = torch.rand(1, 3, 128, 160), torch.rand(1, 3, 128, 160)
    with torch.no_grad():
        lean = est(a, b)
        est.raft.corr_block = CorrBlock(num_levels=est.raft.corr_block.num_levels, radius=est.raft.corr_block.radius)
        assert torch.equal(lean, est(a, b))


def test_the_raft_loop_over_its_parts_is_torchvisions_forward_bit_for_bit() -> None:
    """FlowEstimator runs RAFT's update loop itself (for cached features); without them every update's
    flow equals torchvision's own forward."""
    torch.manual_seed(0)
    est = FlowEstimator(updates=3).eval()
    a, b = torch.rand(1, 3, 128, 160), torch.rand(1, 3, 128, 160)
    with torch.no_grad():
        theirs = est.raft(a * 2 - 1, b * 2 - 1, num_flow_updates=3)
        ours = est(a, b, all_iterations=True)
    assert len(ours) == 3 and all(torch.equal(x, y) for x, y in zip(theirs, ours))


def test_cached_features_serve_only_the_frame_they_were_computed_for() -> None:
    from lvc.models.flow import FeatureCache

    torch.manual_seed(0)
    est = FlowEstimator(updates=2).eval()
    a, b, c = (torch.rand(1, 3, 128, 160) for _ in range(3))
    cache = FeatureCache()
    calls = []
    est.raft.feature_encoder.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    with torch.no_grad():
        est(b, a, cache=cache)  # b's features are kept ...
        warm = est(a, b, cache=cache)  # ... and serve as the reference's: one frame through the encoder
        assert calls == [2, 1]
        assert torch.allclose(warm, est(a, b), atol=1e-4)  # the same flow, but for a batch of one
        assert torch.equal(est(c, b, cache=cache), est(c, b))  # a's are kept now, not b's: a fresh pair
    assert calls[-2:] == [2, 2]


def test_raft_sees_at_most_max_pixels() -> None:
    """A frame over the cap is scaled down for RAFT as ``flow_scale`` would scale it; one under it is not."""
    torch.manual_seed(0)
    est = FlowEstimator(updates=2).eval()
    a, b = torch.rand(1, 3, 256, 384), torch.rand(1, 3, 256, 384)
    with torch.no_grad():
        assert torch.equal(est(a, b, max_pixels=128 * 192), est(a, b, flow_scale=0.5))
        assert torch.equal(est(a, b, max_pixels=256 * 384), est(a, b))
        assert torch.equal(est(a, b, flow_scale=0.5, max_pixels=256 * 384), est(a, b, flow_scale=0.5))


def _smooth_pair(shift: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A smooth random reference, the frame it becomes under a constant shift, and that flow."""
    torch.manual_seed(0)
    ref = torch.nn.functional.interpolate(torch.rand(1, 3, 12, 16), size=(48, 64), mode="bicubic",
                                          align_corners=False).clamp(0, 1)
    flow = torch.zeros(1, 2, 48, 64)
    flow[:, 0], flow[:, 1] = shift
    return warp(ref, flow), ref, flow


def test_refiner_fits_the_flow_to_the_frame() -> None:
    from lvc.codec.refine import FlowRefiner

    cur, ref, true = _smooth_pair((1.5, -1.0))
    init = torch.zeros_like(true)
    with torch.inference_mode():  # as the encoder calls it
        fit = FlowRefiner(iters=30, scale=4, lr=0.3)(cur, ref, init)
    err = lambda f: (warp(ref, f) - cur).pow(2).mean()  # noqa: E731
    assert fit.shape == init.shape and not fit.requires_grad
    assert err(fit) < 0.2 * err(init)
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))  # away from the clamped border
    assert (fit - true)[inner].abs().mean() < (init - true)[inner].abs().mean() / 2


def test_refiner_with_no_steps_returns_its_start() -> None:
    from lvc.codec.refine import FlowRefiner

    cur, ref, true = _smooth_pair((0.5, 0.5))
    assert FlowRefiner(iters=0)(cur, ref, true) is true
