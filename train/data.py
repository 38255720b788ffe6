"""Training data: random image crops, synthetic motion made from them, and clips of real video."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from PIL import Image, ImageSequence
from torch.utils.data import DataLoader, Dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm"}


def list_images(root: str | Path) -> list[Path]:
    """All image files under ``root`` (recursively), sorted for reproducibility."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images under {root}")
    return files


class RandomCrops(Dataset):
    """``length`` random ``crop``² patches (uint8 -> float [0, 1]), with flips.

    Images are decoded once and kept in memory (540 photos are about 0.5 GB). Images whose short
    side exceeds ``downscale_above`` are also kept at half size, which removes sensor noise and
    matches the scale of Kodak-like content.
    """

    def __init__(self, files: list[Path], *, crop: int, length: int, downscale_above: int = 700) -> None:
        self.crop = crop
        self.length = length
        self.images: list[torch.Tensor] = []
        for f in files:
            with Image.open(f) as im:
                im = im.convert("RGB")
                variants = [im]
                if min(im.size) > downscale_above:
                    variants.append(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS))
                for v in variants:
                    if min(v.size) >= crop:
                        self.images.append(torch.from_numpy(np.asarray(v).copy()).permute(2, 0, 1))
        if not self.images:
            raise ValueError(f"no image is at least {crop}x{crop}")

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        img = self.images[random.randrange(len(self.images))]
        _, h, w = img.shape
        top, left = random.randint(0, h - self.crop), random.randint(0, w - self.crop)
        x = img[:, top:top + self.crop, left:left + self.crop]
        if random.random() < 0.5:
            x = x.flip(-1)
        if random.random() < 0.5:
            x = x.flip(-2)
        return x.float().div_(255.0)


class ImageFolderData(L.LightningDataModule):
    """Random crops from every image under ``root``."""

    def __init__(self, *, root: str = "../shared/data/train_images", crop: int = 128, batch_size: int = 16,
                 epoch_size: int = 16000, num_workers: int = 0, limit_files: int | None = None) -> None:
        super().__init__()
        self.root = root
        self.crop = crop
        self.batch_size = batch_size
        self.epoch_size = epoch_size
        self.num_workers = num_workers
        self.limit_files = limit_files
        self.dataset: RandomCrops | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is None:
            files = list_images(self.root)[: self.limit_files]
            self.dataset = RandomCrops(files, crop=self.crop, length=self.epoch_size)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers,
                          drop_last=True, persistent_workers=self.num_workers > 0)


def _at_least(images: list[torch.Tensor], size: int) -> list[torch.Tensor]:
    """The images whose both sides are at least ``size`` (the synthetic motion needs that margin)."""
    kept = [im for im in images if min(im.shape[-2:]) >= size]
    if not kept:
        raise ValueError(f"no image is at least {size}x{size}")
    return kept


class SyntheticFlowPairs(Dataset):
    """Synthetic motion pairs with exact flow (:func:`train.synthetic.synthetic_pair`) from stills."""

    def __init__(self, images: list[torch.Tensor], *, crop: int, length: int, seed: int = 0) -> None:
        from train.synthetic import MARGIN

        self.images = _at_least(images, crop + 2 * MARGIN)
        self.crop, self.length, self.seed = crop, length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from train.synthetic import synthetic_pair

        rng = random.Random(self.seed * 1_000_003 + index) if self.seed >= 0 else random.Random()
        img = self.images[rng.randrange(len(self.images))].float().div(255.0)
        return synthetic_pair(img, self.crop, rng)


class FlowPairData(L.LightningDataModule):
    """Synthetic flow pairs from an image folder; a fixed-seed held-out set for validation EPE."""

    def __init__(self, *, root: str = "../shared/data/train_images", crop: int = 128, batch_size: int = 8,
                 epoch_size: int = 8000, val_size: int = 64, num_workers: int = 0,
                 limit_files: int | None = None) -> None:
        super().__init__()
        self.root, self.crop, self.batch_size = root, crop, batch_size
        self.epoch_size, self.val_size = epoch_size, val_size
        self.num_workers, self.limit_files = num_workers, limit_files
        self.train_set: SyntheticFlowPairs | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            files = list_images(self.root)[: self.limit_files]
            images = RandomCrops(files, crop=self.crop, length=1).images
            held_out = max(1, len(images) // 10)  # images never used for training pairs
            self.train_set = SyntheticFlowPairs(images[held_out:] or images, crop=self.crop,
                                                length=self.epoch_size, seed=-1)
            self.val_set = SyntheticFlowPairs(images[:held_out], crop=self.crop, length=self.val_size, seed=1)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, num_workers=self.num_workers, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size, num_workers=self.num_workers)


