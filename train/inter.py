"""LightningModule for the P-frame codec, one YAML per stage (configs/inter_*.yaml).

Stages (``stage``):

* ``motion``: motion codec + compensation, loss λ·MSE(prediction, x) + R_motion;
* ``residual``: the residual codec (warm-started from the intra codec), motion parts frozen;
* ``joint``: everything but RAFT, over rollouts of ``rollout`` P-frames, each predicted from the
  previous *decoded* frame (the proxy reconstruction), loss summed so quality does not drift;
* ``synthesis``: distils the motion synthesis of ``init_weights`` (the teacher) into the one this
  spec shapes (a narrower one: ``MotionCodecSpec.fine_hidden``). Only the reshaped layers train;
  every other part is the teacher's. The loss is the squared difference, in pixels, of the two
  syntheses' flows from the same decoded latents, for the flows the encoder codes (RAFT and the warp
  fit on consecutive frames: the raw flow, and after the first P-frame its difference from the
  teacher's previous decoded flow, which temporal motion prediction codes). The joint stage then
  trains the result on the rate–distortion loss.

Frame 0 of every clip is coded by the (frozen) intra codec. Each frame's quality is the clip's
base quality plus its offset in the GOP's quality hierarchy (``intra_boost``, ``p_offsets``: see
:mod:`lvc.codec.hierarchy`), so that training sees the frames the encoder codes; each P-frame's λ is
its own quality's (DCVC's hierarchical λ).
RAFT is trained beforehand (train/flow.py) and stays frozen here: it runs only at the encoder.
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
from torch import Tensor

from lvc.codec.hierarchy import QualityHierarchy
from lvc.codec.motion_search import MotionSearch
from lvc.codec.refine import warp_fit
from lvc.models.builders import ImageCodecSpec, InterCodecSpec, build_image_codec, build_inter_codec
from lvc.models.zoo import load_calibration, load_image_model, load_state
from train.intra import DEFAULT_LAMBDAS
from train.losses import RoundedZFit, lambda_at, rate_bpp
from train.qat import QuantAware
from train.schedule import warmup_cosine

Stage = Literal["motion", "residual", "joint", "synthesis"]
TRAINED = {"motion": ("motion.", "compensation."), "residual": ("residual.",),
           "joint": ("motion.", "compensation.", "residual."), "synthesis": ("motion.g_s.",)}


class InterModule(L.LightningModule):
    """Rate–distortion training of :class:`lvc.models.inter.InterCodec` on clips (B, N, 3, H, W)."""

    def __init__(self, *, spec: InterCodecSpec | None = None, intra_weights: str, flow_weights: str | None = None,
                 init_weights: str | None = None, stage: Stage = "joint", rollout: int = 4,
                 lambdas: tuple[float, ...] = DEFAULT_LAMBDAS, lr: float = 3e-4, warmup_steps: int = 100,
                 decay_steps: int = 6000, min_lr: float = 3e-5, time_budget_s: float | None = None,
                 z_fit_weight: float = 0.0, quant_aware: bool = False, intra_boost: float = 0.0,
                 p_offsets: tuple[float, ...] = (), intra_spec: dict | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        state, meta = load_state(intra_weights, with_meta=True)
        # ``intra_spec`` changes fields of the intra codec's spec that shape no parameter (such as
        # zero_levels): the video model's I-frames then decode with them, and the residual inherits them.
        self.intra_spec = ImageCodecSpec(**{**meta.get("spec", {}), **(intra_spec or {})})
        self.intra = build_image_codec(self.intra_spec)
        self.intra.load_state_dict(state)
        self.intra.requires_grad_(False)
        # A checkpoint's hyper-parameters may hold the spec as a plain mapping.
        self.spec = InterCodecSpec(**spec) if isinstance(spec, dict) else spec or InterCodecSpec()
        # The residual codec is shaped like the intra codec it starts from, but for the fields the spec sets.
        self.spec.residual = {**self.intra_spec.to_dict(), **self.spec.residual}
        self.inter = build_inter_codec(self.spec)
        distilled: set[str] = set()  # the synthesis stage's reshaped layers
        if init_weights is None:  # warm start: the residual codec begins as the intra codec
            self.inter.residual.load_state_dict(state, strict=False)
        else:
            # New parts (zero-initialised) may be missing from the file; a part of the file that this
            # spec lacks would be dropped in silence, and the run would train a smaller codec.
            if stage == "synthesis":  # the one stage whose spec may reshape a part: the synthesis it distils
                teacher = load_image_model(init_weights, exact=False).inter.requires_grad_(False)
                # Held outside the module's state: it is the file's, and neither trains nor exports.
                self._teacher = (teacher,)
                state, distilled = self._teacher_state(teacher.state_dict())
            else:
                state = load_state(init_weights, key="inter_state")
            _, dropped = self.inter.load_state_dict(state, strict=False)
            if dropped:
                raise ValueError(f"{init_weights} has parts that this spec does not build ({dropped[0]}, ...): "
                                 "give the spec it was trained with (e.g. condition_hidden, temporal_motion)")
        if flow_weights:  # a flow checkpoint, or a video weight file (RAFT is in its inter state)
            blob = torch.load(flow_weights, map_location="cpu", weights_only=False)
            source = blob["inter_state"] if "inter_state" in blob else blob["state_dict"]
            self.inter.flow.load_state_dict({k[len("flow."):]: v.float() for k, v in source.items()
                                             if k.startswith("flow.")})
        # The synthesis stage trains only the reshaped layers: the teacher's layers before them keep the
        # features they were trained to give, and the joint stage fine-tunes everything afterwards.
        for name, p in self.inter.named_parameters():
            p.requires_grad_(name.rsplit(".", 1)[0] in distilled if distilled else name.startswith(TRAINED[stage]))
        self.register_buffer("log_lambdas", torch.tensor(lambdas).log())
        self.hierarchy = QualityHierarchy(intra_boost, tuple(p_offsets))
        # The flow each P-frame codes: RAFT and the warp fit, as the medium preset finds it.
        # The encoder's search: RAFT against the previous source frame, then the warp fit to the decoded one.
        self.search = MotionSearch(estimator=self.inter.flow, refiner=warp_fit(self.spec), source_reference=True)
        # z_fit_weight > 0 also fits the trained parts' z densities to the rounded z (train.losses.RoundedZFit).
        trained = [c.hyper_prior for name, c in (("motion.", self.inter.motion), ("residual.", self.inter.residual))
                   if name.startswith(TRAINED[stage])]
        self.z_fit = RoundedZFit(trained) if z_fit_weight > 0 else None
        # quant_aware: train on the grids the exact decoder computes on (train.qat), from the calibrations
        # of the weight files: the I-frame as the decoder makes it, the inter codec rounded as it will be.
        self.qat = None
        if quant_aware:
            intra_cal = load_calibration(intra_weights)
            inter_cal = load_calibration(init_weights) if init_weights else None
            if intra_cal is None or inter_cal is None:
                raise ValueError("quant_aware needs calibrated intra_weights and init_weights "
                                 "(python -m train calibrate)")
            QuantAware(self.intra, intra_cal["image"], refresh_every=0)  # frozen: its grids never change
            self.qat = QuantAware(self.inter, inter_cal["inter"])

    def lam(self, q: Tensor) -> Tensor:
        """λ at qualities q (B,), interpolated between the anchors exactly as the gains are."""
        return lambda_at(self.log_lambdas, q)

    def quality(self, base: Tensor, frame_type: str, position: int) -> Tensor:
        """The quality of the frame at ``position`` after the I-frame (0: the I-frame) of clips at ``base``."""
        return (base + self.hierarchy.offset(frame_type, position)).clamp(1, len(self.hparams.lambdas))

    def _teacher_state(self, state: dict[str, Tensor]) -> tuple[dict[str, Tensor], set[str]]:
        """``state`` without the synthesis parameters that this spec reshapes (they start fresh), and the
        names of the layers that hold them (they are what the stage trains)."""
        own = dict(self.inter.named_parameters())  # buffers such as coding tables load at any size
        reshaped = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
        others = [k for k in reshaped if not k.startswith(TRAINED["synthesis"])]
        if not reshaped or others:
            raise ValueError("the synthesis stage distils a motion synthesis of another shape: the spec must "
                             f"reshape it, and only it (reshaped: {others[:3] or 'nothing'})")
        return {k: v for k, v in state.items() if k not in reshaped}, {k.rsplit(".", 1)[0] for k in reshaped}

    def _synthesis_step(self, clip: Tensor) -> Tensor:
        """Distillation (stage ``synthesis``): the student synthesis reproduces the teacher's flows."""
        teacher = self._teacher[0].to(clip.device)
        norm = self.spec.flow_norm
        q = torch.empty(clip.shape[0], device=clip.device).uniform_(1, len(self.hparams.lambdas))
        losses: list[Tensor] = []
        decoded = None  # the teacher's decoded flow of the previous P-frame
        for t in range(1, min(clip.shape[1] - 1, self.hparams.rollout) + 1):
            with torch.no_grad():
                flow = self.search(clip[:, t], clip[:, t - 1])
            targets = [flow] if decoded is None or not self.spec.temporal_motion else [flow, flow - decoded]
            for i, target in enumerate(targets):
                with torch.no_grad():
                    y_hat = teacher.motion.latents(target / norm, q)
                    want = teacher.motion.g_s(y_hat, q)
                got = self.inter.motion.g_s(y_hat, q)
                losses.append((got - want).pow(2).mean() * norm ** 2)
                if i == 0:
                    decoded = want[..., : flow.shape[-2], : flow.shape[-1]] * norm
        loss = torch.stack(losses).mean()
        self.log_dict({"loss": loss, "flow_rmse_px": loss.detach().sqrt()}, prog_bar=True)
        return loss

    def training_step(self, clip: Tensor, batch_idx: int) -> Tensor:
        if self.hparams.stage == "synthesis":
            return self._synthesis_step(clip)
        b, n = clip.shape[:2]
        if self.qat is not None:
            self.qat.step(self.global_step)
        base = torch.empty(b, device=clip.device).uniform_(1, len(self.hparams.lambdas))
        pixels = clip.shape[-1] * clip.shape[-2]
        self.intra.eval()
        with torch.no_grad():
            ref = self.intra(clip[:, 0], self.quality(base, "I", 0)).x_hat.clamp(0, 1)
        steps = min(n - 1, self.hparams.rollout if self.hparams.stage == "joint" else 1)
        loss = clip.new_zeros(())
        logs: dict[str, Tensor] = {}
        flow_prev = None  # the first P-frame after the I-frame has no motion to predict from
        for t in range(1, steps + 1):
            x, q = clip[:, t], self.quality(base, "P", t)
            with torch.no_grad():
                flow = self.search(x, ref, flow_prev=flow_prev, previous=clip[:, t - 1])
            code = self.inter.predict if self.hparams.stage == "motion" else self.inter
            out = code(x, ref, q, flow=flow, flow_prev=flow_prev)
            flow_prev = out.flow_hat.detach()
            bpp = sum(rate_bpp(lik, pixels) for lik in out.likelihoods.values())
            mse = (out.x_hat - x).pow(2).mean(dim=(1, 2, 3))
            loss = loss + (self.lam(q) * 255 ** 2 * mse + bpp).mean()
            z_fit = self.z_fit and self.z_fit.pop_bpp(pixels)
            if z_fit is not None:
                loss = loss + self.hparams.z_fit_weight * z_fit.mean()
                logs[f"zfit_bpp_p{t}"] = z_fit.mean()
            logs[f"psnr_p{t}"] = (-10 * torch.log10(mse.clamp_min(1e-10))).mean()
            logs[f"bpp_p{t}"] = bpp.mean()
            ref = out.x_hat.clamp(0, 1).detach()  # closed loop: the next frame predicts from this one
        self.log_dict({"loss": loss / steps, **logs}, prog_bar=True)
        return loss / steps

    def configure_optimizers(self):  # noqa: ANN201
        params = [p for p in self.inter.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=self.hparams.lr)
        hp = self.hparams
        return warmup_cosine(opt, hp)
