"""I-frames: a uint8 RGB frame <-> entropy-coded streams, through the image codec, tile by tile.

Frames larger than ``tile`` pixels on a side are split into a grid of near-equal tiles, each
coded independently, so memory is bounded by the tile size and not by the image. The grid is a
pure function of (height, width, tile), so the decoder rebuilds it from the sequence header.
"""

from __future__ import annotations

import numpy as np
import torch

from lvc.codec.frame_coder import CodedFrame, DecodedPicture
from lvc.codec.tensors import codec_threads, to_tensor, to_uint8
from lvc.errors import CorruptStreamError
from lvc.models.image_codec import ImageCodec

DEFAULT_TILE = 2048


def tile_grid(height: int, width: int, tile: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of each tile, row-major. ``tile=0`` means one tile."""
    if tile <= 0:
        return [(0, height, 0, width)]
    rows, cols = -(-height // tile), -(-width // tile)
    ys = [height * i // rows for i in range(rows + 1)]
    xs = [width * j // cols for j in range(cols + 1)]
    return [(ys[i], ys[i + 1], xs[j], xs[j + 1]) for i in range(rows) for j in range(cols)]


class IntraCoder:
    """Codes whole frames with an :class:`ImageCodec` (a :class:`~lvc.codec.frame_coder.FrameCoder`)."""

    def __init__(self, codec: ImageCodec, *, tile: int = DEFAULT_TILE, device: torch.device | str = "cpu") -> None:
        self.codec = codec
        self.tile = tile
        self.device = torch.device(device)
        self.streams_per_tile = codec.stream_count

    @torch.inference_mode()
    def compress(self, rgb: np.ndarray, quality: float) -> CodedFrame:
        """Streams (tile-major) and the decoder-exact reconstruction of ``rgb`` (H, W, 3) uint8."""
        h, w, _ = rgb.shape
        recon = np.empty_like(rgb)
        streams: list[bytes] = []
        with codec_threads(self.codec.exact):
            for top, bottom, left, right in tile_grid(h, w, self.tile):
                c = self.codec.compress(to_tensor(rgb[top:bottom, left:right], self.device), quality)
                streams += c.streams
                recon[top:bottom, left:right] = to_uint8(c.x_hat)
        return CodedFrame(streams, recon)

    def stream_parts(self, streams: list[bytes], total: int) -> dict[str, int]:
        """Bytes of the hyper-latent (z) and latent (y) streams; the rest of ``total`` is headers."""
        k = self.streams_per_tile
        hyper = sum(len(s) for i, s in enumerate(streams) if i % k == 0)
        latent = sum(len(s) for i, s in enumerate(streams) if i % k != 0)
        return {"header": total - hyper - latent, "hyper": hyper, "latent": latent}

    @torch.inference_mode()
    def decompress(self, streams: list[bytes], quality: float, *, height: int, width: int) -> DecodedPicture:
        """The frame (H, W, 3) uint8 from its streams (the size comes from the sequence header)."""
        grid = tile_grid(height, width, self.tile)
        if len(streams) != len(grid) * self.streams_per_tile:
            raise CorruptStreamError(f"frame has {len(streams)} streams, expected {len(grid) * self.streams_per_tile}")
        out = np.empty((height, width, 3), dtype=np.uint8)
        k = self.streams_per_tile
        with codec_threads(self.codec.exact):
            for i, (top, bottom, left, right) in enumerate(grid):
                x_hat = self.codec.decompress(streams[i * k:(i + 1) * k], (bottom - top, right - left), quality,
                                              device=self.device)
                out[top:bottom, left:right] = to_uint8(x_hat)
        return DecodedPicture(out)
