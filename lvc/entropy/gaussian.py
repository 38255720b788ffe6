"""Gaussian conditional ``p(y | mean, scale)`` with scales snapped to a shared table.

The coder only ever sees integer symbols and table indices. The tables are integer counts built
by ``update()`` and stored with the weights, so two machines whose ``erf`` differs in the last bit
still agree on every byte.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from lvc.entropy import coder
from lvc.entropy.quantize import Mode, dequantize, quantize
from lvc.entropy.tables import TableHolder

_LIK_BOUND = 1e-9


def _std_normal_cdf(x: Tensor) -> Tensor:
    return 0.5 * torch.erfc(-x * (2 ** -0.5))


class GaussianConditional(TableHolder):
    """Mean-scale Gaussian entropy model over a log-spaced scale table."""

    def __init__(self, *, scale_min: float = 0.11, scale_max: float = 256.0, levels: int = 64,
                 tail_sigmas: float = 6.5) -> None:
        super().__init__()
        table = torch.exp(torch.linspace(math.log(scale_min), math.log(scale_max), levels, dtype=torch.float64))
        self.register_buffer("scale_table", table.float())
        self.tail_sigmas = tail_sigmas
        self._init_tables(levels)

    @property
    def scale_min(self) -> float:
        return float(self.scale_table[0])

    def likelihood(self, y: Tensor, means: Tensor, scales: Tensor) -> Tensor:
        """p(y) of the unit bin around ``y`` (the symmetric form keeps precision in the tails)."""
        scales = scales.clamp_min(self.scale_min)
        v = torch.abs(y - means)
        upper = _std_normal_cdf((0.5 - v) / scales)
        lower = _std_normal_cdf((-0.5 - v) / scales)
        return (upper - lower).clamp_min(_LIK_BOUND)

    def forward(self, y: Tensor, means: Tensor, scales: Tensor, *, decoder_mode: Mode = "ste") -> tuple[Tensor, Tensor]:
        """``(y_hat, likelihoods)``. In training the rate sees noise and the decoder sees ``decoder_mode``."""
        if self.training:
            lik = self.likelihood(quantize(y, "noise"), means, scales)
            return quantize(y, decoder_mode, means), lik
        y_hat = quantize(y, "dequantize", means)
        return y_hat, self.likelihood(y_hat, means, scales)

    def indexes(self, scales: Tensor) -> np.ndarray:
        """Table index of each scale: the smallest table scale >= it (computed in float64)."""
        s = scales.detach().double().cpu().clamp(self.scale_min, float(self.scale_table[-1]))
        idx = torch.searchsorted(self.scale_table.double().cpu(), s.contiguous(), right=False)
        return idx.clamp_max(len(self.scale_table) - 1).numpy()

    @torch.no_grad()
    def update(self) -> None:
        """Build one integer table per scale level."""
        tables, offsets = [], []
        for s in self.scale_table.double().tolist():
            r = int(math.ceil(self.tail_sigmas * s)) + 1
            k = torch.arange(-r, r + 1, dtype=torch.float64)
            pmf = (_std_normal_cdf((k + 0.5) / s) - _std_normal_cdf((k - 0.5) / s)).numpy()
            tail = 2.0 * float(_std_normal_cdf(torch.tensor(-(r + 0.5) / s, dtype=torch.float64)))
            tables.append(coder.pmf_to_counts(pmf, tail))
            offsets.append(-r)
        self._set_tables(tables, offsets)



    def compress(self, y: Tensor, means: Tensor, scales: Tensor) -> tuple[bytes, Tensor]:
        """``(bytes, y_hat)``; ``y_hat`` is exactly what :meth:`decompress` returns."""
        symbols = quantize(y, "symbols", means)
        data = coder.encode(symbols.cpu().numpy(), self.indexes(scales), self.tables)
        return data, dequantize(symbols, means)

    def decompress(self, data: bytes, means: Tensor, scales: Tensor) -> Tensor:
        """y_hat from ``data``, given the same ``means`` and ``scales`` the encoder used."""
        symbols = coder.decode(data, self.indexes(scales), self.tables)
        symbols_t = torch.from_numpy(symbols.reshape(means.shape).astype(np.int32)).to(means.device)
        return dequantize(symbols_t, means)
