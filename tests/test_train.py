"""Training smoke test: the tiny config runs a few steps through LightningCLI and exports weights."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lvc.image import decode_image, encode_image_with_recon
from lvc.models.zoo import load_image_model
from tests.conftest import ROOT, natural_image
from train.intra import DEFAULT_LAMBDAS


def _train_steps(module, batch: torch.Tensor, steps: int) -> list[float]:  # noqa: ANN001
    """``steps`` optimizer steps of a LightningModule on one batch, without a trainer; the losses."""
    opt = module.configure_optimizers()["optimizer"]
    module.log_dict = lambda *a, **k: None  # no trainer here
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = module.training_step(batch, 0)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses


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

    from train.export import export_checkpoint, slim_checkpoint

    path = export_checkpoint(ckpt, "smoke", tmp_path / "weights")
    # A slimmed checkpoint (what a GPU lease brings back) exports to the same weights.
    slim = export_checkpoint(slim_checkpoint(ckpt, tmp_path / "slim.ckpt"), "smoke", tmp_path / "from-slim")
    assert _same_state(path, slim, "state_dict")
    model = load_image_model(str(path))
    rgb = natural_image(33, 47)
    data, recon = encode_image_with_recon(rgb, 2.0, model)
    np.testing.assert_array_equal(decode_image(data, model), recon)



def test_entropy_stage_fits_a_new_spatial_context_to_fixed_transforms(tiny_weights_dir: Path, tmp_path: Path) -> None:
    """``stage="entropy"``: only the entropy model trains (the spatial context from zero), on the rate
    alone, and the result exports to weights that code and decode."""
    from tests.conftest import TINY_ID, TINY_SPEC
    from train.export import export_codec
    from train.intra import IntraModule

    torch.manual_seed(0)
    module = IntraModule(spec=dataclasses.replace(TINY_SPEC, spatial_hidden=8), stage="entropy", lr=3e-3,
                         init_weights=str(tiny_weights_dir / f"{TINY_ID}.pt"), warmup_steps=1, decay_steps=40)
    frozen = {k: v.clone() for k, v in module.codec.state_dict().items() if k.startswith(("g_a.", "g_s.", "y_gains."))}
    assert frozen and not any(p.requires_grad for k, p in module.codec.named_parameters() if k in frozen)
    x = torch.from_numpy(np.stack([natural_image(64, 64, s) for s in range(2)])).permute(0, 3, 1, 2).float() / 255
    losses = _train_steps(module, x, 30)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])  # the rate alone, and it falls
    state = module.codec.state_dict()
    assert all(torch.equal(state[k], v) for k, v in frozen.items())
    assert module.codec.spatial.heads[1][-1].weight.abs().sum() > 0
    with pytest.raises(ValueError, match="give init_weights"):
        IntraModule(spec=TINY_SPEC, stage="entropy")
    path = export_codec(module.codec, module.spec, "spatial-smoke", tmp_path)
    with pytest.raises(ValueError, match="spatial_hidden"):  # a spec without the context would drop it in silence
        IntraModule(spec=TINY_SPEC, init_weights=str(path))
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
                             "--trainer.val_check_interval=2", f"--trainer.default_root_dir={tmp_path}"],
                       save_config_kwargs={"overwrite": True})
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


def _write_webp(path: Path, frames: list[np.ndarray]) -> Path:
    ims = [Image.fromarray(f) for f in frames]
    ims[0].save(path, save_all=True, append_images=ims[1:], lossless=True, duration=40)
    return path


def test_mixed_clip_data_draws_real_synthetic_and_animated_clips_by_their_shares(tmp_path: Path) -> None:
    from tests.media import moving_frames, write_y4m
    from train.data import MixedClipData

    (tmp_path / "photos").mkdir()
    (tmp_path / "extra").mkdir()
    Image.fromarray(natural_image(140, 140)).save(tmp_path / "photos/a.png")
    write_y4m(tmp_path / "real.y4m", moving_frames(8, 40, 48))
    pan = moving_frames(6, 36, 36, seed=3)  # animated WebP, read through Pillow; lossless, so pixels are known
    _write_webp(tmp_path / "extra/pan.webp", pan)
    Image.fromarray(pan[0]).save(tmp_path / "extra/still.webp")  # one frame: no clip, skipped
    dm = MixedClipData(root=str(tmp_path), files=["real.y4m"], image_root=str(tmp_path / "photos"), frames=3,
                       crop=32, batch_size=2, epoch_size=8, synthetic_fraction=0.0, extra_root=str(tmp_path / "extra"),
                       extra_fraction=1.0)
    dm.setup()
    real, _, extra = dm.dataset.sources
    assert dm.dataset.weights == [0.0, 0.0, 1.0] and len(extra.videos) == 1
    assert torch.equal(extra.videos[0], torch.from_numpy(np.stack(pan)).permute(0, 3, 1, 2))
    batch = next(iter(dm.train_dataloader()))
    assert batch.shape == (2, 3, 3, 32, 32) and 0 <= batch.min() and batch.max() <= 1
    # every clip comes from the only source with weight: a crop of the WebP pan, not of the y4m
    whole = extra.videos[0].float() / 255
    for clip in batch:
        assert any(torch.equal(clip[0], whole[t, :, i:i + 32, j:j + 32]) or
                   torch.equal(clip[0], whole[t, :, i:i + 32, j:j + 32].flip(-1))
                   for t in range(6) for i in range(5) for j in range(5))
    with pytest.raises(ValueError, match="sum to at most 1"):
        MixedClipData(synthetic_fraction=0.5, extra_root="x", extra_fraction=0.6)
    with pytest.raises(ValueError, match="needs an extra_root"):
        MixedClipData(extra_fraction=0.1)


def test_fetch_video_keeps_the_animations_of_the_wheel(tmp_path: Path) -> None:
    import zipfile

    from train.fetch import fetch_video

    _write_webp(tmp_path / "anim.webp", [natural_image(16, 16, s) for s in range(3)])
    Image.fromarray(natural_image(16, 16)).save(tmp_path / "still.webp")

    def download(spec: str, dest: Path) -> Path:
        wheel = dest / "pkg-0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.write(tmp_path / "anim.webp", "pkg/templates/anim.webp")
            zf.write(tmp_path / "still.webp", "pkg/templates/still.webp")
            zf.writestr("pkg/__init__.py", "")
        return wheel

    files = fetch_video(tmp_path / "out", download=download)
    assert files == [tmp_path / "out/anim.webp"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["anim.webp"]


def test_inter_stage_smoke_and_video_export(tmp_path: Path, monkeypatch, tiny_env) -> None:  # noqa: ANN001
    from lightning.pytorch.cli import LightningCLI

    from lvc import api
    from lvc.io.container import stream_info
    from lvc.models.builders import build_image_codec
    from tests.conftest import TINY_SPEC
    from tests.media import moving_frames, write_y4m
    from train.export import export_checkpoint, export_codec, slim_checkpoint

    clips = tmp_path / "clips"
    clips.mkdir()
    write_y4m(clips / "a.y4m", moving_frames(6, 72, 80))
    monkeypatch.setattr(sys, "argv", ["train"])
    for stage in ("motion", "joint"):
        cli = LightningCLI(args=["fit", "-c", str(ROOT / "configs/tiny_inter.yaml"), f"--data.init_args.root={clips}",
                                 f"--model.init_args.stage={stage}", "--trainer.enable_checkpointing=true",
                                 "--model.init_args.z_fit_weight=1.0",
                                 f"--trainer.default_root_dir={tmp_path / stage}"],
                           save_config_kwargs={"overwrite": True})
        assert cli.trainer.global_step == 2 and torch.isfinite(cli.trainer.callback_metrics["loss"])
    ckpt = next((tmp_path / "joint").rglob("*.ckpt"))
    path = export_checkpoint(ckpt, "tiny-video-smoke", tiny_env)
    # Slimmed, it lacks the frozen intra codec and RAFT; with RAFT's checkpoint it exports the same.
    full = torch.load(ckpt, weights_only=False)
    flow = tmp_path / "flow.ckpt"
    torch.save({"state_dict": {k[len("inter."):]: v for k, v in full["state_dict"].items()
                               if k.startswith("inter.flow.")}}, flow)
    slim = slim_checkpoint(ckpt, tmp_path / "slim.ckpt")
    assert not any(k.startswith(("intra.", "inter.flow.")) for k in torch.load(slim, weights_only=False)["state_dict"])
    again = export_checkpoint(slim, "tiny-video-smoke", tmp_path / "from-slim", flow=str(flow))
    assert _same_state(path, again, "inter_state") and _same_state(path, again, "state_dict")
    lvc = tmp_path / "v.lvc"
    api.encode(clips / "a.y4m", lvc, model=str(path), gop=3, mode_decision=False)  # P even where I is cheaper
    assert stream_info(lvc).frame_types == "IPPIPP"
    assert load_image_model(str(path)).lambdas == tuple(DEFAULT_LAMBDAS)  # the encoder's I/P choice needs them
    assert len(list(api.iter_decode(lvc))) == 6
    # Paired with intra weights of another spec (a spatial context the training's intra codec lacked).
    spatial_spec = dataclasses.replace(TINY_SPEC, spatial_hidden=8)
    intra = export_codec(build_image_codec(spatial_spec), spatial_spec, "tiny-spatial", tmp_path / "intra")
    paired = export_checkpoint(ckpt, "tiny-video-paired", tiny_env, intra=str(intra))
    assert load_image_model(str(paired)).codec.spatial is not None
    api.encode(clips / "a.y4m", lvc, model=str(paired), gop=3, mode_decision=False, overwrite=True)
    assert len(list(api.iter_decode(lvc))) == 6


def _same_state(a: Path, b: Path, key: str) -> bool:
    sa, sb = torch.load(a, weights_only=True)[key], torch.load(b, weights_only=True)[key]
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_synthesis_stage_distils_a_narrower_motion_synthesis(tiny_video_weights: Path, tmp_path: Path,
                                                             tiny_env: Path) -> None:
    """``stage="synthesis"``: a motion synthesis of another shape learns the teacher's flows, in the
    reshaped layers alone; every other part is the teacher's and stays so; the result exports and
    codes a clip; a spec that reshapes nothing, or more than the synthesis, is refused."""
    from lvc import api
    from tests.conftest import TINY_INTER_SPEC
    from tests.media import moving_frames, write_y4m
    from train.export import export_checkpoint
    from train.inter import InterModule

    def module(motion: dict) -> InterModule:
        spec = dataclasses.replace(TINY_INTER_SPEC, motion={**TINY_INTER_SPEC.motion, **motion})
        return InterModule(spec=spec, intra_weights=str(tiny_video_weights), flow_weights=str(tiny_video_weights),
                           init_weights=str(tiny_video_weights), stage="synthesis", rollout=2, lr=1e-2,
                           warmup_steps=1, decay_steps=60)

    torch.manual_seed(0)
    student = module({"fine_hidden": 4, "fine_kernel": 3})
    teacher = load_image_model(str(tiny_video_weights), exact=False).inter
    trained = ("motion.g_s.ups.2.", "motion.g_s.gains.2.", "motion.g_s.out.")
    assert {k for k, p in student.inter.named_parameters() if p.requires_grad} == \
        {k for k, _ in student.inter.named_parameters() if k.startswith(trained)}
    kept = {k: v.clone() for k, v in student.inter.state_dict().items() if not k.startswith(trained)}
    teacher = load_image_model(str(tiny_video_weights), exact=False).inter.state_dict()
    assert all(torch.equal(v, teacher[k]) for k, v in kept.items() if k in teacher)
    clip = torch.from_numpy(np.stack(moving_frames(3, 64, 64))).permute(0, 3, 1, 2).float()[None].repeat(2, 1, 1, 1, 1) / 255
    losses = _train_steps(student, clip, 40)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert all(torch.equal(v, student.inter.state_dict()[k]) for k, v in kept.items())
    for bad, match in (({}, "reshape it"), ({"fine_hidden": 4, "hidden": 6}, "and only it")):
        with pytest.raises(ValueError, match=match):
            module(bad)
    ckpt = tmp_path / "distilled.ckpt"
    torch.save({"state_dict": student.state_dict(), "hyper_parameters": dict(student.hparams), "global_step": 40}, ckpt)
    path = export_checkpoint(ckpt, "tiny-video-distilled", tiny_env)
    assert load_image_model(str(path)).inter_spec.motion["fine_hidden"] == 4
    write_y4m(tmp_path / "a.y4m", moving_frames(4, 64, 64))
    api.encode(tmp_path / "a.y4m", tmp_path / "a.lvc", model=str(path), gop=4, mode_decision=False)
    assert len(list(api.iter_decode(tmp_path / "a.lvc"))) == 4


def test_rounded_z_fit_trains_the_density_only() -> None:
    from lvc.entropy import FactorizedPrior
    from train.losses import RoundedZFit

    prior = FactorizedPrior(channels=4)
    fit = RoundedZFit([prior])
    z = (0.3 * torch.randn(2, 4, 3, 5)).requires_grad_()
    prior.eval()
    prior(z)
    assert fit.pop_bpp(100) is None  # eval mode (a frozen part) is not fitted
    prior.train()
    prior(z)
    bpp = fit.pop_bpp(100)
    expected = -prior.likelihood(torch.round(z.detach())).log2().flatten(1).sum(1) / 100
    assert bpp.shape == (2,) and torch.allclose(bpp, expected)
    bpp.sum().backward()
    assert z.grad is None and all(p.grad is not None and p.grad.abs().sum() > 0 for p in prior.matrices)
    assert fit.pop_bpp(100) is None  # popped: each P-frame's term counts once


def test_synthetic_clip_data(tmp_path: Path) -> None:
    from train.data import SyntheticClipData
    from train.synthetic import CLIP_MARGIN

    Image.fromarray(natural_image(160, 170)).save(tmp_path / "a.png")
    dm = SyntheticClipData(root=str(tmp_path), frames=3, crop=48, batch_size=2, epoch_size=4)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch.shape == (2, 3, 3, 48, 48) and 0 <= batch.min() and batch.max() <= 1
    with pytest.raises(ValueError, match=f"at least {100 + 2 * CLIP_MARGIN}"):
        SyntheticClipData(root=str(tmp_path), crop=100).setup()


def test_final_checkpoint_holds_the_last_step(tmp_path: Path) -> None:
    import lightning as L
    from lightning.pytorch.demos.boring_classes import BoringModel

    from train.callbacks import FinalCheckpoint

    L.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, callbacks=[FinalCheckpoint(dirpath=str(tmp_path))]).fit(BoringModel())
    assert torch.load(tmp_path / "last.ckpt", weights_only=False)["global_step"] == 3


@pytest.mark.parametrize("stage", ["intra", "flow", "inter_motion", "inter_residual", "inter_joint"])
def test_gpu_lease_overlays_parse(stage: str, monkeypatch, capsys) -> None:  # noqa: ANN001
    from lightning.pytorch.cli import LightningCLI

    from train.lease import lanes

    commands = [" ".join(step.cmd) for lane in lanes(Path("out"), []).values() for step in lane]
    assert any(f"configs/gpu/{stage}.yaml" in c for c in commands)
    monkeypatch.setattr(sys, "argv", ["train"])
    with pytest.raises(SystemExit) as done:
        LightningCLI(args=["fit", "-c", str(ROOT / f"configs/{stage}.yaml"),
                           "-c", str(ROOT / f"configs/gpu/{stage}.yaml"), "--print_config"])
    assert done.value.code == 0
    printed = capsys.readouterr().out
    assert "max_steps: -1" in printed and "time_budget_s:" in printed


def test_lease_continuation_spends_the_budget_on_the_joint_stage() -> None:
    from train.lease import SETUP_S, lanes

    inter = lanes(Path("out"), [], inter_from=Path("prev"), budget_s=SETUP_S + 300)["inter"]
    cmds = [" ".join(step.cmd) for step in inter]
    assert "--flow prev/flow.ckpt" in cmds[0] and "prev/inter.ckpt" in cmds[0]
    assert "configs/gpu/inter_joint.yaml" in cmds[1] and "--trainer.max_time=00:00:05:00" in cmds[1]
    assert not any("inter_motion" in c or "configs/gpu/flow" in c for c in cmds)
    assert inter[-1].always  # the slimmed checkpoint comes back even if training was cut short


def test_lease_continues_from_a_shipped_video_model() -> None:
    from train.lease import lanes

    inter = lanes(Path("out"), [], inter_from=Path("lvc/weights/video-dct-hp.pt"), budget_s=400)["inter"]
    assert len(inter) == 2 and "init_weights=lvc/weights/video-dct-hp.pt" in " ".join(inter[0].cmd)
    assert "--model.init_args.flow_weights=null" in inter[0].cmd  # RAFT comes with the file


def test_lease_continues_a_video_model_with_the_spec_it_was_trained_with() -> None:
    """The real-video model has temporal motion and a conditioner, which the joint stage's config lacks."""
    import json

    from train.lease import lanes

    inter = lanes(Path("out"), [], inter_from=ROOT / "lvc/weights/video-dct-hp-real.pt", budget_s=400)["inter"]
    spec = [a for a in inter[0].cmd if a.startswith("--model.init_args.spec=")]
    assert len(spec) == 1
    spec = json.loads(spec[0].split("=", 1)[1])
    assert spec["temporal_motion"] and spec["condition_hidden"] > 0


