"""The P-frame codec round-trips exactly with tiny untrained parts; the graph starts as a plain warp."""

import dataclasses
import inspect
import typing

import pytest
import torch

from lvc.models.builders import build_image_codec
from lvc.models.compensation import MotionCompensation
from lvc.models.inter import InterCodec
from lvc.models.motion_mode import (MOTION_FRESH, MOTION_GLOBAL, MOTION_TEMPORAL, MOTION_UNIFORM, motion_mode,
                                    offset_field, parse_motion_mode)
from lvc.models.motion import MotionCodecSpec, build_motion_codec
from lvc.models.warp import warp
from tests.conftest import TINY_SPEC


def _tiny_inter(temporal_motion: bool = False, condition_hidden: int = 0, spatial_hidden: int = 0) -> InterCodec:
    torch.manual_seed(0)
    motion = build_motion_codec(MotionCodecSpec(hidden=8, latent=8, hyper_hidden=8, hyper_channels=4,
                                                context_hidden=8, groups=[2, 6], spatial_hidden=spatial_hidden))
    residual_spec = dataclasses.replace(TINY_SPEC, spatial_hidden=spatial_hidden)
    codec = InterCodec(motion=motion, compensation=MotionCompensation(hidden=8, blocks=2),
                       residual=build_image_codec(residual_spec, condition_hidden=condition_hidden),
                       temporal_motion=temporal_motion)
    codec.eval()
    codec.motion.update()
    codec.residual.update()
    return codec


def test_compensation_starts_as_warp() -> None:
    mc = MotionCompensation(hidden=8)
    ref, flow = torch.rand(1, 3, 19, 30), torch.randn(1, 2, 19, 30)
    assert torch.allclose(mc(ref, flow), warp(ref, flow))


@pytest.mark.parametrize("spatial", [0, 4])
def test_p_frame_round_trip_is_exact(spatial: int) -> None:
    codec = _tiny_inter(temporal_motion=bool(spatial), condition_hidden=8 * bool(spatial), spatial_hidden=spatial)
    if spatial:  # the checkerboard contexts of the motion and residual codecs, trained-looking
        for part in (codec.motion.spatial, codec.residual.spatial):
            for w in part.parameters():
                torch.nn.init.normal_(w, std=0.1)
        assert codec.motion_streams == 1 + 1 + 2 * 2 and codec.residual_streams == 1 + 2 * 2
    ref, x = torch.rand(1, 3, 40, 72), torch.rand(1, 3, 40, 72)
    flow = torch.randn(1, 2, 40, 72) * 3
    for q in (1.0, 5.5):
        c = codec.compress(x, ref, q, flow=flow)
        d = codec.decompress(c.streams, ref, q)
        assert torch.equal(d.x_hat, c.x_hat)
        assert torch.equal(d.flow_hat, c.flow_hat) and torch.equal(d.prediction, c.prediction)


def test_temporal_motion_round_trips_and_predicts_a_steady_pan() -> None:
    """With temporal prediction, a flow equal to the previous one is coded as a near-empty difference
    (mode byte 1; an untrained codec only ties) and the decoder, given the same previous flow, reproduces the frame exactly."""
    codec = _tiny_inter(temporal_motion=True)
    assert codec.motion_streams == _tiny_inter().motion_streams + 1
    ref, x = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    flow = torch.randn(1, 2, 64, 64) * 4
    first = codec.compress(x, ref, 4.0, flow=flow, lam=0.01)
    assert first.streams[0] == bytes([0])  # nothing to predict from after an I-frame
    second = codec.compress(x, ref, 4.0, flow=first.flow_hat, flow_prev=first.flow_hat, lam=0.01)
    assert second.streams[0] == bytes([1])
    k = codec.motion_streams
    assert sum(map(len, second.streams[1:k])) <= sum(map(len, first.streams[1:k]))
    d = codec.decompress(second.streams, ref, 4.0, flow_prev=first.flow_hat)
    assert torch.equal(d.x_hat, second.x_hat) and torch.equal(d.flow_hat, second.flow_hat)


