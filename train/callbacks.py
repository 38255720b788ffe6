"""Callbacks shared by the training runs."""

from __future__ import annotations

from pathlib import Path

import lightning as L


class FinalCheckpoint(L.Callback):
    """Write ``<dirpath>/last.ckpt`` when training ends, however it ends (``max_time`` included).

    ModelCheckpoint saves on step intervals only, so a run stopped by its time budget would lose
    the steps since the last interval: the annealed end of the schedule, which matters most."""

    def __init__(self, *, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.dirpath.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(self.dirpath / "last.ckpt")
