"""Frames <-> tensors, and the thread count every codec computation runs on.

Shared by the I- and P-frame coders and the motion search: the encoder and the decoder must turn
frames into tensors, and tensors back into frames, in exactly the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

# oneDNN partitions large convolutions by thread count, and the partitioning changes the float
# rounding: an encoder on 2 threads and a decoder on 1 disagree in the last bit, and the frame CRC
# fails. A float model's codec computations therefore run on this many intra-op threads, whatever the
# caller set. An exact model (lvc.models.exact) sums integers, the same in any order: it uses them all.
CODEC_THREADS = 2


@contextmanager
def codec_threads(exact: bool = False) -> Iterator[None]:
    """Run the block on :data:`CODEC_THREADS` intra-op threads, then restore the caller's setting; an
    ``exact`` model keeps the caller's (tests/test_exact.py decodes on 1 and 3 threads)."""
    if exact:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(CODEC_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def to_tensor(rgb: np.ndarray, device: torch.device | str) -> Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1)[None].float().div_(255.0)


def to_uint8(x: Tensor) -> np.ndarray:
    """(1, 3, H, W) float -> (H, W, 3) uint8, the one rounding that encoder and decoder share."""
    return x[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
