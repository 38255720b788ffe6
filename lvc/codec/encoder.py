"""VideoEncoder: the encoding frame loop, the reference buffer and access units.

The encoder runs the decoder: each frame's reconstruction comes back from the frame coder's
``compress`` and is exactly what the decoder will produce; its CRC goes into the frame unit, so a
decoder that drifts (or reads corrupted data) says so. The sequence header is repeated before
every I-frame, so each I-frame is a random-access point.

The encoder is composed of parts, each with one job: the GOP schedule (:mod:`lvc.codec.gop`), the
I- and P-frame coders, the motion search, the RD mode decision (:mod:`lvc.codec.modes`) and the
rate controller (:mod:`lvc.codec.ratecontrol`). :func:`build_encoder` makes the usual ones from a
loaded model and the user's settings. Without a P-frame coder (an intra-only model) a frame the
scheduler marks P is coded as I, and the stream records what was actually coded. The reference is
always the previous *decoded* frame, held as uint8 exactly as the decoder holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lvc.codec.frame_coder import CodedFrame
from lvc.codec.gop import GopScheduler
from lvc.codec.hierarchy import QualityHierarchy
from lvc.codec.inter import InterCoder
from lvc.codec.intra import DEFAULT_TILE, IntraCoder
from lvc.codec.modes import RdModeDecision, rd_lambda
from lvc.codec.motion_search import FlowSearch, MotionSearch
from lvc.codec.presets import DEFAULT_PRESET, get_preset
from lvc.codec.ratecontrol import RateController
from lvc.format import bitstream as bs
from lvc.models.zoo import LoadedModel


@dataclass
class EncodedFrame:
    """One access unit and the encoder's reconstruction of it."""

    data: bytes
    recon: np.ndarray
    frame_type: str
    pts: int
    duration: int


@dataclass
class PFrameTools:
    """What P-frames need: the coder, the motion search that finds the flow it codes, and the model's λ
    ladder (None: λ unknown, so the motion mode is chosen by bits alone). ``temporal``: offer the
    previous P-frame's decoded flow as a motion predictor; a model with temporal motion prediction
    then codes the P-frame both ways and keeps the cheaper, which costs a second coding of the frame.
    ``global_motion``: offer the flow's median as a global motion in the same way (a second coding
    only where the median is not zero). ``uniform_motion``: offer zero motion with no flow coded.
    ``shortlist``: code the residual only for the candidates whose prediction's cost is within this
    fraction of the best one's (None: for all). ``motion_steps``: the motion qualities offered, in
    quarters of a quality from the frame's (:data:`lvc.models.motion_mode.MOTION_STEP_UNITS`)."""

    coder: InterCoder
    search: FlowSearch
    lambdas: tuple[float, ...] | None = None
    temporal: bool = True
    global_motion: bool = True
    uniform_motion: bool = False
    shortlist: float | None = None
    motion_steps: tuple[int, ...] = (0,)


