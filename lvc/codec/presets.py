"""Encoder presets: how hard the encoder works on the flow it codes. The decoder never sees them.

Like x264's presets, they trade encoding time for bits and leave the bitstream's syntax alone: a
stream made with any preset decodes with the same decoder at the same speed. Where the time goes
is the motion search (``lvc.codec.refine``, ``lvc.codec.rd_refine``):

* ``fast``: RAFT on frames at half size, then the same fit to the warp error as ``medium``, and no
  global motion (below);
* ``medium`` (default): RAFT with 3 updates, then a fit of the flow to the warp error
  (``FlowRefiner``). After the fit, RAFT's last 3 of 6 updates bought nothing: on basketballpass,
  toys, aerial2 and tree (q 4, 12 frames) 3 updates made streams 0.6–1.7 % smaller at equal PSNR
  and the P-frames 150 ms faster at 416×240 (2 updates: worse on 3 of the 4 clips);
* ``slow`` and ``veryslow``: then a fit to the P-frame's own rate–distortion cost through the
  whole inter codec (``RdFlowRefiner``), 5 and 10 iterations, and the flow is also coded against
  the previous P-frame's (temporal motion prediction; the cheaper is kept). That second motion
  coding costs 10–23 % of the encoding time and, with today's model, buys nothing on average: on
  basketballpass, aerial2, tree, foreman and toys (12 frames, q 2–8) leaving it out changed the
  BD-rate by −1.9, +1.9, 0.0, 0.0 and +0.5 %. So ``medium`` and ``fast`` leave it out.

Every preset but ``fast`` offers the flow's median as a global motion (``lvc.models.inter``): the
P-frame is coded both ways and the cheaper kept. Where the median is zero that costs nothing; on a
pan it halves the motion and costs a second coding of the frame (``bench/speed.py``'s panning clip
at 416×240: 1.85 -> 1.00 fps encode, ``bench/results/speed.md``), which is why ``fast`` leaves it
out. (Since that change each candidate is weighed as a whole P-frame, residual included, which
makes the temporal candidate of the slow presets dearer than the timing above.) ``medium`` codes the
residual only of the candidates whose prediction costs (motion bits + λ·SSE of the prediction) within
5 % of the best one's (``shortlist``): on city, toys, aerial2, basketballpass, tree and a translating
clip (12 frames, q 2-8, 1,948-step weights) the bytes and pictures were identical to coding every
candidate whole, with 24 %, 36 % and 42 % fewer residual codings on city, aerial2 and the translating
clip (none fewer on the others). 0.2 pruned little (2-24 %). Since session 20 the shortlist weighs each
candidate on its plain warp, so only the survivors run the compensation's refinement (15 kMAC/px
each): on toys, aerial2, basketballpass and tree (q 2-8, 6,846-step weights) the BD-rate was 0.00 %.

Every preset but ``fast`` also offers zero motion with no flow coded (``lvc.models.motion_mode.MOTION_UNIFORM``);
it costs a compensation per P-frame, and a residual only where the shortlist lets it through. Where
the motion search fits noise on still content it saves the whole flow: −0.91 % BD-rate on the
held-out tree (12 frames, q 2-8, 2,349-step weights; chosen for 19 of 44 P-frames, −7 % of the bytes
at q 2) and the same bytes on the panning vid4_city. Offering the pan's median instead (the format
allows any vector) measured −1.49 % on tree, −0.74 % on toys, −0.23 % on cronkite, 0 on foreman,
aerial2, basketballpass and the translating clip, but +1.85 % on city, so the encoder offers zero.

Every preset has RAFT match the frame against the previous *source* frame, not its decoded
reference (``source_reference``); the warp fit that follows still fits the flow to the decoded
reference, which is what the decoder warps. RAFT's features of that source frame were computed in
the previous frame's search, so one feature pass is saved. On toys, aerial2, basketballpass and the
held-out tree (``medium``, 12 frames, q 2-8, 6,846-step weights) it measured −5.65, −0.07, −3.59 and
−0.38 % BD-rate, and basketballpass at q 4 encoded in 9.8-10.6 s instead of 10.1-11.6 s; with
``fast``, −7.70, −0.44, −3.08 and −1.94 %, in 95 s of encoding instead of 110 s (``slow`` and
``veryslow`` were not measured). A decoded reference at low rates is blurred and blocky, which RAFT
(trained on clean frames) matches worse. Its
next step, RAFT started from the previous P-frame's flow with 2 or 1 updates instead of 3, was
measured and dropped: +6.02 / +0.71 / +0.15 / −0.43 % (2 updates) and +5.00 / +3.80 / +0.75 / +0.15 %
(1 update) against this, for no time saved that the same run could measure.

Every preset but ``fast`` also offers the motion coded one quality lower (``motion_steps``; the mode
stream carries the step, ``lvc.models.motion_mode``), and the slow presets one higher as well: each
step is another motion coding of the same analysis (``ImageCodec.compress_at``), weighed like the
other candidates. On toys, aerial2, basketballpass and the held-out tree (``medium``, 12 frames,
q 2-8, 8,917-step weights) ``(0, -4)`` measured −3.80, −0.22, −0.67 and −0.03 % BD-rate in 23 % more
encoding time, and ``(0, -4, 4)`` −3.80, −0.55, −0.57 and −0.50 % in 53 % more. Toys, where motion
is a third of a P-frame, gains most; coding every frame's motion one quality lower had lost 2 % on
aerial2 and basketballpass (session 20), which the per-frame choice avoids.

Every preset gives RAFT at most 720p's pixels (``FLOW_MAX_PIXELS``): a larger frame is scaled down
for it, and the warp fit that follows still runs at full size. RAFT's all-pairs correlation grows
with the square of the pixel count, so uncapped a 1920x1080 encode peaked at 14,853 MiB; capped, at
3,309 MiB, in 57 % of the time (3 frames of ``bench/speed.py``'s pan, 2 cores; the pan cost 1.4 %
more bytes at −0.03 dB). Frames of 720p and smaller are coded exactly as before. What RAFT at 0.66×
(the cap's scale for 1080p) costs was measured on the largest benchmark clips, scaled the same way
(12 frames, q 2–8): +2.84 % BD-rate on vid4_walk, −5.58 % on vid4_city, +0.48 % on vid4_foliage and
+3.68 % on basketballpass; so below the cap RAFT keeps the full size.

Each preset's bits and speed are measured by ``bench/presets.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


FLOW_MAX_PIXELS = 1280 * 720  # the most pixels RAFT is given (see the module doc)


@dataclass(frozen=True)
class Preset:
    """One encoder effort level."""

    name: str
    flow_scale: float | None  # RAFT on frames scaled by this (None: the model's own setting)
    warp_fit: bool  # run the model's FlowRefiner on RAFT's flow
    rd_iters: int  # RdFlowRefiner iterations after it (0: none)
    rd_lr: float = 0.1
    flow_updates: int | None = None  # RAFT's recurrent updates (None: the model's own setting)
    flow_max_pixels: int | None = FLOW_MAX_PIXELS  # larger frames go to RAFT scaled down to this many pixels
    temporal_motion: bool = False  # also code the flow against the previous P-frame's, keep the cheaper
    global_motion: bool = True  # also code it against its median vector (a pan), keep the cheaper
    uniform_motion: bool = False  # also try zero motion, coding no flow
    shortlist: float | None = None  # residual-code only candidates whose prediction is this close to the best
    source_reference: bool = True  # RAFT matches against the previous source frame (its features reused)
    motion_steps: tuple[int, ...] = (0,)  # motion qualities offered, in quarters from the frame's (0: the same)


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("fast", flow_scale=0.5, warp_fit=True, rd_iters=0, flow_updates=3, global_motion=False),
    Preset("medium", flow_scale=None, warp_fit=True, rd_iters=0, flow_updates=3, uniform_motion=True, shortlist=0.05,
           motion_steps=(0, -4)),
    Preset("slow", flow_scale=None, warp_fit=True, rd_iters=5, temporal_motion=True, uniform_motion=True,
           motion_steps=(0, -4, 4)),
    Preset("veryslow", flow_scale=None, warp_fit=True, rd_iters=10, temporal_motion=True, uniform_motion=True,
           motion_steps=(0, -4, 4)),
)}
DEFAULT_PRESET = "medium"


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
