"""Elementwise functions that give the same bits on every machine (used by the exact decoder, lvc.models.exact).

Library transcendental functions differ in the last bit between SSE, AVX2 and AVX-512 builds (vectorised
SLEEF or libm); +, −, ×, ÷, rounding and bit operations are correctly rounded IEEE everywhere.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_LN2_HI = 0.693145751953125  # ln 2 split (Cody & Waite) so that k·_LN2_HI is exact in float32 for |k| < 2^9
_LN2_LO = 1.428606765330187045e-06
_INV_LN2 = 1.4426950408889634  # a literal, not math.log: a libm may round it differently
_INV_FACTORIALS = [1.0 / math.factorial(n) for n in range(8)]


def exact_exp(x: Tensor) -> Tensor:
    """e^x of a float tensor, as float32, the same on every machine.

    Range reduction ``x = k·ln 2 + r`` (|r| ≤ ½ ln 2), a degree-7 Taylor polynomial of e^r (truncation
    below 1e-8, under float32's precision) evaluated by Horner steps that are each a separate multiply
    and add, and 2^k built from bits. Within a few float32 ulps of e^x (tests/test_exact.py).
    """
    d = x.float().clamp(-87.0, 88.0)
    k = torch.round(d * _INV_LN2)
    r = (d - k * _LN2_HI).sub_(k * _LN2_LO)
    # In place, one correctly rounded operation at a time (never a fused multiply-add): the same bits
    # as fresh tensors for every step, in about half the time (the scales of every latent pass here).
    p = (r * _INV_FACTORIALS[7]).add_(_INV_FACTORIALS[6])
    for c in reversed(_INV_FACTORIALS[:6]):
        p.mul_(r).add_(c)
    two_k = ((k.int() + 127) << 23).view(torch.float32)
    return p.mul_(two_k)


def exp(x: Tensor, exact: bool) -> Tensor:
    """``exact_exp`` where the model decodes exactly, else the library's (float models and training)."""
    return exact_exp(x) if exact else x.exp()
