"""Named quantization modes. Quantization belongs to the entropy model, never to the dataset."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Mode = Literal["noise", "ste", "dequantize", "symbols"]


def quantize(x: Tensor, mode: Mode, means: Tensor | None = None) -> Tensor:
    """Quantize ``x`` around ``means`` (0 where ``None``).

    - ``noise``: additive U(-0.5, 0.5), the differentiable proxy for the rate term;
    - ``ste``: rounding with a straight-through gradient, the decoder's view in training;
    - ``dequantize``: rounding, ``round(x - means) + means``;
    - ``symbols``: the integers that get entropy coded, ``round(x - means)`` as int32.
    """
    if mode == "noise":
        return x + torch.empty_like(x).uniform_(-0.5, 0.5)
    centred = x if means is None else x - means
    if mode == "ste":
        q = centred + (torch.round(centred) - centred).detach()
    elif mode == "dequantize":
        q = torch.round(centred)
    elif mode == "symbols":
        return torch.round(centred).to(torch.int32)
    else:
        raise ValueError(f"unknown quantization mode {mode!r}")
    return q if means is None else q + means


def dequantize(symbols: Tensor, means: Tensor | None = None) -> Tensor:
    """Inverse of ``quantize(..., "symbols")``."""
    x = symbols.to(torch.float32)
    return x if means is None else x + means
