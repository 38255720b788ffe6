"""LightningModule for the intra codec: one model trained over the whole quality range."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Literal

import lightning as L
import torch
from torch import Tensor

from lvc.models.builders import ImageCodecSpec, build_image_codec
from lvc.models.zoo import load_state
from train.losses import lambda_at, rate_bpp
from train.schedule import warmup_cosine

# λ of each anchor quality (CompressAI's MSE ladder, loss = λ·255²·MSE + bpp).
DEFAULT_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)
# Layers initialised to a classical transform (colour and DCT bases).
CLASSICAL_LAYERS = ("g_a.colour", "g_a.dct", "g_s.idct", "g_s.colour")
# What the "entropy" stage keeps fixed: the transforms and the quantisation steps, so the decoded
# pixels (up to the means' rounding offsets) stay those of the shipped codec, and only the rate moves.
TRANSFORM_PARTS = ("g_a.", "g_s.", "y_gains.")
Stage = Literal["all", "entropy"]


def param_group(name: str) -> str:
    """Which learning-rate group a codec parameter belongs to."""
    if name.startswith(CLASSICAL_LAYERS):
        return "classical"
    if "gains." in name or name.startswith(("y_gains", "z_gains")):
        return "gains"
    if name.startswith(("g_a.", "g_s.")):
        return "transform"
    if name.startswith("hyper_prior."):
        return "prior"
    return "rest"


class IntraModule(L.LightningModule):
    """Rate–distortion training of :class:`lvc.models.image_codec.ImageCodec`.

    Each sample of a batch draws its own quality q ~ U[1, levels]; its λ is interpolated
    log-linearly between the anchors, exactly as the gains are.

    ``stage="entropy"`` fits only the entropy model (hyperprior, contexts, priors) to the fixed
    transforms of ``init_weights``, on the rate alone: with the transforms and gains frozen the
    distortion has no gradient for any trained part (see ``ImageCodec.likelihoods``), and skipping
    the synthesis makes a step several times cheaper. New context parts start at zero.
    """

    def __init__(self, *, spec: ImageCodecSpec | None = None, lambdas: tuple[float, ...] = DEFAULT_LAMBDAS,
                 lr: float = 1e-3, min_lr: float = 5e-5, warmup_steps: int = 200, decay_steps: int = 10000,
                 transform_lr_scale: float = 0.2, classical_lr_scale: float = 0.02, prior_lr_scale: float = 5.0,
                 gain_lr_scale: float = 5.0,
                 calibrate: bool = True, init_weights: str | None = None,
                 time_budget_s: float | None = None, stage: Stage = "all") -> None:
        super().__init__()
        self.save_hyperparameters()
        self.spec = spec or ImageCodecSpec()
        if len(lambdas) != self.spec.levels:
            raise ValueError(f"{len(lambdas)} lambdas for {self.spec.levels} quality levels")
        self.codec = build_image_codec(self.spec)
        self.step_offset = 0  # steps and CPU time already in ``init_weights``, for the training curve
        if init_weights:
            state, meta = load_state(init_weights, with_meta=True)
            # New parts (zero-initialised) may be missing from the file; a part of the file that this spec
            # lacks (such as its spatial context) would be dropped in silence, and the run would train less.
            _, dropped = self.codec.load_state_dict(state, strict=False)
            if dropped:
                raise ValueError(f"{init_weights} has parts that this spec does not build ({dropped[0]}, ...): "
                                 "give the spec it was trained with (e.g. spatial_hidden)")
            self.step_offset = int(meta.get("steps", 0))
        if stage == "entropy":
            if not init_weights:
                raise ValueError("the entropy stage fits an entropy model to trained transforms: give init_weights")
            for name, p in self.codec.named_parameters():
                p.requires_grad_(not name.startswith(TRANSFORM_PARTS))
        self.register_buffer("log_lambdas", torch.tensor(lambdas).log())
        self._t0 = time.monotonic()
        # Training time already in the weights, by machine kind, for the training curve and the notes.
        self.seconds_before = {kind: 3600.0 * float(meta.get(f"{kind}_hours", 0.0)) if init_weights else 0.0
                               for kind in ("cpu", "gpu")}

    def lam(self, q: Tensor) -> Tensor:
        """λ at qualities q (B,), interpolated between the anchors exactly as the gains are."""
        return lambda_at(self.log_lambdas, q)

    def training_step(self, x: Tensor, batch_idx: int) -> Tensor:
        q = torch.empty(x.shape[0], device=x.device).uniform_(1, self.spec.levels)
        num_pixels = x.shape[-1] * x.shape[-2]
        logs: dict[str, Tensor | float] = {f"{self._kind}_hours": self._seconds()[self._kind] / 3600}
        distortion: Tensor | float = 0.0  # the entropy stage: no trained part has a distortion gradient
        if self.hparams.stage == "entropy":
            likelihoods = self.codec.likelihoods(x, q)
        else:
            out = self.codec(x, q)
            likelihoods = out.likelihoods
            mse = (out.x_hat.float() - x).pow(2).mean(dim=(1, 2, 3))
            distortion = self.lam(q) * 255 ** 2 * mse
            logs["psnr"] = (-10 * torch.log10(mse.clamp_min(1e-10))).mean()
        bpp_z = rate_bpp(likelihoods["z"], num_pixels)
        bpp = rate_bpp(likelihoods["y"], num_pixels) + bpp_z
        loss = (distortion + bpp).mean()
        self.log_dict({"loss": loss, "bpp": bpp.mean(), "bpp_z": bpp_z.mean(), **logs}, prog_bar=True)
        return loss

    def configure_optimizers(self):  # noqa: ANN201
        # Adam moves every weight by about lr per step whatever its gradient, which would wreck the
        # exact colour/DCT initialisation within a hundred steps: those layers learn more slowly.
        # The transforms' wide convolutions feed latents that the gains multiply by up to ~60, and Adam's
        # sign-like early steps move all their weights at once: at the entropy model's rate they diverge.
        # The factorized prior starts broad and must sharpen by O(1) in softplus space: it learns faster.
        hp = self.hparams
        # The quality gains are few, log-parameterised and start far from where training takes them.
        scales = {"classical": 1.0 if self.spec.random_init else hp.classical_lr_scale,
                  "transform": hp.transform_lr_scale, "prior": hp.prior_lr_scale, "gains": hp.gain_lr_scale,
                  "rest": 1.0}
        groups: dict[str, list] = {k: [] for k in scales}
        for name, p in self.codec.named_parameters():
            if p.requires_grad:
                groups[param_group(name)].append(p)
        opt = torch.optim.Adam([{"params": ps, "lr": hp.lr * scales[k]} for k, ps in groups.items() if ps], lr=hp.lr)
        return warmup_cosine(opt, hp)

    @property
    def _kind(self) -> str:
        return "gpu" if self.device.type == "cuda" else "cpu"

    def _seconds(self) -> dict[str, float]:
        """Training seconds so far by machine kind, this run's included."""
        seconds = dict(self.seconds_before)
        seconds[self._kind] += time.monotonic() - self._t0
        return seconds

    def on_fit_start(self) -> None:
        self._t0 = time.monotonic()
        if self.hparams.calibrate and self.global_step == 0 and not self.hparams.init_weights:
            batch = torch.stack([self.trainer.datamodule.dataset[i] for i in range(64)]).to(self.device)
            self.codec.calibrate(batch)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        for kind, seconds in self._seconds().items():
            checkpoint[f"{kind}_seconds"] = seconds
        checkpoint["step_offset"] = self.step_offset

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.seconds_before = {kind: float(checkpoint.get(f"{kind}_seconds", 0.0)) for kind in ("cpu", "gpu")}