def test_temporal_motion_refuses_a_missing_previous_flow_or_an_unknown_mode() -> None:
    codec = _tiny_inter(temporal_motion=True)
    ref, x = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    flow = codec.compress(x, ref, 4.0, flow=torch.randn(1, 2, 64, 64) * 4).flow_hat
    c = codec.compress(x, ref, 4.0, flow=flow, flow_prev=flow, lam=0.01)
    assert c.streams[0] == bytes([1])
    with pytest.raises(ValueError, match="none precedes it"):
        codec.decompress(c.streams, ref, 4.0)
    with pytest.raises(ValueError, match="unknown motion mode"):
        codec.decompress([b"\x07", *c.streams[1:]], ref, 4.0, flow_prev=flow)


def test_global_motion_codes_a_pan_as_its_vector_and_round_trips() -> None:
    """A flow that is a pan plus a little detail: offered its median, the codec keeps the global mode
    (mode 2 and the vector in the mode stream), whose flow is nearer the pan for no more motion bytes
    than coding it afresh (an untrained codec codes any flow poorly), and the decoder reproduces it
    from the streams alone."""
    codec = _tiny_inter(temporal_motion=True)
    ref, x = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    pan = offset_field((42, -27), torch.empty(1, 2, 64, 64))  # 10.5 px right, 6.75 px up
    assert pan[0, :, 5, 9].tolist() == [10.5, -6.75]
    flow = pan + 0.05 * torch.randn(1, 2, 64, 64)
    fresh = codec.compress(x, ref, 4.0, flow=flow, lam=0.01)
    c = codec.compress(x, ref, 4.0, flow=flow, offset=(42, -27), lam=0.01)
    assert fresh.streams[0] == bytes([MOTION_FRESH])
    assert parse_motion_mode(c.streams[0]) == (MOTION_GLOBAL, (42, -27), 0)
    k = codec.motion_streams
    assert sum(map(len, c.streams[1:k])) <= sum(map(len, fresh.streams[1:k]))
    assert (c.flow_hat - flow).abs().mean() < (fresh.flow_hat - flow).abs().mean() / 4
    d = codec.decompress(c.streams, ref, 4.0)
    assert torch.equal(d.x_hat, c.x_hat) and torch.equal(d.flow_hat, c.flow_hat)
    # A zero vector, or a codec without the mode stream, offers nothing more than the fresh flow.
    assert len(codec._candidates(flow, None, (0, 0), False)) == 1
    plain = _tiny_inter()
    assert len(plain._candidates(flow, None, (42, -27), True)) == 1
    assert plain.compress(x, ref, 4.0, flow=flow, offset=(42, -27)).streams == plain.compress(x, ref, 4.0, flow=flow).streams


def test_uniform_motion_codes_no_flow_and_round_trips() -> None:
    """Offered uniform motion, a still frame (x = ref) codes no flow at all: the mode stream names the
    vector, the flow streams are empty, and the decoder warps by that vector alone. Flow bytes given
    where none belong are refused."""
    codec = _tiny_inter(temporal_motion=True)
    ref = torch.rand(1, 3, 64, 64)
    noise = 2.0 * torch.randn(1, 2, 64, 64)  # a flow search that fits noise on a still frame
    still = codec.compress(ref, ref, 4.0, flow=noise, lam=0.01, uniform=True)
    k = codec.motion_streams
    assert parse_motion_mode(still.streams[0]) == (MOTION_UNIFORM, (0, 0), 0) and not any(still.streams[1:k])
    assert torch.equal(still.flow_hat, torch.zeros(1, 2, 64, 64))
    fresh = codec.compress(ref, ref, 4.0, flow=noise, lam=0.01)
    assert sum(map(len, still.streams)) < sum(map(len, fresh.streams))
    d = codec.decompress(still.streams, ref, 4.0)
    assert torch.equal(d.x_hat, still.x_hat) and torch.equal(d.flow_hat, still.flow_hat)
    # beside a global offset, uniform motion stays zero; a vector in the stream is warped by all the same
    modes = [parse_motion_mode(m) for _, group in codec._candidates(noise, None, (8, -4), True) for m in group]
    assert modes == [(MOTION_FRESH, None, 0), (MOTION_GLOBAL, (8, -4), 0), (MOTION_UNIFORM, (0, 0), 0)]
    d = codec.decompress([motion_mode(MOTION_UNIFORM, (8, -4)), *still.streams[1:]], ref, 4.0)
    assert torch.equal(d.flow_hat, offset_field((8, -4), d.flow_hat))
    assert torch.equal(d.prediction, codec.compensation(ref, d.flow_hat))
    with pytest.raises(ValueError, match="carries no flow"):
        codec.decompress([still.streams[0], *fresh.streams[1:]], ref, 4.0)