def test_inter_training_codes_each_frame_at_its_place_in_the_quality_hierarchy(tiny_video_weights: Path) -> None:
    """The rollout's I-frame and P-frames take the encoder's offsets, and each P-frame its own λ."""
    from tests.conftest import TINY_INTER_SPEC
    from train.inter import InterModule

    module = InterModule(spec=TINY_INTER_SPEC, intra_weights=str(tiny_video_weights),
                         flow_weights=str(tiny_video_weights), init_weights=str(tiny_video_weights), rollout=3,
                         intra_boost=1.0, p_offsets=(-0.5, 0.25))
    seen: dict[str, list[torch.Tensor]] = {"I": [], "P": []}
    module.intra.register_forward_pre_hook(lambda m, args: seen["I"].append(args[1].clone()))
    module.inter.register_forward_pre_hook(lambda m, args: seen["P"].append(args[2].clone()))
    clip = torch.rand(2, 4, 3, 64, 64)
    torch.manual_seed(0)
    base = torch.empty(2).uniform_(1, 8)  # the base qualities the step draws first
    torch.manual_seed(0)
    assert torch.isfinite(module.training_step(clip, 0))
    assert torch.allclose(seen["I"][0], (base + 1).clamp(max=8))
    assert [torch.allclose(q, (base + o).clamp(1, 8)) for q, o in zip(seen["P"], (-0.5, 0.25, -0.5))] == [True] * 3