class SyntheticClips(Dataset):
    """Clips of ``frames`` frames with camera and object motion (:func:`train.synthetic.synthetic_clip`)."""

    def __init__(self, images: list[torch.Tensor], *, frames: int, crop: int, length: int) -> None:
        from train.synthetic import CLIP_MARGIN

        self.images = _at_least(images, crop + 2 * CLIP_MARGIN)
        self.frames, self.crop, self.length = frames, crop, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        """(frames, 3, crop, crop) float in [0, 1]."""
        from train.synthetic import synthetic_clip

        rng = random.Random()
        img = self.images[rng.randrange(len(self.images))].float().div(255.0)
        if rng.random() < 0.5:
            img = img.flip(-1)
        return synthetic_clip(img, self.crop, self.frames, rng)


class SyntheticClipData(L.LightningDataModule):
    """Synthetic clips made from every image under ``root``: motion we make from stills (DESIGN.md §6)."""

    def __init__(self, *, root: str = "../shared/data/train_images", frames: int = 5, crop: int = 128,
                 batch_size: int = 4, epoch_size: int = 4000, num_workers: int = 0,
                 limit_files: int | None = None) -> None:
        super().__init__()
        self.root, self.frames, self.crop, self.batch_size = root, frames, crop, batch_size
        self.epoch_size, self.num_workers, self.limit_files = epoch_size, num_workers, limit_files
        self.dataset: SyntheticClips | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is None:
            from train.synthetic import CLIP_MARGIN

            files = list_images(self.root)[: self.limit_files]
            images = RandomCrops(files, crop=self.crop + 2 * CLIP_MARGIN, length=1).images
            self.dataset = SyntheticClips(images, frames=self.frames, crop=self.crop, length=self.epoch_size)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size, num_workers=self.num_workers, drop_last=True,
                          persistent_workers=self.num_workers > 0)


ANIMATED_SUFFIXES = {".webp", ".gif"}  # read through Pillow: this PyAV build does not decode animated WebP
VIDEO_SUFFIXES = {".mp4", ".mkv", ".webm", ".mov", ".y4m", ".avi"} | ANIMATED_SUFFIXES


def list_videos(root: str | Path) -> list[Path]:
    """Every video (or animated WebP/GIF) under ``root``, recursively, sorted for reproducibility."""
    return sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)


def _frames_of(path: Path) -> Iterator[Image.Image]:
    """The RGB frames of a video (PyAV) or of an animated WebP/GIF (Pillow), in order."""
    if path.suffix.lower() in ANIMATED_SUFFIXES:
        with Image.open(path) as im:
            for frame in ImageSequence.Iterator(im):
                yield frame.convert("RGB")
        return
    from lvc.io.video import open_media

    _, it = open_media(path)
    try:
        for frame in it:
            yield Image.fromarray(frame.rgb)
    finally:
        it.close()


class VideoClips(Dataset):
    """Random clips of ``frames`` consecutive frames, randomly cropped, from videos (PyAV) or animated
    WebP/GIF files (Pillow).

    Videos are decoded once (downscaled so the short side is at most ``max_side``) and kept in
    memory as uint8; for user-sized folders, point ``root`` at a subset.

    ``strides`` are the frame steps a clip is drawn at, uniformly: a step of 2 or 3 doubles or
    triples the motion between its frames, which gives the codec the fast pans that the training
    footage has too few of (real motion, unlike synthetic camera moves).
    """

    def __init__(self, files: list[Path], *, frames: int, crop: int, length: int, max_side: int = 480,
                 max_frames: int = 400, strides: tuple[int, ...] = (1,)) -> None:
        if not strides or min(strides) < 1:
            raise ValueError(f"strides must be positive frame steps, got {strides}")
        self.frames, self.crop, self.length, self.strides = frames, crop, length, tuple(strides)
        self.videos: list[torch.Tensor] = []
        for f in files:
            clip = []
            with closing(_frames_of(f)) as frames_of_f:
                for im in itertools.islice(frames_of_f, max_frames):
                    scale = max_side / min(im.size)
                    if scale < 1:
                        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
                    clip.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1))
            if len(clip) >= (frames - 1) * min(self.strides) + 1 and min(clip[0].shape[-2:]) >= crop:
                self.videos.append(torch.stack(clip))
        if not self.videos:
            raise ValueError(f"no video has {frames} frames of at least {crop}x{crop}")

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        """(frames, 3, crop, crop) float in [0, 1]."""
        v = self.videos[random.randrange(len(self.videos))]
        fitting = [s for s in self.strides if (self.frames - 1) * s < v.shape[0]]
        step = random.choice(fitting)
        t = random.randint(0, v.shape[0] - (self.frames - 1) * step - 1)
        _, _, h, w = v.shape
        top, left = random.randint(0, h - self.crop), random.randint(0, w - self.crop)
        clip = v[t:t + (self.frames - 1) * step + 1:step, :, top:top + self.crop, left:left + self.crop]
        if random.random() < 0.5:
            clip = clip.flip(-1)
        return clip.float().div_(255.0)