def test_shortlist_codes_the_residual_only_of_candidates_that_predict_close_to_the_best(monkeypatch) -> None:  # noqa: ANN001
    """``shortlist`` drops, before their compensation and residual are run, the candidates whose plain
    warp's cost is out of reach; a wide one keeps them all and so codes the same bytes as no shortlist."""
    codec = _tiny_inter(temporal_motion=True)
    ref, x = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    flow = offset_field((42, -27), torch.empty(1, 2, 64, 64)) + 0.05 * torch.randn(1, 2, 64, 64)
    coded = []
    real = InterCodec._code_residual
    monkeypatch.setattr(InterCodec, "_code_residual", lambda self, *a: coded.append(a[3]) or real(self, *a))
    args = dict(flow=flow, flow_prev=flow.flip(1), offset=(42, -27), lam=0.01)
    full = codec.compress(x, ref, 4.0, **args)
    assert len(coded) == 3  # fresh, temporal and global: each coded whole
    coded.clear()
    assert codec.compress(x, ref, 4.0, shortlist=1e9, **args).streams == full.streams and len(coded) == 3
    coded.clear()
    refined = []
    compensate = type(codec.compensation).forward
    monkeypatch.setattr(type(codec.compensation), "forward", lambda self, *a: refined.append(1) or compensate(self, *a))
    one = codec.compress(x, ref, 4.0, shortlist=0.0, **args)
    assert len(coded) == 1 and torch.equal(one.flow_hat, coded[0])  # the best prediction alone
    assert len(refined) == 1  # the others were weighed on the plain warp, with no refinement
    d = codec.decompress(one.streams, ref, 4.0, flow_prev=flow.flip(1))
    assert torch.equal(d.x_hat, one.x_hat)
    coded.clear()
    codec.compress(x, ref, 4.0, shortlist=0.0, **{**args, "lam": None})
    assert len(coded) == 3  # without λ there is no prediction cost to weigh


def test_motion_mode_streams_are_checked() -> None:
    for mode, offset, step in ((MOTION_FRESH, None, 0), (MOTION_TEMPORAL, None, 0), (MOTION_GLOBAL, (-32767, 5), 0),
                               (MOTION_UNIFORM, (0, 0), 0), (MOTION_UNIFORM, (3, 32767), 0), (MOTION_FRESH, None, -4),
                               (MOTION_TEMPORAL, None, 127), (MOTION_GLOBAL, (1, 2), -128)):
        assert parse_motion_mode(motion_mode(mode, offset, step)) == (mode, offset, step)
    assert motion_mode(MOTION_FRESH, None, 0) == bytes([MOTION_FRESH])  # step 0 is no byte: older streams read alike
    for bad in (b"", b"\x07", b"\x02\x00\x01", b"\x03", b"\x00\x00", motion_mode(MOTION_GLOBAL, (1, 2)) + b"\x00",
                motion_mode(MOTION_UNIFORM, (0, 0)) + b"\xfc", b"\x00\xfc\x01"):
        with pytest.raises(ValueError, match="unknown motion mode"):
            parse_motion_mode(bad)
    for mode, step in ((MOTION_UNIFORM, -4), (MOTION_FRESH, 128)):
        with pytest.raises(ValueError, match="not allowed"):
            motion_mode(mode, (0, 0), step)


