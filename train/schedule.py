"""Learning-rate schedules shared by the training modules."""

from __future__ import annotations

import math
import time
from typing import Any

import torch


class WarmupCosine:
    """LR factor for :class:`torch.optim.lr_scheduler.LambdaLR`: linear warm-up over ``warmup_steps``,
    then a cosine from 1 down to ``floor``.

    The cosine runs over ``decay_steps`` steps or, with ``budget_s``, over that many seconds of
    training after the warm-up. A fixed-length GPU lease knows its seconds, not its steps: with a
    time budget the run still ends annealed, whatever speed the machine turns out to have.
    """

    def __init__(self, *, warmup_steps: int, decay_steps: int, floor: float = 0.0,
                 budget_s: float | None = None) -> None:
        self.warmup_steps, self.decay_steps, self.floor, self.budget_s = warmup_steps, decay_steps, floor, budget_s
        self._t0: float | None = None

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.budget_s:
            if self._t0 is None:
                self._t0 = time.monotonic()
            t = (time.monotonic() - self._t0) / self.budget_s
        else:
            t = (step - self.warmup_steps) / max(1, self.decay_steps - self.warmup_steps)
        t = min(1.0, t)
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * t))


def warmup_cosine(optimizer: torch.optim.Optimizer, hp: Any) -> dict:
    """Lightning's ``configure_optimizers`` answer for ``optimizer`` under a :class:`WarmupCosine` read
    from a module's hyper-parameters (``lr``, ``min_lr``, ``warmup_steps``, ``decay_steps``, ``time_budget_s``)."""
    schedule = WarmupCosine(warmup_steps=hp.warmup_steps, decay_steps=hp.decay_steps, floor=hp.min_lr / hp.lr,
                            budget_s=hp.time_budget_s)
    sched = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
