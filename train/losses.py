"""Loss terms shared by the training stages."""

from __future__ import annotations

from torch import Tensor

from lvc.models.layers import interp_levels


def rate_bpp(likelihoods: Tensor, num_pixels: int) -> Tensor:
    """Bits per pixel of each sample: -Σ log2 p / pixels, shape (B,)."""
    return -likelihoods.log2().flatten(1).sum(dim=1) / num_pixels


def lambda_at(log_lambdas: Tensor, q: Tensor) -> Tensor:
    """λ at qualities ``q`` (B,) from the anchors' log-λ: interpolated log-linearly, exactly as the gains
    are. (The encoder's λ, :func:`lvc.codec.modes.rd_lambda`, is the same ladder in float64 numpy;
    tests/test_gop.py holds the two together.)"""
    return interp_levels(log_lambdas, q).exp()