class FullImageProbe(L.Callback):
    """Every ``every`` steps, code one full-size image (forward in eval mode) at fixed qualities and
    log its bpp and PSNR: 128² crops cannot show failures that only appear far from borders.

    The default image is the first frame of a clip we may train on, not a benchmark image: the probe
    watches for failures and is never used to pick a checkpoint."""

    def __init__(self, *, image: str = "../shared/data/video/car_detection_768x432.mp4", every: int = 250,
                 qualities: tuple[float, ...] = (2.0, 6.0)) -> None:
        self.image, self.every, self.qualities = image, every, qualities
        self._x: Tensor | None = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: IntraModule, *args: object) -> None:
        if trainer.global_step % self.every or not Path(self.image).exists():
            return
        if self._x is None:
            from lvc.io.video import read_image

            self._x = torch.from_numpy(read_image(self.image)).permute(2, 0, 1)[None].float() / 255
        x = self._x.to(pl_module.device)
        pl_module.codec.eval()
        with torch.no_grad():
            for q in self.qualities:
                out = pl_module.codec(x, q)
                n = x.shape[-1] * x.shape[-2]
                bpp = float(rate_bpp(out.likelihoods["y"], n) + rate_bpp(out.likelihoods["z"], n))
                mse = float((out.x_hat.clamp(0, 1) - x).pow(2).mean())
                pl_module.log_dict({f"probe_bpp_q{q:g}": bpp, f"probe_psnr_q{q:g}": -10 * math.log10(mse)})
        pl_module.codec.train()