def test_motion_quality_steps_are_candidates_and_round_trip() -> None:
    """Offered motion qualities beside the frame's, the codec codes the flow at each (the mode stream
    carries the step), keeps the cheapest P-frame, and the decoder codes the flow at the same quality.
    Steps that leave the motion codec's range are not offered; a stream that names one is refused."""
    codec = _tiny_inter(temporal_motion=True)
    ref, x, flow = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64), torch.randn(1, 2, 64, 64) * 3
    groups = codec._candidates(flow, None, (8, -4), True, 2.0, (0, -4, -8, 4))
    assert [[parse_motion_mode(m) for m in group] for _, group in groups] == [
        [(MOTION_FRESH, None, 0), (MOTION_FRESH, None, -4), (MOTION_FRESH, None, 4)],
        [(MOTION_GLOBAL, (8, -4), 0), (MOTION_GLOBAL, (8, -4), -4), (MOTION_GLOBAL, (8, -4), 4)],
        [(MOTION_UNIFORM, (0, 0), 0)]]  # q 2 - 2 is below the range: not offered
    assert [len(g) for _, g in _tiny_inter()._candidates(flow, None, None, False, 4.0, (0, -4))] == [1]  # no mode stream
    assert [len(g) for _, g in codec._candidates(flow, None, None, False, 1.0, (-4,))] == [1]  # none in range: q's own
    lower = codec.compress(x, ref, 4.0, flow=flow, motion_steps=(-4,))
    same = codec.compress(x, ref, 4.0, flow=flow)
    chosen = codec.compress(x, ref, 4.0, flow=flow, motion_steps=(0, -4))  # bits alone: the coarser flow wins
    assert parse_motion_mode(lower.streams[0]) == (MOTION_FRESH, None, -4)
    k = codec.motion_streams
    assert sum(map(len, lower.streams[1:k])) < sum(map(len, same.streams[1:k]))
    assert chosen.streams == lower.streams
    assert lower.streams[1:k] == list(codec.motion.compress(flow / codec.flow_norm, 3.0).streams)
    d = codec.decompress(lower.streams, ref, 4.0)
    assert torch.equal(d.x_hat, lower.x_hat) and torch.equal(d.flow_hat, lower.flow_hat)
    with pytest.raises(ValueError, match="outside"):
        codec.decompress([motion_mode(MOTION_FRESH, None, -16), *lower.streams[1:]], ref, 4.0)


def test_conditional_residual_starts_as_the_plain_residual_codec() -> None:
    """Zero-initialised heads: a codec that gains a conditioner codes exactly the same bytes as before."""
    plain, cond = _tiny_inter(), _tiny_inter(condition_hidden=8)
    missing, unexpected = cond.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(".conditioner." in k for k in missing)
    cond.residual.update()
    ref, x, flow = torch.rand(1, 3, 40, 72), torch.rand(1, 3, 40, 72), torch.randn(1, 2, 40, 72) * 3
    a, b = plain.compress(x, ref, 4.0, flow=flow), cond.compress(x, ref, 4.0, flow=flow)
    assert a.streams == b.streams and torch.equal(a.x_hat, b.x_hat)


def test_conditional_residual_uses_the_prediction_and_round_trips() -> None:
    """Trained (here: random) heads change the residual's bytes with the prediction, and the decoder,
    which builds the same prediction, reproduces the frame bit for bit."""
    codec = _tiny_inter(condition_hidden=8)
    with torch.no_grad():
        for head in (codec.residual.conditioner.enc, codec.residual.conditioner.prior, codec.residual.conditioner.syn):
            head.weight.normal_(0, 0.05)
    codec.residual.update()
    ref, x, flow = torch.rand(1, 3, 40, 72), torch.rand(1, 3, 40, 72), torch.randn(1, 2, 40, 72) * 3
    c = codec.compress(x, ref, 4.0, flow=flow)
    d = codec.decompress(c.streams, ref, 4.0)
    assert torch.equal(d.x_hat, c.x_hat)
    plain = _tiny_inter().compress(x, ref, 4.0, flow=flow)
    k = codec.motion_streams
    assert c.streams[:k] == plain.streams[:k] and c.streams[k:] != plain.streams[k:]
    with pytest.raises(ValueError, match="conditioner"):
        codec.residual.decompress(c.streams[k:], (40, 72), 4.0)  # the prediction is not optional


def test_forward_returns_all_likelihoods() -> None:
    codec = _tiny_inter().train()
    out = codec(torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64), torch.tensor([1.0, 8.0]),
                flow=torch.randn(2, 2, 64, 64))
    assert set(out.likelihoods) == {"motion_y", "motion_z", "residual_y", "residual_z"}
    assert out.x_hat.shape == (2, 3, 64, 64)


def _proxy_loss(codec: InterCodec, cur: torch.Tensor, ref: torch.Tensor, flow: torch.Tensor, lam: float) -> float:
    """The P-frame's training loss with the refiner's noise (seed 0)."""
    torch.manual_seed(0)
    codec.motion.train()
    codec.residual.train()
    with torch.no_grad():
        out = codec(cur, ref, 4.0, flow=flow)
    codec.motion.eval()
    codec.residual.eval()
    bits = sum(-torch.log2(lik).sum() for lik in out.likelihoods.values())
    return float(bits / cur[0, 0].numel() + lam * 255**2 * (out.x_hat - cur).pow(2).mean())


