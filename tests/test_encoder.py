"""The encoder is composed of injected parts: whatever motion search and rate controller it is given
are what it runs, and the decoder reproduces its reconstructions from the bytes alone."""

from __future__ import annotations

import dataclasses
import numpy as np
import torch

from lvc.codec.decoder import VideoDecoder
from lvc.codec.encoder import PFrameTools, VideoEncoder
from lvc.codec.gop import GopScheduler
from lvc.codec.inter import InterCoder
from lvc.codec.intra import IntraCoder
from lvc.codec.ratecontrol import RateController
from lvc.codec.tensors import to_tensor
from lvc.format import bitstream as bs
from lvc.models.zoo import load_image_model
from tests.media import moving_frames


class ZeroMotion:
    """A motion search that finds no motion, and remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[float | None, bool]] = []
        self.previous: list[torch.Tensor | None] = []

    def __call__(self, current: torch.Tensor, reference: torch.Tensor, *, quality: float | None = None,
                 lam: float | None = None, flow_prev: torch.Tensor | None = None,
                 previous: torch.Tensor | None = None) -> torch.Tensor:
        self.calls.append((quality, flow_prev is not None))
        self.previous.append(previous)
        return torch.zeros(1, 2, *current.shape[-2:])


def test_the_encoder_runs_the_parts_it_is_given_and_the_decoder_follows(tiny_video_weights) -> None:  # noqa: ANN001
    model = load_image_model(str(tiny_video_weights))
    h, w = 40, 56
    header = bs.SequenceHeader(width=w, height=h, model_id=model.model_id, weight_hash=model.weight_hash, gop=4)
    search = ZeroMotion()
    rate = RateController(target_bits=4000.0, pixels=h * w, gop=4, quality=5.0)
    enc = VideoEncoder(header, intra=IntraCoder(model.codec), scheduler=GopScheduler(period=4), quality=5.0,
                       levels=model.codec.y_gains.levels, inter=PFrameTools(InterCoder(model.inter), search),
                       rate=rate)
    frames = moving_frames(5, h, w)
    coded = [enc.encode(f) for f in frames]
    assert [c.frame_type for c in coded] == list("IPPPI")
    # It is also given the source frame that its decoded reference stands for.
    assert all(torch.equal(p, to_tensor(f, "cpu")) for p, f in zip(search.previous, frames))
    # One search per P-frame, at the rate controller's quality, with the previous P-frame's flow after the first.
    assert [has_prev for _, has_prev in search.calls] == [False, True, True]
    assert rate._coded == 5 and all(q is not None and 1 <= q <= 8 for q, _ in search.calls)
    data = bs.file_header() + b"".join(c.data for c in coded) + bs.pack_end(len(coded))
    decoder = VideoDecoder(load_model=lambda model_id, weight_hash: model)
    decoded = list(decoder.decode_units(bs.iter_sized_units(data)))
    assert all(np.array_equal(d.rgb, c.recon) for d, c in zip(decoded, coded))
    assert all(not d.parts and not d.extras for d in decoded)  # nothing for inspection unless asked


class CountingEstimator(torch.nn.Module):
    """A flow estimator that records the updates and scale it is run with."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[float | None, int | None, int | None]] = []

    def forward(self, current: torch.Tensor, reference: torch.Tensor, *, flow_scale: float | None = None,
                updates: int | None = None, max_pixels: int | None = None, cache: object = None) -> torch.Tensor:
        self.calls.append((flow_scale, updates, max_pixels))
        return torch.zeros(1, 2, *current.shape[-2:])


def test_the_preset_sets_how_raft_runs(tiny_video_weights) -> None:  # noqa: ANN001
    from lvc.codec.motion_search import MotionSearch
    from lvc.codec.presets import FLOW_MAX_PIXELS, get_preset

    model = load_image_model(str(tiny_video_weights))
    frames = [torch.rand(1, 3, 32, 48) for _ in range(2)]
    cap = FLOW_MAX_PIXELS
    for name, expected in (("fast", (0.5, 3, cap)), ("medium", (None, 3, cap)), ("slow", (None, None, cap))):
        search = MotionSearch.for_preset(model.inter, get_preset(name), spec=model.inter_spec, lambdas=(0.01,) * 8)
        search.estimator = CountingEstimator()
        search.refiner = search.rd_refiner = None
        search(*frames)
        assert search.estimator.calls == [expected], name


