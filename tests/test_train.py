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


def test_flow_stage_smoke(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from lightning.pytorch.cli import LightningCLI

    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        Image.fromarray(natural_image(140, 150, seed=i)).save(images / f"{i}.png")
    monkeypatch.setattr(sys, "argv", ["train"])
    cli = LightningCLI(args=["fit", "-c", str(ROOT / "configs/tiny_flow.yaml"), f"--data.init_args.root={images}",
                             "--trainer.val_check_interval=2"], save_config_kwargs={"overwrite": True})
    assert cli.trainer.global_step == 2
    assert torch.isfinite(cli.trainer.callback_metrics["val_epe"])


def test_video_folder_clips(tmp_path: Path) -> None:
    from tests.media import moving_frames, write_y4m
    from train.data import VideoFolderData

    write_y4m(tmp_path / "a.y4m", moving_frames(8, 40, 48))
    dm = VideoFolderData(root=str(tmp_path), frames=4, crop=32, batch_size=2, epoch_size=4)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch.shape == (2, 4, 3, 32, 32) and 0 <= batch.min() and batch.max() <= 1


def test_inter_stage_smoke_and_video_export(tmp_path: Path, monkeypatch, tiny_env) -> None:  # noqa: ANN001
    from lightning.pytorch.cli import LightningCLI

    from lvc import api
    from lvc.info import stream_info
    from tests.media import moving_frames, write_y4m
    from train.export import export_checkpoint

    clips = tmp_path / "clips"
    clips.mkdir()
    write_y4m(clips / "a.y4m", moving_frames(6, 72, 80))
    monkeypatch.setattr(sys, "argv", ["train"])
    for stage in ("motion", "joint"):
        cli = LightningCLI(args=["fit", "-c", str(ROOT / "configs/tiny_inter.yaml"), f"--data.init_args.root={clips}",
                                 f"--model.init_args.stage={stage}", "--trainer.enable_checkpointing=true",
                                 f"--trainer.default_root_dir={tmp_path / stage}"],
                           save_config_kwargs={"overwrite": True})
        assert cli.trainer.global_step == 2 and torch.isfinite(cli.trainer.callback_metrics["loss"])
    path = export_checkpoint(next((tmp_path / "joint").rglob("*.ckpt")), "tiny-video-smoke", tiny_env)
    lvc = tmp_path / "v.lvc"
    api.encode(clips / "a.y4m", lvc, model=str(path), gop=3)
    assert stream_info(lvc).frame_types == "IPPIPP"
    assert len(list(api.iter_decode(lvc))) == 6
