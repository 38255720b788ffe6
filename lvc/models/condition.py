"""Conditional residual coding: the residual codec sees the motion-compensated prediction.

A plain residual codec codes ``x − pred`` blind: it cannot know that the residual is large on the
prediction's edges and textures and near zero on its flat areas, so its entropy model spends the
same bits everywhere. Both sides have ``pred`` (the decoder builds it from decoded data before it
decodes the residual), so it may steer all three parts of the residual codec (Brand, Seiler & Kaup,
"Conditional residual coding"; MaskCRT) while the codec stays a residual autoencoder:

    c     = trunk(unshuffle₈(pred − ½))        stride 8, like y
    y     = g_a(r) + enc(c)                    the encoder
    hyper = h_s(ẑ) + prior(c)                  the entropy model's features (means and scales)
    r̂     = g_s(ŷ + syn(c), q)                 the decoder

The three heads are zero-initialised, so a codec that gains a conditioner starts as exactly the
residual codec it was, and training only adds what the prediction can tell it. Decoder-side, so
ReLU-family activations only.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn


@dataclass
class Condition:
    """The conditioner's three contributions for one prediction."""

    enc: Tensor  # added to g_a's output (encoder only)
    prior: Tensor  # added to h_s's output
    syn: Tensor  # added to ŷ before g_s


def _zero_conv(cin: int, cout: int) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, 1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class PredictionConditioner(nn.Module):
    """Features of the prediction (B, 3, H, W), H and W multiples of ``block``, for a residual codec
    with ``latent`` channels in y and ``hyper`` channels in h_s's output."""

    def __init__(self, *, latent: int, hyper: int, hidden: int = 64, block: int = 8) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            nn.PixelUnshuffle(block), nn.Conv2d(3 * block * block, hidden, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(hidden, hidden, 3, padding=1), nn.LeakyReLU(0.1))
        self.enc = _zero_conv(hidden, latent)
        self.prior = _zero_conv(hidden, hyper)
        self.syn = _zero_conv(hidden, latent)

    def forward(self, pred: Tensor) -> Condition:
        c = self.trunk(pred - 0.5)
        return Condition(enc=self.enc(c), prior=self.prior(c), syn=self.syn(c))