class RecordingEstimator(CountingEstimator):
    """Also records which frame RAFT was given as the reference, and the feature cache."""

    def forward(self, current: torch.Tensor, reference: torch.Tensor, **kw) -> torch.Tensor:  # noqa: ANN003
        self.seen = (reference, kw["cache"])
        return super().forward(current, reference, **kw)


def test_raft_matches_against_the_source_frame_where_it_is_given_and_the_fit_against_the_decoded_one() -> None:
    from lvc.codec.motion_search import MotionSearch

    current, decoded, source = (torch.rand(1, 3, 32, 48) for _ in range(3))
    fitted = []
    refiner = lambda cur, ref, flow: fitted.append(ref) or flow  # noqa: E731
    plain = MotionSearch(estimator=RecordingEstimator(), refiner=refiner)
    plain(current, decoded, previous=source)
    assert plain.estimator.seen == (decoded, None)
    lean = MotionSearch(estimator=RecordingEstimator(), refiner=refiner, source_reference=True)
    lean(current, decoded, previous=source)
    assert lean.estimator.seen[0] is source and lean.estimator.seen[1] is not None
    lean(current, decoded)  # no source frame given (a caller that has none): the decoded reference
    assert lean.estimator.seen[0] is decoded
    assert all(r is decoded for r in fitted)  # the warp fit always fits to what the decoder warps


def test_only_the_slow_presets_also_code_the_flow_against_the_previous_one(tiny_video_weights) -> None:  # noqa: ANN001
    from lvc.codec.encoder import build_encoder

    model = dataclasses.replace(load_image_model(str(tiny_video_weights)), lambdas=(0.01,) * 8)  # slow needs λ
    offered = {}
    for name in ("fast", "medium", "slow"):
        enc = build_encoder(model, width=48, height=32, quality=4.0, gop=4, preset=name, mode_decision=False)
        search = ZeroMotion()
        enc.inter.search = search
        assert [enc.encode(f).frame_type for f in moving_frames(3, 32, 48)] == list("IPP")
        offered[name] = [has_prev for _, has_prev in search.calls]
    assert offered["fast"] == offered["medium"] == [False, False] and offered["slow"] == [False, True]


def test_frames_take_their_hierarchy_offsets_only_where_p_frames_predict(tiny_video_weights) -> None:  # noqa: ANN001
    from lvc.codec.encoder import build_encoder
    from lvc.codec.hierarchy import QualityHierarchy

    model = load_image_model(str(tiny_video_weights))
    frames = moving_frames(9, 32, 48)
    qualities = {}
    cases = ((4, 1.0, ()), (4, 0.0, ()), (1, 1.0, (-1.0,)), (5, 1.0, (-0.5, 0.25)), (5, 0, (-4,)))
    for gop, boost, offsets in cases:
        enc = build_encoder(model, width=48, height=32, quality=4.5, gop=gop,
                            hierarchy=QualityHierarchy(boost, offsets), mode_decision=False)
        enc.inter.search = ZeroMotion()
        coded = [enc.encode(f) for f in frames]
        units = [u for c in coded for u, _ in bs.iter_sized_units(c.data, elementary=False)]
        qualities[gop, boost, offsets] = [u.quality for u in units if isinstance(u, bs.Frame)]
    assert qualities[4, 1.0, ()] == [5.5, 4.5, 4.5, 4.5] * 2 + [5.5]
    assert qualities[4, 0.0, ()] == qualities[1, 1.0, (-1.0,)] == [4.5] * 9  # all-intra: -q is every frame's quality
    # The cycle restarts after each I-frame; a quality below 1 is coded at 1.
    assert qualities[5, 1.0, (-0.5, 0.25)] == ([5.5, 4.0, 4.75, 4.0, 4.75] * 2)[:9]
    assert qualities[5, 0, (-4,)] == [4.5, 1.0, 1.0, 1.0, 1.0, 4.5, 1.0, 1.0, 1.0]


