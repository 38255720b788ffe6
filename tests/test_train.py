"""Training smoke test: the tiny config runs a few steps through LightningCLI and exports weights."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lvc.image import decode_image, encode_image_with_recon
from lvc.models.zoo import load_image_model
from tests.conftest import ROOT, natural_image


def test_fast_dev_run_and_export(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from lightning.pytorch.cli import LightningCLI

    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        Image.fromarray(natural_image(80, 96, seed=i)).save(images / f"{i}.png")
    ckpt_dir = tmp_path / "ckpt"
    monkeypatch.setattr(sys, "argv", ["train"])
    cli = LightningCLI(args=["fit", "-c", str(ROOT / "configs/tiny.yaml"), f"--data.init_args.root={images}",
                             "--trainer.enable_checkpointing=true", f"--trainer.default_root_dir={ckpt_dir}"],
                       save_config_kwargs={"overwrite": True})
    assert cli.trainer.global_step == 2
    loss = cli.trainer.callback_metrics["loss"]
    assert torch.isfinite(loss)
    ckpt = next(ckpt_dir.rglob("*.ckpt"))

    from train.export import export_checkpoint

    path = export_checkpoint(ckpt, "smoke", tmp_path / "weights")
    model = load_image_model(str(path))
    rgb = natural_image(33, 47)
    data, recon = encode_image_with_recon(rgb, 2.0, model)
    np.testing.assert_array_equal(decode_image(data, model), recon)
