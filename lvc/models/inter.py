"""The P-frame codec: RAFT motion, motion coding, motion compensation and residual coding.

    flow     = given                              the encoder's motion search (lvc.codec.motion_search)
    base     = flow_prev or 0                     temporal motion prediction (see below)
    flow_hat = base + motion((flow − base) / σ) · σ    hyperprior flow codec (lvc.models.motion)
    pred     = MC(ref, flow_hat)                  warp + refinement (lvc.models.compensation)
    r_hat    = residual(x − pred + ½ | pred) − ½  an ImageCodec, warm-started from the intra codec; with a
                                                  conditioner it also sees pred (lvc.models.condition)
    x_hat    = pred + r_hat

``forward``, ``compress`` and ``decompress`` (the contract of :mod:`lvc.models.contract`) share
:meth:`_reconstruct`, so the motion, warp and residual graph is written once. The reference is always
a *decoded* frame (closed loop). Each takes the flow it is given: finding it is the encoder's motion
search, which runs the RAFT estimator and the warp fit this codec carries with its weights.

Temporal motion prediction (``temporal_motion``): motion is smooth in time, so the previous
P-frame's decoded flow predicts this one's, and the motion codec codes only the difference. On a
steady pan the difference is near zero and costs a few bytes where the flow itself costs as much
as an I-frame. Given the previous flow, :meth:`InterCodec.compress` codes the flow both ways and
keeps the cheaper (the mode stream, :mod:`lvc.models.motion_mode`, says which), so a motion change never costs more than coding
the flow afresh; the encoder's preset says whether to offer it (:mod:`lvc.codec.presets`). After an
I-frame there is no previous flow and the flow is coded as it is.

Global motion (the same mode stream, models with temporal prediction): the base may also be one
vector for the whole frame, in quarter pels, written in the mode stream. A camera pan is a large,
nearly constant flow, which the motion codec codes poorly: it learned small flows, and a constant
field costs it more than a detailed one. Minus the pan, what is left is small. Measured on the
panning vid4_city (q 2): 820 -> 416 B of motion, and a prediction 2.4 dB better. The encoder offers
the flow's median (:func:`lvc.codec.motion_search.global_offset`) and keeps whichever of the
candidates costs least, so a clip whose flow is not a pan (moving objects before a still
background) stays with the fresh flow.

Uniform motion (the same mode stream): the flow *is* one vector and no flow is coded at all; the
motion streams are empty. Where the content barely moves, the motion search still fits noise, which
costs bytes every frame. The encoder offers the zero vector (``uniform``) beside the other candidates
and the RD cost decides. It does not offer the pan's median as uniform motion: on the panning
vid4_city that won frames at q 2-4 and then cost the frames after them (+1.85 % BD-rate, 12 frames),
where zero alone changed nothing; the format keeps the vector, so an encoder may offer one later.

Motion quality (the same mode stream, format version 5): the flow may be coded at another quality
than the frame's, ``q + step / MOTION_STEP_UNITS``, the step written at the end of the mode stream
(absent for step 0, so older streams read unchanged). How much a flow's precision is worth
depends on the content: coding every clip's motion one quality lower saved 3.1 % on toys but cost
2.0 % on aerial2 and 1.8 % on basketballpass (12 frames, q 2-8, 7,246-step weights), so the encoder
offers the steps its preset names (``motion_steps``) as further candidates and the RD cost decides
per frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lvc.models.compensation import MotionCompensation
from lvc.models.flow import FlowEstimator
from lvc.models.image_codec import ImageCodec
from lvc.models.motion_mode import (MOTION_FRESH, MOTION_GLOBAL, MOTION_STEP_UNITS, MOTION_TEMPORAL, MOTION_UNIFORM,
                                    OFFSET_LIMIT, motion_mode, offset_field, parse_motion_mode)

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
class InterReconstruction:
    """What ``decompress`` returns: the frame, and the decoded flow and prediction it was made from
    (the next P-frame predicts its motion from ``flow_hat``)."""

    x_hat: Tensor
    flow_hat: Tensor
    prediction: Tensor


@dataclass
class InterCompressed(InterReconstruction):
    """What ``compress`` returns: motion streams then residual streams, and the decoder-exact reconstruction."""

    streams: list[bytes]


class InterCodec(nn.Module):
    """Codes a frame ``x`` given a decoded reference ``ref``, both (B, 3, H, W) in [0, 1].

    ``flow`` (RAFT) is an encoder-side part carried with the weights; this class never runs it (see
    :class:`lvc.codec.motion_search.MotionSearch`, which adds the warp fit that the spec sets).
    """

    exact = False  # set by lvc.models.exact.exactify: its decoder-side parts compute exactly

    def __init__(self, *, motion: ImageCodec, compensation: MotionCompensation, residual: ImageCodec,
                 flow: FlowEstimator | None = None, flow_norm: float = 8.0, temporal_motion: bool = False) -> None:
        super().__init__()
        self.flow = flow
        self.motion = motion
        self.compensation = compensation
        self.residual = residual
        self.flow_norm = flow_norm
        self.temporal_motion = temporal_motion

    @property
    def motion_streams(self) -> int:
        """Streams of the motion part: the mode byte (with temporal prediction), then the motion codec's."""
        return int(self.temporal_motion) + self.motion.stream_count

    @property
    def residual_streams(self) -> int:
        return self.residual.stream_count

    def decoder_parts(self) -> list[nn.Module]:
        """The parts whose arithmetic the decoded frame and the entropy parameters depend on."""
        return [*self.motion.decoder_parts(), self.compensation, *self.residual.decoder_parts()]

    def update(self) -> None:
        """Freeze both entropy-coded parts into integer tables (before export)."""
        self.motion.update()
        self.residual.update()

    def stream_parts(self, streams: list[bytes], total: int) -> dict[str, int]:
        """Bytes of motion and residual streams; the rest of ``total`` is headers."""
        k = self.motion_streams
        motion, residual = sum(map(len, streams[:k])), sum(map(len, streams[k:]))
        return {"header": total - motion - residual, "motion": motion, "residual": residual}

    def _base(self, flow_prev: Tensor | None) -> Tensor | None:
        """The motion predictor the codec may use: the previous decoded flow, if temporal prediction is on."""
        return flow_prev if self.temporal_motion else None

    def _motion_proxy(self, flow: Tensor, base: Tensor | None, q: float | Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """(flow_hat, likelihoods) of the motion codec's training proxy."""
        target = flow if base is None else flow - base
        m = self.motion(target / self.flow_norm, q)
        flow_hat = m.x_hat * self.flow_norm
        return (flow_hat if base is None else base + flow_hat), {"motion_y": m.likelihoods["y"],
                                                                 "motion_z": m.likelihoods["z"]}

    def _reconstruct(self, pred: Tensor, code_residual: Callable[[Tensor | None, Tensor | None], Tensor],
                     x: Tensor | None) -> Tensor:
        """x_hat from the prediction ``pred`` (the compensated reference); ``code_residual`` maps the
        residual input (None when decoding) and the residual codec's condition (the prediction, or None
        for a plain residual codec) to the decoded residual."""
        r_in = None if x is None else x - pred + RESIDUAL_OFFSET
        cond = pred if self.residual.conditioner is not None else None
        return pred + code_residual(r_in, cond) - RESIDUAL_OFFSET

    def predict(self, x: Tensor, ref: Tensor, q: float | Tensor, *, flow: Tensor,
                flow_prev: Tensor | None = None) -> InterOutput:
        """Training proxy of the motion half only (motion coding and compensation): ``x_hat`` is the
        prediction. The motion/compensation training stage uses it without paying for the residual."""
        flow_hat, liks = self._motion_proxy(flow, self._base(flow_prev), q)
        pred = self.compensation(ref, flow_hat)
        return InterOutput(x_hat=pred, prediction=pred, flow=flow, flow_hat=flow_hat, likelihoods=liks)

    def forward(self, x: Tensor, ref: Tensor, q: float | Tensor, *, flow: Tensor,
                flow_prev: Tensor | None = None) -> InterOutput:
        """Training proxy of the whole P-frame coding ``flow``; ``flow_prev`` is the previous P-frame's
        decoded flow (None after an I-frame)."""
        flow_hat, liks = self._motion_proxy(flow, self._base(flow_prev), q)

        def code(r_in: Tensor | None, cond: Tensor | None) -> Tensor:
            out = self.residual(r_in, q, cond)
            liks.update(residual_y=out.likelihoods["y"], residual_z=out.likelihoods["z"])
            return out.x_hat

        pred = self.compensation(ref, flow_hat)
        x_hat = self._reconstruct(pred, code, x)
        return InterOutput(x_hat=x_hat, prediction=pred, flow=flow, flow_hat=flow_hat, likelihoods=liks)

    def motion_label(self, streams: list[bytes], q: float) -> str:
        """How a P-frame's flow was coded, in a word (what ``lvc inspect`` shows): ``fresh``,
        ``temporal``, ``global`` (a pan's vector as the base), ``zero`` or ``uniform`` (no flow coded),
        with ``@q`` and the motion's quality where it is not the frame's ``q``."""
        if not self.temporal_motion:
            return "fresh"
        mode, offset, step = parse_motion_mode(streams[0])
        name = {MOTION_FRESH: "fresh", MOTION_TEMPORAL: "temporal", MOTION_GLOBAL: "global",
                MOTION_UNIFORM: "zero" if offset == (0, 0) else "uniform"}[mode]
        return f"{name}@q{self.motion_quality(q, step):g}" if step else name

    def motion_quality(self, q: float, step: int) -> float:
        """The quality the flow is coded at: the frame's ``q`` moved by ``step`` (MOTION_STEP_UNITS per
        quality); ``ValueError`` outside the motion codec's range."""
        q_m = q + step / MOTION_STEP_UNITS
        if not 1 <= q_m <= self.motion.y_gains.levels:
            raise ValueError(f"motion quality {q_m:g} (frame {q:g}, step {step}) is outside "
                             f"[1, {self.motion.y_gains.levels}]")
        return q_m

    def _code_motion(self, flow: Tensor, base: Tensor | None, q: float,
                     modes: list[bytes]) -> list[tuple[list[bytes], Tensor]]:
        """For each of ``modes`` (mode streams with the same ``base``, at their motion qualities): the
        motion streams (the mode stream first, with temporal prediction) and the decoder-exact flow_hat."""
        if modes[0][0] == MOTION_UNIFORM:  # the base is the flow: nothing to code
            return [([mode] + [b""] * (self.motion_streams - 1), base) for mode in modes]
        steps = [parse_motion_mode(mode).step if self.temporal_motion else 0 for mode in modes]
        coded = self.motion.compress_at((flow if base is None else flow - base) / self.flow_norm,
                                        [self.motion_quality(q, step) for step in steps])
        out = []
        for mode, m in zip(modes, coded):
            flow_hat = m.x_hat * self.flow_norm
            out.append((([mode] if self.temporal_motion else []) + list(m.streams),
                        flow_hat if base is None else base + flow_hat))
        return out

    def _candidates(self, flow: Tensor, flow_prev: Tensor | None, offset: tuple[int, int] | None, uniform: bool,
                    q: float = 1.0, steps: Sequence[int] = (0,)) -> list[tuple[Tensor | None, list[bytes]]]:
        """(base, mode streams) of each base that the codec and the encoder allow, with one mode stream
        for each motion quality of ``steps`` that stays in range (the frame's own where none does, or
        the model has no mode stream to carry a step): one analysis of the flow per base."""
        bases: list[tuple[int, tuple[int, int] | None, Tensor | None]] = [(MOTION_FRESH, None, None)]
        if self._base(flow_prev) is not None:
            bases.append((MOTION_TEMPORAL, None, flow_prev))
        if offset is not None and max(map(abs, offset)) > OFFSET_LIMIT:
            raise ValueError(f"global offset {offset} is out of range")
        if self.temporal_motion and offset is not None and any(offset):
            bases.append((MOTION_GLOBAL, offset, offset_field(offset, flow)))
        usable = [s for s in dict.fromkeys(steps) if 1 <= q + s / MOTION_STEP_UNITS <= self.motion.y_gains.levels]
        if not self.temporal_motion or not usable:  # no mode stream to carry a step, or none in range
            usable = [0]
        out = [(base, [motion_mode(mode, off, step) for step in usable]) for mode, off, base in bases]
        if self.temporal_motion and uniform:
            out.append((torch.zeros_like(flow), [motion_mode(MOTION_UNIFORM, (0, 0))]))
        return out

    @torch.no_grad()
    def compress(self, x: Tensor, ref: Tensor, q: float, *, flow: Tensor, flow_prev: Tensor | None = None,
                 offset: tuple[int, int] | None = None, lam: float | None = None,
                 shortlist: float | None = None, uniform: bool = False,
                 motion_steps: Sequence[int] = (0,)) -> InterCompressed:
        """Real bytes coding ``flow`` and the residual, and the reconstruction the decoder will produce.
        With temporal prediction, the flow is coded fresh, and also against ``flow_prev`` and the
        global ``offset`` (x, y in 1/GLOBAL_UNITS pixel) where given, and with ``uniform`` as zero
        motion with no coded flow at all, and each of these with the flow coded at every quality
        ``motion_steps`` away (in 1/MOTION_STEP_UNITS; step 0 is the frame's quality); the P-frame that costs least
        is kept: its bits per pixel plus ``lam``·255²·MSE (bits alone without ``lam``). The whole frame,
        residual included, is what is weighed: chosen on the prediction's error and the motion bits
        alone, global motion cost basketballpass +2.1 % BD-rate (12 frames, q 2-8).

        ``shortlist`` (with ``lam``) saves the compensation and the residual coding of candidates that
        cannot win: the same cost on the plain warp (motion bits plus ``lam``·255²·MSE of the warped
        reference) is worked out for every candidate, and only those within a factor ``1 + shortlist``
        of the cheapest get the refined prediction and a residual.
        """
        pixels = x.shape[-1] * x.shape[-2]

        def cost(streams: list[bytes], image: Tensor) -> float:
            bpp = 8.0 * sum(map(len, streams)) / pixels
            return bpp if lam is None else bpp + lam * 255.0 ** 2 * float((image.clamp(0, 1) - x).pow(2).mean())

        trials = [t for base, modes in self._candidates(flow, flow_prev, offset, uniform, q, motion_steps)
                  for t in self._code_motion(flow, base, q, modes)]
        if shortlist is not None and lam is not None and len(trials) > 1:
            rough = [cost(streams, self.compensation.warped(ref, flow_hat)) for streams, flow_hat in trials]
            trials = [t for t, c in zip(trials, rough) if c <= min(rough) * (1.0 + shortlist)]
        best: tuple[float, InterCompressed] | None = None
        for streams, flow_hat in trials:
            c = self._code_residual(x, q, streams, flow_hat, self.compensation(ref, flow_hat))
            total = cost(c.streams, c.x_hat)
            if best is None or total < best[0]:
                best = (total, c)
        return best[1]

    def _code_residual(self, x: Tensor, q: float, motion: list[bytes], flow_hat: Tensor,
                       pred: Tensor) -> InterCompressed:
        """The whole P-frame: the ``motion`` streams that decode to ``flow_hat``, then the residual of
        ``x`` against the prediction ``pred``."""
        streams = list(motion)

        def code(r_in: Tensor | None, cond: Tensor | None) -> Tensor:
            c = self.residual.compress(r_in, q, cond)
            streams.extend(c.streams)
            return c.x_hat

        x_hat = self._reconstruct(pred, code, x)
        return InterCompressed(x_hat=x_hat, flow_hat=flow_hat, prediction=pred, streams=streams)

    @torch.no_grad()
    def decompress(self, streams: list[bytes], ref: Tensor, q: float,
                   flow_prev: Tensor | None = None) -> InterReconstruction:
        """The frame from its streams, the same decoded reference and the same previous flow."""
        k = self.motion_streams
        if len(streams) != k + self.residual_streams:
            raise ValueError(f"expected {k + self.residual_streams} streams, got {len(streams)}")
        size = tuple(ref.shape[-2:])
        base, mode, step = None, MOTION_FRESH, 0
        if self.temporal_motion:
            mode, offset, step = parse_motion_mode(streams[0])
            if mode == MOTION_TEMPORAL:
                if flow_prev is None:
                    raise ValueError("motion is predicted from a previous P-frame, but none precedes it")
                base = flow_prev
            elif mode in (MOTION_GLOBAL, MOTION_UNIFORM):
                base = offset_field(offset, ref.new_empty(1, 2, *size))
        coded = streams[int(self.temporal_motion):k]
        if mode == MOTION_UNIFORM:
            if any(coded):
                raise ValueError("uniform motion carries no flow, but its flow streams are not empty")
            flow_hat = base
        else:
            flow_hat = self.motion.decompress(coded, size, self.motion_quality(q, step), device=ref.device)
            flow_hat = flow_hat * self.flow_norm
            if base is not None:
                flow_hat = base + flow_hat

        def code(r_in: Tensor | None, cond: Tensor | None) -> Tensor:
            return self.residual.decompress(streams[k:], size, q, device=ref.device, cond=cond)

        pred = self.compensation(ref, flow_hat)
        x_hat = self._reconstruct(pred, code, None)
        return InterReconstruction(x_hat=x_hat, flow_hat=flow_hat, prediction=pred)
