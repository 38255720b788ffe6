"""The P-frame codec: RAFT motion, motion coding, motion compensation and residual coding.

    flow     = refine(RAFT(x, ref))               encoder only; the decoder never runs either
    flow_hat = motion(flow / σ) · σ               hyperprior flow codec (lvc.models.motion)
    pred     = MC(ref, flow_hat)                  warp + refinement (lvc.models.compensation)
    r_hat    = residual(x − pred + ½) − ½         an ImageCodec, warm-started from the intra codec
    x_hat    = pred + r_hat

``forward``, ``compress`` and ``decompress`` share :meth:`_reconstruct`, so the motion, warp and
residual graph is written once. The reference is always a *decoded* frame (closed loop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from lvc.models.compensation import MotionCompensation
from lvc.models.flow import FlowEstimator
from lvc.models.image_codec import ImageCodec
from lvc.models.refine import FlowRefiner

RESIDUAL_OFFSET = 0.5  # residuals are centred like images, which the warm-started residual codec expects


@dataclass
class InterOutput:
    """Training proxy output of one P-frame."""

    x_hat: Tensor
    prediction: Tensor
    flow: Tensor
    flow_hat: Tensor
    likelihoods: dict[str, Tensor]


@dataclass
class InterCompressed:
    """Motion streams then residual streams, the decoder-exact frame and its intermediates."""

    streams: list[bytes]
    x_hat: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)


class InterCodec(nn.Module):
    """Codes a frame ``x`` given a decoded reference ``ref``, both (B, 3, H, W) in [0, 1]."""

    def __init__(self, *, motion: ImageCodec, compensation: MotionCompensation, residual: ImageCodec,
                 flow: FlowEstimator | None = None, refiner: FlowRefiner | None = None,
                 flow_norm: float = 8.0) -> None:
        super().__init__()
        self.flow = flow
        self.refiner = refiner
        self.motion = motion
        self.compensation = compensation
        self.residual = residual
        self.flow_norm = flow_norm

    @property
    def motion_streams(self) -> int:
        return 1 + len(self.motion.context.groups)

    @property
    def residual_streams(self) -> int:
        return 1 + len(self.residual.context.groups)

    def update(self) -> None:
        """Freeze both entropy-coded parts into integer tables (before export)."""
        self.motion.update()
        self.residual.update()

    def stream_parts(self, streams: list[bytes], total: int) -> dict[str, int]:
        """Bytes of motion and residual streams; the rest of ``total`` is headers."""
        k = self.motion_streams
        motion, residual = sum(map(len, streams[:k])), sum(map(len, streams[k:]))
        return {"header": total - motion - residual, "motion": motion, "residual": residual}

    def estimate(self, x: Tensor, ref: Tensor, *, refine: bool = True, flow_scale: float | None = None) -> Tensor:
        """The flow the encoder codes: RAFT's (at ``flow_scale`` when given), refined against ``x`` when
        a refiner is set and ``refine``."""
        if self.flow is None:
            raise RuntimeError("this InterCodec has no flow estimator (decoder-only)")
        flow = self.flow(x, ref, flow_scale=flow_scale)
        return flow if self.refiner is None or not refine else self.refiner(x, ref, flow)

    def _reconstruct(self, ref: Tensor, flow_hat_n: Tensor, code_residual: Callable[[Tensor | None], Tensor],
                     x: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """(x_hat, prediction, flow_hat) from the decoded normalised flow; ``code_residual`` maps the
        residual input (None when decoding) to its decoded value."""
        flow_hat = flow_hat_n * self.flow_norm
        pred = self.compensation(ref, flow_hat)
        r_in = None if x is None else x - pred + RESIDUAL_OFFSET
        r_hat = code_residual(r_in) - RESIDUAL_OFFSET
        return pred + r_hat, pred, flow_hat

    def predict(self, x: Tensor, ref: Tensor, q: float | Tensor, flow: Tensor | None = None) -> InterOutput:
        """Training proxy of the motion half only (motion coding and compensation): ``x_hat`` is the
        prediction. The motion/compensation training stage uses it without paying for the residual."""
        flow = self.estimate(x, ref) if flow is None else flow
        m = self.motion(flow / self.flow_norm, q)
        flow_hat = m.x_hat * self.flow_norm
        pred = self.compensation(ref, flow_hat)
        return InterOutput(x_hat=pred, prediction=pred, flow=flow, flow_hat=flow_hat,
                           likelihoods={"motion_y": m.likelihoods["y"], "motion_z": m.likelihoods["z"]})

    def forward(self, x: Tensor, ref: Tensor, q: float | Tensor, flow: Tensor | None = None) -> InterOutput:
        """Training proxy of the whole P-frame; ``flow`` may be given (e.g. precomputed), else RAFT runs."""
        flow = self.estimate(x, ref) if flow is None else flow
        m = self.motion(flow / self.flow_norm, q)
        liks: dict[str, Tensor] = {"motion_y": m.likelihoods["y"], "motion_z": m.likelihoods["z"]}

        def code(r_in: Tensor | None) -> Tensor:
            out = self.residual(r_in, q)
            liks.update(residual_y=out.likelihoods["y"], residual_z=out.likelihoods["z"])
            return out.x_hat

        x_hat, pred, flow_hat = self._reconstruct(ref, m.x_hat, code, x)
        return InterOutput(x_hat=x_hat, prediction=pred, flow=flow, flow_hat=flow_hat, likelihoods=liks)

    @torch.no_grad()
    def compress(self, x: Tensor, ref: Tensor, q: float, flow: Tensor | None = None) -> InterCompressed:
        """Real bytes and the reconstruction the decoder will produce."""
        flow = self.estimate(x, ref) if flow is None else flow
        m = self.motion.compress(flow / self.flow_norm, q)
        streams = list(m.streams)

        def code(r_in: Tensor | None) -> Tensor:
            c = self.residual.compress(r_in, q)
            streams.extend(c.streams)
            return c.x_hat

        x_hat, pred, flow_hat = self._reconstruct(ref, m.x_hat, code, x)
        return InterCompressed(streams, x_hat, {"flow": flow_hat, "prediction": pred})

    @torch.no_grad()
    def decompress(self, streams: list[bytes], ref: Tensor, q: float) -> InterCompressed:
        """The frame from its streams and the same decoded reference."""
        k = self.motion_streams
        if len(streams) != k + self.residual_streams:
            raise ValueError(f"expected {k + self.residual_streams} streams, got {len(streams)}")
        size = tuple(ref.shape[-2:])
        flow_hat_n = self.motion.decompress(streams[:k], size, q, device=ref.device)

        def code(r_in: Tensor | None) -> Tensor:
            return self.residual.decompress(streams[k:], size, q, device=ref.device)

        x_hat, pred, flow_hat = self._reconstruct(ref, flow_hat_n, code, None)
        return InterCompressed(list(streams), x_hat, {"flow": flow_hat, "prediction": pred})
