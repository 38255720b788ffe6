"""Loss terms shared by the training stages."""

from __future__ import annotations

from torch import Tensor


def rate_bpp(likelihoods: Tensor, num_pixels: int) -> Tensor:
    """Bits per pixel of each sample: -Σ log2 p / pixels, shape (B,)."""
    return -likelihoods.log2().flatten(1).sum(dim=1) / num_pixels
