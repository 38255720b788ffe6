"""Still images in memory: an image is a one-frame video, written as a bare elementary stream (no MP4
boxes, which would be 15-20 % of a Kodak image at 0.1 bpp)."""

from __future__ import annotations

import numpy as np
import torch

from lvc.codec.decoder import VideoDecoder
from lvc.codec.encoder import build_encoder
from lvc.errors import CorruptStreamError
from lvc.format import bitstream as bs
from lvc.models.zoo import DEFAULT_IMAGE_MODEL, LoadedModel, find_by_hash, load_image_model


def load_codec(model_id: str | None = None) -> LoadedModel:
    """Load an image model once, for many ``encode_image`` / ``decode_image`` calls."""
    return load_image_model(model_id or DEFAULT_IMAGE_MODEL)


def encode_image_with_recon(rgb: np.ndarray, quality: float, model: LoadedModel | None = None,
                            device: torch.device | str = "cpu") -> tuple[bytes, np.ndarray]:
    """Complete ``.lvc`` bytes for ``rgb`` (H, W, 3) uint8, and the decoder-exact reconstruction."""
    model = model or load_codec()
    h, w = rgb.shape[:2]
    frame = build_encoder(model, width=w, height=h, quality=quality, device=device).encode(rgb)
    return bs.file_header() + frame.data + bs.pack_end(1), frame.recon


def encode_image(rgb: np.ndarray, quality: float, model: LoadedModel | None = None,
                 device: torch.device | str = "cpu") -> bytes:
    """Complete ``.lvc`` bytes for ``rgb`` (H, W, 3) uint8."""
    return encode_image_with_recon(rgb, quality, model, device)[0]


def decode_image(data: bytes, model: LoadedModel | None = None, device: torch.device | str = "cpu") -> np.ndarray:
    """The image (H, W, 3) uint8 of a one-frame stream (``model``: an already loaded model to reuse)."""
    return decode_image_parts(data, model, device)[0]


def decode_image_parts(data: bytes, model: LoadedModel | None = None,
                       device: torch.device | str = "cpu") -> tuple[np.ndarray, dict[str, int]]:
    """:func:`decode_image`, and the frame's bytes by what they code (``header``, ``hyper``: z, ``latent``: y)."""
    dec = VideoDecoder(device=device, load_model=lambda mid, whash: find_by_hash(mid, whash, model),
                       intermediates=True)
    frames = list(dec.decode_units(bs.iter_sized_units(data)))
    if len(frames) != 1:
        raise CorruptStreamError(f"expected one image, the stream holds {len(frames)} frames")
    return frames[0].rgb, dict(frames[0].parts)
