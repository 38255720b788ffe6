"""Factorized prior for the hyper-latent ``z`` (Ballé et al. 2018, appendix 6.1).

Each channel has its own learned univariate density, a monotone cumulative built from small
matrices. ``update()`` turns it into integer tables for the coder; those tables are buffers, so
they travel with the weights and the decoder never recomputes them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvc.entropy import coder
from lvc.entropy.quantize import dequantize, quantize
from lvc.entropy.tables import TableHolder

_TAIL = 1e-9


class FactorizedPrior(TableHolder):
    """Per-channel non-parametric density ``p(z_c)``, convolved with U(-1/2, 1/2)."""

    def __init__(self, *, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0,
                 max_range: int = 512) -> None:
        super().__init__()
        self.channels = channels
        self.max_range = max_range
        dims = (1, *filters, 1)
        scale = init_scale ** (1.0 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = float(np.log(np.expm1(1.0 / scale / dims[i + 1])))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.empty(channels, dims[i + 1], 1).uniform_(-0.5, 0.5)))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))
        self._init_tables(channels)

    def _logits_cumulative(self, x: Tensor) -> Tensor:
        """x: (C, 1, N) -> (C, 1, N) logits of the cumulative."""
        for i, (m, b) in enumerate(zip(self.matrices, self.biases)):
            x = torch.matmul(F.softplus(m), x) + b
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i]) * torch.tanh(x)
        return x

    def likelihood(self, z: Tensor) -> Tensor:
        """p(z) of (B, C, H, W) values under the density convolved with the unit box."""
        b, c, h, w = z.shape
        v = z.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self._logits_cumulative(v - 0.5)
        upper = self._logits_cumulative(v + 0.5)
        sign = -torch.sign(lower + upper).detach()  # evaluate in the tail that keeps precision
        lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        return lik.reshape(c, b, h, w).permute(1, 0, 2, 3).clamp_min(_TAIL)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Training proxy: ``(z_hat, likelihoods)``; z_hat rounds (STE) in training, noise gives the rate."""
        if self.training:
            lik = self.likelihood(quantize(z, "noise"))
            return quantize(z, "ste"), lik
        z_hat = quantize(z, "dequantize")
        return z_hat, self.likelihood(z_hat)

    @torch.no_grad()
    def update(self) -> None:
        """Build the integer tables from the learned density (call once before export)."""
        grid = torch.arange(-self.max_range, self.max_range + 1, dtype=torch.float32, device=self._counts.device)
        v = grid.expand(self.channels, 1, -1)
        lower = torch.sigmoid(self._logits_cumulative(v - 0.5))
        upper = torch.sigmoid(self._logits_cumulative(v + 0.5))
        pmf = (upper - lower).squeeze(1).double().cpu().numpy()
        cdf_lo = lower.squeeze(1).double().cpu().numpy()
        cdf_hi = upper.squeeze(1).double().cpu().numpy()
        tables, offsets = [], []
        for c in range(self.channels):
            keep = np.nonzero((cdf_hi[c] > _TAIL) & (cdf_lo[c] < 1 - _TAIL))[0]
            lo, hi = (int(keep[0]), int(keep[-1])) if len(keep) else (self.max_range, self.max_range)
            tail = cdf_lo[c, lo] + (1.0 - cdf_hi[c, hi])
            tables.append(coder.pmf_to_counts(pmf[c, lo:hi + 1], tail))
            offsets.append(lo - self.max_range)
        self._set_tables(tables, offsets)



    def _channel_indexes(self, shape: torch.Size) -> np.ndarray:
        b, c, h, w = shape
        return np.broadcast_to(np.arange(c).reshape(1, c, 1, 1), (b, c, h, w))

    def compress(self, z: Tensor) -> tuple[bytes, Tensor]:
        """``(bytes, z_hat)`` for z of shape (B, C, H, W)."""
        symbols = quantize(z, "symbols")
        data = coder.encode(symbols.cpu().numpy(), self._channel_indexes(z.shape), self.tables)
        return data, dequantize(symbols)

    def decompress(self, data: bytes, shape: tuple[int, int, int, int]) -> Tensor:
        """z_hat of ``shape`` from ``data``."""
        symbols = coder.decode(data, self._channel_indexes(torch.Size(shape)), self.tables)
        return torch.from_numpy(symbols.reshape(shape).astype(np.float32))
