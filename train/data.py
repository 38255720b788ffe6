"""Data for the intra codec: random crops and flips from a folder of images."""

from __future__ import annotations

import random
from pathlib import Path

import lightning as L
import numpy as np
import torch
from PIL import Image
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