class VideoFolderData(L.LightningDataModule):
    """Random clips from every video under ``root`` (or the listed ``files``)."""

    def __init__(self, *, root: str = "../shared/data/video", files: list[str] | None = None, frames: int = 5,
                 crop: int = 128, batch_size: int = 4, epoch_size: int = 4000, num_workers: int = 0,
                 max_side: int = 480, strides: tuple[int, ...] = (1,)) -> None:
        super().__init__()
        self.root, self.files, self.frames, self.crop = root, files, frames, crop
        self.batch_size, self.epoch_size, self.num_workers = batch_size, epoch_size, num_workers
        self.max_side, self.strides = max_side, tuple(strides)
        self.dataset: Dataset | None = None

    def video_paths(self) -> list[Path]:
        """The listed ``files`` under ``root`` (paths may climb out of it), or every video under it."""
        if self.files:
            return [Path(self.root) / f for f in self.files]
        return list_videos(self.root)

    def video_clips(self) -> VideoClips:
        return VideoClips(self.video_paths(), frames=self.frames, crop=self.crop, length=self.epoch_size,
                          max_side=self.max_side, strides=self.strides)

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is None:
            self.dataset = self.video_clips()

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size, num_workers=self.num_workers, drop_last=True,
                          persistent_workers=self.num_workers > 0)


class MixedClips(Dataset):
    """Each clip from one of ``sources``, drawn with probability proportional to its ``weights``."""

    def __init__(self, sources: Sequence[Dataset], weights: Sequence[float], *, length: int) -> None:
        if len(sources) != len(weights) or not sources or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"need one non-negative weight per source, not all zero; got {list(weights)}")
        self.sources, self.weights, self.length = list(sources), list(weights), length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        source = random.choices(self.sources, weights=self.weights)[0]
        return source[random.randrange(len(source))]


class MixedClipData(VideoFolderData):
    """Real video clips (:class:`VideoFolderData`) mixed with synthetic motion from ``image_root`` and,
    optionally, every video under ``extra_root`` (DESIGN.md §6): a codec trained on synthetic motion alone
    did not carry to real video, and four real clips are few scenes.

    ``synthetic_fraction`` and ``extra_fraction`` are the shares of clips drawn from those two; the
    listed real clips get the rest. Files under ``extra_root`` are drawn uniformly, so a folder of many
    short clips (``python -m train fetch-video``: 78 generated clips) does not crowd out the long real ones.
    """

    def __init__(self, *, image_root: str = "../shared/data/train_images", synthetic_fraction: float = 0.25,
                 extra_root: str | None = None, extra_fraction: float = 0.0, limit_images: int | None = None,
                 **video: Any) -> None:
        super().__init__(**video)
        if not (0 <= synthetic_fraction and 0 <= extra_fraction and synthetic_fraction + extra_fraction <= 1):
            raise ValueError(f"synthetic_fraction ({synthetic_fraction}) and extra_fraction ({extra_fraction}) "
                             "must be shares that sum to at most 1")
        if extra_fraction > 0 and extra_root is None:
            raise ValueError("extra_fraction > 0 needs an extra_root")
        self.image_root, self.synthetic_fraction, self.limit_images = image_root, synthetic_fraction, limit_images
        self.extra_root, self.extra_fraction = extra_root, extra_fraction

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is None:
            from train.synthetic import CLIP_MARGIN

            files = list_images(self.image_root)[: self.limit_images]
            images = RandomCrops(files, crop=self.crop + 2 * CLIP_MARGIN, length=1).images
            synthetic = SyntheticClips(images, frames=self.frames, crop=self.crop, length=self.epoch_size)
            sources: list[Dataset] = [self.video_clips(), synthetic]
            weights = [1 - self.synthetic_fraction - self.extra_fraction, self.synthetic_fraction]
            if self.extra_fraction > 0:
                extra = list_videos(self.extra_root)
                if not extra:
                    raise FileNotFoundError(f"no videos under extra_root {self.extra_root} "
                                            "(python -m train fetch-video fetches the generated clips)")
                sources.append(VideoClips(extra, frames=self.frames, crop=self.crop, length=self.epoch_size,
                                          max_side=self.max_side, strides=self.strides))
                weights.append(self.extra_fraction)
            self.dataset = MixedClips(sources, weights, length=self.epoch_size)