def test_rd_refiner_lowers_the_frame_cost_and_leaves_the_codec_alone() -> None:
    from lvc.codec.rd_refine import RdFlowRefiner
    from tests.test_flow import _smooth_pair

    codec = _tiny_inter()
    cur, ref, _ = _smooth_pair((2.0, -1.0))
    start, lam = torch.zeros(1, 2, 48, 64), 0.05
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with torch.inference_mode():  # as the encoder calls it
        fits = [RdFlowRefiner(codec, iters=8, lr=0.3)(cur, ref, 4.0, lam, start) for _ in range(2)]
    assert torch.equal(torch.rand(3), expected_next)  # the caller's random stream is untouched
    assert torch.equal(fits[0], fits[1])  # reproducible: its noise has its own seed
    assert not codec.motion.training and not codec.residual.training
    assert all(p.grad is None for p in codec.parameters())
    assert _proxy_loss(codec, cur, ref, fits[0], lam) < _proxy_loss(codec, cur, ref, start, lam)
    assert RdFlowRefiner(codec, iters=0)(cur, ref, 4.0, lam, start) is start


def _first_parameter(method: object) -> str:
    """The name of the first parameter after ``self`` (of a function, or of a bound method)."""
    params = [p for p in inspect.signature(method).parameters.values() if p.name != "self"]
    assert params and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD), method
    return params[0].name


def _result_fields(cls: type, method: str) -> set[str] | None:
    """Fields of the dataclass that ``cls.method`` is annotated to return (None: it returns a Tensor)."""
    returned = typing.get_type_hints(getattr(cls, method))["return"]
    if returned is torch.Tensor:
        return None
    assert dataclasses.is_dataclass(returned), (cls.__name__, method, returned)
    return {f.name for f in dataclasses.fields(returned)}


def test_every_codec_part_speaks_the_one_contract() -> None:
    """forward / compress / decompress, with the first arguments and the results the contract names
    (lvc.models.contract): not only the three names, which any module with a forward nearly has."""
    from lvc.models.contract import CodecPart, Coded, Trained

    codec = _tiny_inter()
    intra = build_image_codec(TINY_SPEC)
    parts = (intra, codec, codec.motion, codec.residual)
    assert {type(p).__name__ for p in parts} == {"ImageCodec", "InterCodec"}
    for part in parts:
        assert isinstance(part, CodecPart)
        for method in ("forward", "compress", "decompress"):
            # The contract's first argument: x for forward and compress, streams for decompress.
            assert _first_parameter(getattr(part, method)) == _first_parameter(getattr(CodecPart, method)), (
                type(part).__name__, method)
        cls = type(part)
        assert set(Trained.__annotations__) <= _result_fields(cls, "forward"), cls.__name__
        assert set(Coded.__annotations__) <= _result_fields(cls, "compress"), cls.__name__
        decoded = _result_fields(cls, "decompress")
        assert decoded is None or "x_hat" in decoded, cls.__name__  # a tensor, or a result holding x_hat
    ref, x, flow = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 48), torch.randn(1, 2, 32, 48)
    c = codec.compress(x, ref, 3.0, flow=flow)
    d = codec.decompress(c.streams, ref, 3.0)
    assert isinstance(c.streams, list) and torch.equal(d.x_hat, c.x_hat)
    assert not hasattr(codec, "estimate")  # the flow is the caller's: the encoder's motion search finds it


@pytest.mark.parametrize("kernel", [3, 5])
def test_subpixel_transposed_convolution_is_the_transposed_convolution(kernel: int) -> None:
    from lvc.models.layers import SubpixelConvTranspose2d

    reference = torch.nn.ConvTranspose2d(6, 2, kernel, stride=2, padding=kernel // 2, output_padding=1)
    fast = SubpixelConvTranspose2d(6, 2, kernel, padding=kernel // 2)
    fast.load_state_dict(reference.state_dict())  # the same parameters, so shipped weights load as they are
    x = torch.randn(2, 6, 7, 10)
    torch.testing.assert_close(fast(x), reference(x), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="kernel_size"):
        SubpixelConvTranspose2d(6, 2, 4, padding=1)
