"""The encoder is composed of injected parts: whatever motion search and rate controller it is given
are what it runs, and the decoder reproduces its reconstructions from the bytes alone."""

from __future__ import annotations

import numpy as np
import torch

from lvc.codec.decoder import VideoDecoder
from lvc.codec.encoder import PFrameTools, VideoEncoder
from lvc.codec.gop import GopScheduler
from lvc.codec.inter import InterCoder
from lvc.codec.intra import IntraCoder
from lvc.codec.ratecontrol import RateController
from lvc.format import bitstream as bs
from lvc.models.zoo import load_image_model
from tests.media import moving_frames


class ZeroMotion:
    """A motion search that finds no motion, and remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[float | None, bool]] = []

    def __call__(self, current: torch.Tensor, reference: torch.Tensor, *, quality: float | None = None,
                 lam: float | None = None, flow_prev: torch.Tensor | None = None) -> torch.Tensor:
        self.calls.append((quality, flow_prev is not None))
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
    coded = [enc.encode(f) for f in moving_frames(5, h, w)]
    assert [c.frame_type for c in coded] == list("IPPPI")
    # One search per P-frame, at the rate controller's quality, with the previous P-frame's flow after the first.
    assert [has_prev for _, has_prev in search.calls] == [False, True, True]
    assert rate._coded == 5 and all(q is not None and 1 <= q <= 8 for q, _ in search.calls)
    data = bs.file_header() + b"".join(c.data for c in coded) + bs.pack_end(len(coded))
    decoder = VideoDecoder(load_model=lambda model_id, weight_hash: model)
    decoded = list(decoder.decode_units(bs.iter_sized_units(data)))
    assert all(np.array_equal(d.rgb, c.recon) for d, c in zip(decoded, coded))
    assert all(not d.parts and not d.extras for d in decoded)  # nothing for inspection unless asked