class PanMotion(ZeroMotion):
    """A motion search that finds a pan of (2.6, -1.1) px over a quarter of the frame moving faster."""

    def __call__(self, current: torch.Tensor, reference: torch.Tensor, **kw) -> torch.Tensor:  # noqa: ANN003
        super().__call__(current, reference, **kw)
        flow = torch.tensor([2.6, -1.1]).view(1, 2, 1, 1).expand(1, 2, *current.shape[-2:]).clone()
        flow[..., : current.shape[-2] // 4, :] += 5.0
        return flow


def test_the_encoder_offers_the_flows_median_as_global_motion_and_the_decoder_follows(tiny_video_weights,  # noqa: ANN001
                                                                                      monkeypatch) -> None:  # noqa: ANN001
    from lvc.codec.encoder import build_encoder
    from lvc.codec.motion_search import global_offset
    from lvc.codec.presets import PRESETS
    from lvc.models.inter import InterCodec

    assert [p.global_motion for p in PRESETS.values()] == [False, True, True, True]  # fast, medium, slow, veryslow
    assert global_offset(torch.zeros(1, 2, 8, 8)) is None
    assert global_offset(torch.full((1, 2, 8, 8), 1e5)) == (32767, 32767)  # clamped to what int16 holds
    model = load_image_model(str(tiny_video_weights))
    offered: list[tuple[int, int] | None] = []
    compress = InterCodec.compress

    def spy(self, *args, offset=None, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        offered.append(offset)
        return compress(self, *args, offset=offset, **kw)

    monkeypatch.setattr(InterCodec, "compress", spy)
    h, w = 32, 48
    for global_motion in (False, True):  # the decoder is checked on the second
        offered.clear()
        enc = build_encoder(model, width=w, height=h, quality=4.0, gop=4, mode_decision=False)
        enc.inter.search = PanMotion()
        enc.inter.global_motion = global_motion
        coded = [enc.encode(f) for f in moving_frames(3, h, w)]
        assert [c.frame_type for c in coded] == list("IPP")
        assert offered == ([(10, -4)] * 2 if global_motion else [None, None])  # the median, in quarter pels
    data = bs.file_header() + b"".join(c.data for c in coded) + bs.pack_end(len(coded))
    decoded = list(VideoDecoder(load_model=lambda model_id, weight_hash: model).decode_units(bs.iter_sized_units(data)))
    assert all(np.array_equal(d.rgb, c.recon) for d, c in zip(decoded, coded))


def test_the_encoder_offers_the_presets_motion_qualities_and_the_decoder_follows(tiny_video_weights) -> None:  # noqa: ANN001
    from lvc.codec.encoder import build_encoder
    from lvc.models.motion_mode import parse_motion_mode

    model = load_image_model(str(tiny_video_weights))
    h, w = 32, 48
    steps = {}
    for offered in ((0,), (-4,)):  # only the coarser flow offered: every P-frame carries its step
        enc = build_encoder(model, width=w, height=h, quality=4.0, gop=4, mode_decision=False)
        enc.inter.search, enc.inter.motion_steps, enc.inter.uniform_motion = PanMotion(), offered, False
        coded = [enc.encode(f) for f in moving_frames(3, h, w)]
        units = [u for c in coded for u, _ in bs.iter_sized_units(c.data, elementary=False) if isinstance(u, bs.Frame)]
        steps[offered] = [parse_motion_mode(u.streams[0]).step for u in units if u.frame_type == "P"]
    assert steps == {(0,): [0, 0], (-4,): [-4, -4]}
    data = bs.file_header() + b"".join(c.data for c in coded) + bs.pack_end(len(coded))
    decoded = list(VideoDecoder(load_model=lambda model_id, weight_hash: model).decode_units(bs.iter_sized_units(data)))
    assert all(np.array_equal(d.rgb, c.recon) for d, c in zip(decoded, coded))