class VideoEncoder:
    """Encodes RGB frames (H, W, 3) uint8 into access units.

    ``inter`` None codes every frame as I. ``modes`` (needs the λ ladder) may code a frame the
    schedule marks P as I where that is cheaper in RD terms. Each frame is coded at ``quality`` plus
    its offset in ``hierarchy``: the I-frames that the schedule sets its ``intra_boost`` steps above,
    the P-frames by their place after the I-frame (no offsets without P-frames). With ``rate``, each
    frame's quality is the controller's choice (with the same hierarchy) and ``quality`` only the first's.
    """

    def __init__(self, header: bs.SequenceHeader, *, intra: IntraCoder, scheduler: GopScheduler, quality: float,
                 levels: int, inter: PFrameTools | None = None, modes: RdModeDecision | None = None,
                 rate: RateController | None = None, hierarchy: QualityHierarchy | None = None) -> None:
        self.header = header
        self.intra = intra
        self.inter = inter
        self.scheduler = scheduler
        self.modes = modes
        self.rate = rate
        self.levels = levels
        # All-intra: -q is every frame's quality.
        self.hierarchy = hierarchy if hierarchy is not None and inter is not None else QualityHierarchy.flat()
        self._since_intra = 0  # frames since the last I-frame, that one included: the next P-frame's position
        self.set_quality(quality)
        self.reference: np.ndarray | None = None
        self.previous: np.ndarray | None = None  # the source frame that ``reference`` decodes
        self.flow_prev: torch.Tensor | None = None  # the last P-frame's decoded flow, as the decoder holds it
        self.frames = 0

    @property
    def inter_available(self) -> bool:
        """Whether P-frames can be coded (the model has an inter codec)."""
        return self.inter is not None

    def encode(self, rgb: np.ndarray, pts: int | None = None, duration: int = 1) -> EncodedFrame:
        """Code one frame; returns its access unit."""
        if rgb.shape != (self.header.height, self.header.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"expected a ({self.header.height}, {self.header.width}, 3) uint8 frame, "
                             f"got {rgb.shape} {rgb.dtype}")
        pts = self.frames if pts is None else pts
        wanted = self.scheduler.decide(rgb)
        if self.rate is not None:
            self.set_quality(self.rate.choose(wanted if self.inter is not None else "I"))
        else:
            offset = self.hierarchy.offset(wanted, self._since_intra)
            self._use_quality(min(max(self.base_quality + offset, 1.0), self.levels))
        flow = None
        if wanted == "P" and self.inter is not None and self.reference is not None:
            frame_type = "P"
            flow_prev = self.flow_prev if self.inter.temporal else None
            p = self.inter.coder.compress(rgb, self.quality, reference=self.reference, search=self.inter.search,
                                          flow_prev=flow_prev, previous=self.previous, lam=self.lam,
                                          global_motion=self.inter.global_motion,
                                          uniform_motion=self.inter.uniform_motion, shortlist=self.inter.shortlist,
                                          motion_steps=self.inter.motion_steps)
            data, recon, flow = self._access_unit("P", p, pts, duration), p.recon, p.flow
            # The mode decision weighs whole access units: an I-frame also carries the sequence header.
            if self.modes is not None and self.modes.worth_trying_intra((len(data), recon), rgb):
                i = self.intra.compress(rgb, self.quality)
                i_data = self._access_unit("I", i, pts, duration)
                if self.modes.prefer_intra((len(i_data), i.recon), (len(data), recon), rgb):
                    frame_type, data, recon = "I", i_data, i.recon
                    self.scheduler.restart()
        else:
            frame_type = "I"
            i = self.intra.compress(rgb, self.quality)
            data = self._access_unit("I", i, pts, duration)
            revised = None if self.rate is None else self.rate.revise_first(self.quality, len(data))
            if revised is not None:
                self.set_quality(revised)
                i = self.intra.compress(rgb, self.quality)
                data = self._access_unit("I", i, pts, duration)
            recon = i.recon
        if frame_type == "I" and self.modes is not None:
            self.modes.note_intra(len(data), recon, rgb)
        if self.rate is not None:
            self.rate.update(frame_type, self.quality, len(data))
        self.reference = recon
        self.previous = rgb.copy()  # the caller may reuse its buffer for the next frame
        # The next P-frame may predict its motion from this one's (never across an I-frame).
        self.flow_prev = flow if frame_type == "P" else None
        self._since_intra = 1 if frame_type == "I" else self._since_intra + 1
        self.frames += 1
        return EncodedFrame(data, recon, frame_type, pts, duration)

    def set_quality(self, quality: float) -> None:
        """Code the next frames at ``quality`` (in [1, levels]; kept to the stream's precision); without
        rate control, each frame at its offset in the hierarchy."""
        if not 1 <= quality <= self.levels:
            raise ValueError(f"quality must be in [1, {self.levels}], got {quality}")
        self.base_quality = bs.coded_quality(quality)
        self._use_quality(self.base_quality)

    def _use_quality(self, quality: float) -> None:
        """The quality (and λ) of the frame about to be coded."""
        self.quality = bs.coded_quality(quality)
        if self.modes is not None:
            self.modes.set_quality(self.quality)
        # λ weighs the encoder's choices (motion mode, RD flow fit) in the training loss's own units.
        lambdas = None if self.inter is None else self.inter.lambdas
        self.lam = rd_lambda(lambdas, self.quality) if lambdas else None

    def _access_unit(self, frame_type: str, coded: CodedFrame, pts: int, duration: int) -> bytes:
        """The frame's bytes. The sequence header rides with I-frames only: they are the random-access
        points, and a P-frame cannot be decoded without the frames before it anyway."""
        frame = bs.Frame(frame_type, pts, duration, self.quality, bs.frame_crc(coded.recon.tobytes()), coded.streams)
        return (bs.pack_sequence_header(self.header) if frame_type == "I" else b"") + bs.pack_frame(frame)


def build_encoder(model: LoadedModel, *, width: int, height: int, quality: float, fps: tuple[int, int] = (25, 1),
                  time_base: tuple[int, int] = (1, 25), pixel_format: str = "rgb24", gop: int = 1,
                  scene_cuts: bool = False, tile: int = DEFAULT_TILE, device: torch.device | str = "cpu",
                  mode_decision: bool = True, preset: str = DEFAULT_PRESET,
                  rate: RateController | None = None,
                  hierarchy: QualityHierarchy | None = None) -> VideoEncoder:
    """The encoder of ``model`` for frames of ``width`` x ``height``, with the usual parts: a GOP of ``gop``
    (``scene_cuts`` adds cut detection), the ``preset``'s motion search, RD mode decision where
    ``mode_decision`` and the model records its λ, ``rate`` control when given (its own hierarchy
    then applies), and each frame at its place in ``hierarchy`` (default :class:`QualityHierarchy`:
    the shipped I-frame boost and P-frame offsets) otherwise; all-intra streams have none."""
    header = bs.SequenceHeader(width=width, height=height, fps_num=fps[0], fps_den=fps[1],
                               tb_num=time_base[0], tb_den=time_base[1], pixel_format=pixel_format,
                               model_id=model.model_id, weight_hash=model.weight_hash, gop=gop, tile=tile)
    chosen = get_preset(preset)
    inter = None
    if model.inter is not None:
        search = MotionSearch.for_preset(model.inter, chosen, spec=model.inter_spec, lambdas=model.lambdas,
                                         model_id=model.model_id)
        inter = PFrameTools(InterCoder(model.inter, device=device), search, model.lambdas,
                            temporal=chosen.temporal_motion, global_motion=chosen.global_motion,
                            uniform_motion=chosen.uniform_motion, shortlist=chosen.shortlist,
                            motion_steps=chosen.motion_steps)
    # Where the schedule says P, also try I and keep the cheaper in RD terms (needs the model's λ).
    modes = RdModeDecision(model.lambdas, quality) if mode_decision and model.lambdas else None
    return VideoEncoder(header, intra=IntraCoder(model.codec, tile=tile, device=device),
                        scheduler=GopScheduler(period=gop, scene_cuts=scene_cuts), quality=quality,
                        levels=model.codec.y_gains.levels, inter=inter, modes=modes, rate=rate,
                        hierarchy=(QualityHierarchy() if hierarchy is None else hierarchy) if gop > 1 else None)
