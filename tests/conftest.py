"""Shared fixtures: a tiny exported model (so tests never need the shipped weights) and data paths."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from lvc.models.builders import ImageCodecSpec, InterCodecSpec, build_image_codec, build_inter_codec
from lvc.models.zoo import LoadedModel, load_image_model
from train.export import export_codec

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("LVC_SHARED_DATA", ROOT.parent / "shared" / "data"))
TINY_SPEC = ImageCodecSpec(hidden=16, blocks=1, hyper_hidden=16, hyper_channels=8, context_hidden=16,
                           groups=[9, 183], refine_hidden=8)
TINY_ID = "tiny-test"


def natural_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth, textured RGB image (gradients + blobs + noise): more realistic than white noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([128 + 80 * np.sin(xx / (7 + 3 * c) + yy / 11 + c) for c in range(3)], axis=-1)
    for _ in range(6):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, 20)
        img += rng.uniform(-60, 60, 3) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None]
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``tiny-test.pt``: an untrained but complete (tables built) tiny model."""
    torch.manual_seed(0)
    codec = build_image_codec(TINY_SPEC)
    x = torch.from_numpy(np.stack([natural_image(64, 64, s) for s in range(4)])).permute(0, 3, 1, 2).float() / 255
    codec.calibrate(x)
    out = tmp_path_factory.mktemp("weights")
    export_codec(codec, TINY_SPEC, TINY_ID, out)
    return out


TINY_VIDEO_ID = "tiny-video-test"
TINY_INTER_SPEC = InterCodecSpec(motion=dict(hidden=8, latent=8, hyper_hidden=8, hyper_channels=4, context_hidden=8,
                                             groups=[2, 6]),
                                 residual=TINY_SPEC.to_dict(), compensation_hidden=8, compensation_blocks=2,
                                 flow_updates=2, temporal_motion=True, condition_hidden=8)


@pytest.fixture(scope="session")
def tiny_video_weights(tiny_weights_dir: Path) -> Path:
    """``tiny-video-test.pt`` next to the tiny intra model: intra plus an untrained inter codec (RAFT-small)."""
    torch.manual_seed(1)
    intra = build_image_codec(TINY_SPEC)
    inter = build_inter_codec(TINY_INTER_SPEC)
    export_codec(intra, TINY_SPEC, TINY_VIDEO_ID, tiny_weights_dir, inter=inter, inter_spec=TINY_INTER_SPEC)
    return tiny_weights_dir / f"{TINY_VIDEO_ID}.pt"


@pytest.fixture(scope="session")
def tiny_model(tiny_weights_dir: Path) -> LoadedModel:
    return load_image_model(str(tiny_weights_dir / f"{TINY_ID}.pt"))


@pytest.fixture
def tiny_env(tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``tiny-test`` an installed model (for the CLI and for subprocesses)."""
    monkeypatch.setenv("LVC_WEIGHTS_PATH", str(tiny_weights_dir))
    return tiny_weights_dir


@pytest.fixture
def one_torch_thread() -> object:
    """Tiny frames gain nothing from threads, and on a busy machine two spinning threads run these
    tests many times slower than one (the codec itself still computes on its fixed thread count)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def shared_data(sub: str) -> Path:
    """A folder of ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / sub
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set LVC_SHARED_DATA to run this test)")
    return path
