"""Loss terms shared by the training stages."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lvc.models.layers import interp_levels


def rate_bpp(likelihoods: Tensor, num_pixels: int) -> Tensor:
    """Bits per pixel of each sample: -Σ log2 p / pixels, shape (B,)."""
    return -likelihoods.log2().flatten(1).sum(dim=1) / num_pixels


def lambda_at(log_lambdas: Tensor, q: Tensor) -> Tensor:
    """λ at qualities ``q`` (B,) from the anchors' log-λ: interpolated log-linearly, exactly as the gains
    are. (The encoder's λ, :func:`lvc.codec.modes.rd_lambda`, is the same ladder in float64 numpy;
    tests/test_gop.py holds the two together.)"""
    return interp_levels(log_lambdas, q).exp()


class RoundedZFit:
    """Fits the factorized priors' densities to the *rounded* z that the coder codes.

    The rate term evaluates each prior at z + U(-1/2, 1/2). Where z crowds the centre (the motion
    codec's z: 93–97 % of its coded symbols are 0, but the noisy proxy teaches p(0) = 0.78), the tables
    cost bits on every frame. This adds -log2 p(round(z)) with z detached, so its gradient reaches the
    densities only; the transforms still learn from the noisy proxy. A forward hook collects it, since
    the codec's forward does not hand z out.
    """

    def __init__(self, priors: list[nn.Module]) -> None:
        self._liks: list[Tensor] = []
        self._handles = [p.register_forward_hook(self._collect) for p in priors]

    def _collect(self, prior: nn.Module, args: tuple[Tensor, ...], output: object) -> None:
        if prior.training:  # frozen parts (the intra codec) run in eval mode and are not fitted
            self._liks.append(prior.likelihood(torch.round(args[0].detach())))

    def pop_bpp(self, num_pixels: int) -> Tensor | None:
        """Bits per pixel (B,) of the rounded z collected since the last call, or None if none ran."""
        liks, self._liks = self._liks, []
        return sum(rate_bpp(lik, num_pixels) for lik in liks) if liks else None
