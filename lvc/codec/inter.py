"""P-frames: a uint8 RGB frame and its decoded reference <-> entropy-coded streams, through the inter codec.

The frame-level face of :class:`~lvc.models.inter.InterCodec`, beside the I-frame coder
(:mod:`lvc.codec.intra`), under the same contract (:mod:`lvc.codec.frame_coder`). The flow comes from
the encoder's motion search, given to :meth:`InterCoder.compress`; the decoder reads it from the stream.
"""

from __future__ import annotations

import numpy as np
import torch

from lvc.codec.frame_coder import CodedFrame, DecodedPicture
from lvc.codec.motion_search import FlowSearch, global_offset
from lvc.codec.tensors import codec_threads, to_tensor, to_uint8
from lvc.models.inter import InterCodec


class InterCoder:
    """Codes a frame against the previous decoded frame with an :class:`InterCodec`."""

    def __init__(self, codec: InterCodec, *, device: torch.device | str = "cpu") -> None:
        self.codec = codec
        self.device = torch.device(device)

    def compress(self, rgb: np.ndarray, quality: float, *, reference: np.ndarray, search: FlowSearch,
                 flow_prev: torch.Tensor | None = None, previous: np.ndarray | None = None,
                 lam: float | None = None, global_motion: bool = False, uniform_motion: bool = False,
                 shortlist: float | None = None, motion_steps: tuple[int, ...] = (0,)) -> CodedFrame:
        """Streams and the decoder-exact reconstruction of ``rgb`` against ``reference`` (both (H, W, 3)
        uint8), coding the flow ``search`` finds; ``flow_prev`` is the previous P-frame's decoded flow,
        ``previous`` the source frame that ``reference`` decodes (what the search may match against),
        and ``global_motion`` also offers the codec the flow's median as a global motion, and
        ``uniform_motion`` zero motion, with no flow coded; ``shortlist``
        (see :meth:`lvc.models.inter.InterCodec.compress`) codes the residual only for the candidates
        whose prediction comes close to the best one's, and ``motion_steps`` are the motion qualities
        offered (in 1/``MOTION_STEP_UNITS`` of a quality from the frame's; see :mod:`lvc.models.motion_mode`)."""
        with torch.inference_mode(), codec_threads(self.codec.exact):
            x, ref = to_tensor(rgb, self.device), to_tensor(reference, self.device)
            prev = None if previous is None else to_tensor(previous, self.device)
            flow = search(x, ref, quality=quality, lam=lam, flow_prev=flow_prev, previous=prev)
            offset = global_offset(flow) if global_motion else None
            c = self.codec.compress(x, ref, quality, flow=flow, flow_prev=flow_prev, offset=offset, lam=lam,
                                    shortlist=shortlist, uniform=uniform_motion, motion_steps=motion_steps)
        return CodedFrame(c.streams, to_uint8(c.x_hat), flow=c.flow_hat)

    def decompress(self, streams: list[bytes], quality: float, *, reference: np.ndarray,
                   flow_prev: torch.Tensor | None = None, intermediates: bool = False) -> DecodedPicture:
        """The frame from its streams, the same decoded reference and the same previous flow. With
        ``intermediates``, also the decoded flow (H, W, 2), the prediction and the residual as arrays
        (what ``lvc inspect`` pictures); the decoding loop itself needs none of them."""
        with torch.inference_mode(), codec_threads(self.codec.exact):
            c = self.codec.decompress(streams, to_tensor(reference, self.device), quality, flow_prev=flow_prev)
        rgb = to_uint8(c.x_hat)
        extra: dict[str, np.ndarray] = {}
        if intermediates:
            pred = to_uint8(c.prediction)
            extra = {"flow": c.flow_hat[0].permute(1, 2, 0).float().cpu().numpy(), "prediction": pred,
                     "residual": rgb.astype(np.float32) - pred.astype(np.float32)}
        return DecodedPicture(rgb, flow=c.flow_hat, intermediates=extra)

    def stream_parts(self, streams: list[bytes], total: int) -> dict[str, int]:
        """Bytes of motion and residual streams; the rest of ``total`` is headers."""
        return self.codec.stream_parts(streams, total)

    def motion_label(self, streams: list[bytes], quality: float) -> str:
        """How the frame's flow was coded (:meth:`lvc.models.inter.InterCodec.motion_label`)."""
        return self.codec.motion_label(streams, quality)
