"""Supervised RAFT training on synthetic motion with exact flow (the first stage of the inter codec)."""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor

from lvc.models.flow import FlowEstimator
from lvc.models.warp import warp
from train.schedule import warmup_cosine


def sequence_loss(flows: list[Tensor], target: Tensor, valid: Tensor, gamma: float = 0.8) -> Tensor:
    """RAFT's loss: L1 of every refinement, later ones weighted more (Teed & Deng 2020)."""
    n = len(flows)
    mask = valid[:, None]
    return sum(gamma ** (n - 1 - i) * ((f - target).abs() * mask).sum() / (2 * mask.sum().clamp_min(1))
               for i, f in enumerate(flows))


def end_point_error(flow: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Mean Euclidean error over valid pixels (EPE, in pixels)."""
    epe = (flow - target).pow(2).sum(1).sqrt()
    return (epe * valid).sum() / valid.sum().clamp_min(1)


def photometric_loss(flow: Tensor, current: Tensor, reference: Tensor, smooth: float = 0.05) -> Tensor:
    """Unsupervised loss for real video: Charbonnier warp error plus first-order flow smoothness."""
    err = (warp(reference, flow) - current).pow(2).add(1e-6).sqrt().mean()
    tv = (flow[..., 1:, :] - flow[..., :-1, :]).abs().mean() + (flow[..., 1:] - flow[..., :-1]).abs().mean()
    return err + smooth * tv


class FlowModule(L.LightningModule):
    """Trains :class:`FlowEstimator`: supervised on synthetic pairs (dict batches with ground truth),
    or photometrically on real clips (tensor batches (B, N, 3, H, W): consecutive frames 0 and 1)."""

    def __init__(self, *, variant: str = "small", updates: int = 6, lr: float = 4e-4, weight_decay: float = 1e-5,
                 max_flow: float = 64.0, init_checkpoint: str | None = None, warmup_steps: int = 200,
                 decay_steps: int = 20000, min_lr: float = 1e-5, time_budget_s: float | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.flow = FlowEstimator(variant=variant, updates=updates)
        if init_checkpoint:
            blob = torch.load(init_checkpoint, map_location="cpu", weights_only=False)
            self.load_state_dict(blob["state_dict"])

    def _step(self, batch: dict[str, Tensor]) -> tuple[list[Tensor], Tensor]:
        valid = batch["valid"] * (batch["flow"].pow(2).sum(1).sqrt() < self.hparams.max_flow)
        flows = self.flow(batch["current"], batch["reference"], all_iterations=True)
        return flows, valid

    def training_step(self, batch: dict[str, Tensor] | Tensor, batch_idx: int) -> Tensor:
        if isinstance(batch, Tensor):  # a real clip: no ground truth
            flows = self.flow(batch[:, 1], batch[:, 0], all_iterations=True)
            loss = sum(0.8 ** (len(flows) - 1 - i) * photometric_loss(f, batch[:, 1], batch[:, 0])
                       for i, f in enumerate(flows))
            self.log("photometric", loss, prog_bar=True)
            return loss
        flows, valid = self._step(batch)
        loss = sequence_loss(flows, batch["flow"], valid)
        self.log_dict({"loss": loss, "epe": end_point_error(flows[-1].detach(), batch["flow"], valid)}, prog_bar=True)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        flows, valid = self._step(batch)
        zero = torch.zeros_like(batch["flow"])
        self.log_dict({"val_epe": end_point_error(flows[-1], batch["flow"], valid),
                       "val_epe_zero_motion": end_point_error(zero, batch["flow"], valid)})

    def configure_optimizers(self):  # noqa: ANN201
        opt = torch.optim.AdamW(self.flow.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        hp = self.hparams
        return warmup_cosine(opt, hp)
