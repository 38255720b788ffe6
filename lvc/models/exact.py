"""Exact arithmetic for what the decoded pixels and the entropy parameters depend on (DESIGN.md §4).

A float convolution's result depends on the order of its sums and on FMA contraction, so SSE,
AVX2, AVX-512, NEON and CUDA kernels, and different thread counts, round it differently; a decoder
that rounds differently from its encoder drifts, or mis-decodes the entropy-coded symbols.

Here a convolution runs on integers held in float32 ("integers computed in float"):

- its input is rounded to one grid for the layer and clamped to ``±qa`` (integers);
- its weights are integers, each output channel on its own grid (the finest that fits the bound);
- ``qa`` and the grids are chosen so that ``qa · Σ|w_int| < 2^24`` for every output: every partial
  sum, in any order and with or without FMA, is then an integer that float32 holds exactly, so
  every kernel (direct or GEMM; never Winograd or FFT) gives the same result;
- the scales and the bias are applied after the sum by elementwise IEEE operations, which are
  correctly rounded on every ISA (separate torch calls are never contracted into an FMA).

The fast float kernels still run. The grids come from calibration (``train calibrate``): each
layer's largest input magnitude over real content, stored with the weights, so that every machine
derives the same integers from the same file. What remains are transcendental functions:
:func:`lvc.models.exact_math.exact_exp` builds e^x from +, −, × and an exponent set by bits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvc.models.layers import SubpixelConvTranspose2d, subpixel_weight

EXACT_LIMIT = 2 ** 24  # float32 holds every integer below this exactly
WEIGHT_BITS = tuple(range(6, 17))  # the weight grids an output channel may take (bits, sign included)
INPUT_EXTRA_BITS = 2  # inputs want about 2 bits more than weights (Kodak PTQ study, issue 11)


class ExactConv(nn.Module):
    """A trained ``Conv2d`` / ``ConvTranspose2d`` computed on integers, exactly (see the module doc).

    ``act_max`` (C_in,) is the largest input magnitude per channel the layer is calibrated for; the
    grid is one for the whole input (its largest), and larger inputs are clamped. (Per-channel grids
    folded into the weights coarsen the weights of the small channels: the IDCT alone lost 19 dB.)
    The integer weights and grids are derived here, deterministically, from the float weights and
    ``act_max``, so they are the same on every machine that loads the same file.
    """

    def __init__(self, conv: nn.Conv2d | nn.ConvTranspose2d, act_max: Tensor, *,
                 weight_bits: Sequence[int] = WEIGHT_BITS) -> None:
        super().__init__()
        if conv.groups != 1 or conv.dilation != (1, 1):
            raise ValueError("exact convolutions support groups=1 and dilation=1 only")
        weight = conv.weight.detach().float()
        bias = conv.bias.detach().float() if conv.bias is not None else None
        self.transposed = isinstance(conv, nn.ConvTranspose2d) and not isinstance(conv, SubpixelConvTranspose2d)
        self.shuffle = isinstance(conv, SubpixelConvTranspose2d)
        self.stride, self.padding = conv.stride, conv.padding
        self.output_padding = conv.output_padding if self.transposed else (0, 0)
        if self.shuffle:  # the same arithmetic as its forward: a stride-1 convolution, then pixel_shuffle(2)
            weight = subpixel_weight(weight, conv.padding[0])
            self.stride, self.padding = (1, 1), ((weight.shape[-1] - 1) // 2,) * 2
            bias = None if bias is None else bias.repeat_interleave(4)
        cout_dim = 1 if self.transposed else 0
        a = act_max.detach().float().amax().clamp_min(1e-6)
        v = weight * a
        others = [d for d in range(4) if d != cout_dim]
        peak = v.abs().amax(dim=others, keepdim=True).clamp_min(1e-30)
        grids = [(bits, peak / (2 ** (bits - 1) - 1)) for bits in weight_bits]
        ints = [torch.round(v / w_scale) for _, w_scale in grids]
        sums = torch.stack([self._row_sums(w.abs()) for w in ints])  # (len(weight_bits), C_out)
        best: tuple[tuple[int, float], int, Tensor] | None = None
        # Candidate input ranges: the largest that keeps the sums of every output channel below 2^24 at
        # each weight grid. At that range each output channel takes the finest weight grid that fits.
        for qa in sorted({(EXACT_LIMIT - 1) // max(1, int(row.max())) for row in sums}):
            if qa < 1:
                continue
            fits = sums * qa < EXACT_LIMIT
            choice = torch.where(fits, torch.arange(len(grids))[:, None], -1).amax(dim=0)  # (C_out,)
            coarsest = weight_bits[int(choice.min())]
            score = (min(2 ** (coarsest + INPUT_EXTRA_BITS), 2 * qa + 1), float(choice.float().mean()))
            if best is None or score > best[0]:  # levels in integers (no libm in the choice), then finer rows
                best = (score, qa, choice)
        if best is None:
            raise ValueError("a layer's integer weights sum past 2^24: it cannot be computed exactly")
        _, qa, choice = best
        pick = choice.reshape([-1 if d == cout_dim else 1 for d in range(4)])[None]
        w_int = torch.stack(ints).gather(0, pick.expand(1, *v.shape))[0]
        w_scale = torch.stack([g for _, g in grids]).gather(0, pick)[0]
        self.qa = float(qa)
        channels_last = conv.weight.is_contiguous(memory_format=torch.channels_last) and not self.transposed
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.register_buffer("weight_int", w_int.contiguous(memory_format=fmt), persistent=False)
        self.register_buffer("in_inv", (qa / a).reshape(1, 1, 1, 1), persistent=False)
        # The grids themselves, for quantisation-aware training (train.qat): w_int = round(w · in_range / w_scale).
        self.register_buffer("in_range", a, persistent=False)
        self.register_buffer("w_scale", w_scale, persistent=False)
        self.register_buffer("out_scale", (w_scale / qa).reshape(1, -1, 1, 1), persistent=False)
        self.register_buffer("bias", None if bias is None else bias.reshape(1, -1, 1, 1), persistent=False)

    def integer_conv(self, x: Tensor, weight: Tensor, exact_sums: bool = True) -> Tensor:
        """The convolution alone (no scales, no bias), on integer-valued ``x`` and ``weight``;
        ``exact_sums=False`` lets cuDNN choose its kernels (training, where a sum may round)."""
        # cuDNN may pick Winograd, FFT or TF32 kernels, which do not sum integers exactly; PyTorch's own
        # GEMM path does (not yet run on a GPU here).
        with torch.backends.cudnn.flags(enabled=False) if x.is_cuda and exact_sums else nullcontext():
            if self.transposed:
                return F.conv_transpose2d(x, weight, None, self.stride, self.padding, self.output_padding)
            return F.conv2d(x, weight, None, self.stride, self.padding)

    def _row_sums(self, w_abs: Tensor) -> Tensor:
        """Per output channel, the largest Σ|w_int| over the taps that reach one output (interior outputs
        reach them all; a transposed convolution's outputs fall in stride² phases, each reached by its
        own taps). Integer sums in float64: exact in any order."""
        w = w_abs.double()
        if not self.transposed:
            return w.sum(dim=(1, 2, 3))
        sy, sx = self.stride
        return torch.stack([w[:, :, a::sy, b::sx].sum(dim=(0, 2, 3)) for a in range(sy) for b in range(sx)]).amax(0)

    def _largest_sum(self, w_abs: Tensor) -> float:
        """The largest Σ|w_int| that reaches one output, over all outputs."""
        return float(self._row_sums(w_abs).max())

    def forward(self, x: Tensor) -> Tensor:
        u = x.float() * self.in_inv
        if u.requires_grad:  # an encoder-side fit: the gradient passes straight through, the value stays
            u = torch.round(u).detach() + (u - u.detach())  # the rounded one exactly (u − u.detach() is 0)
            y = self.integer_conv(u.clamp(-self.qa, self.qa), self.weight_int) * self.out_scale
            y = y if self.bias is None else y + self.bias
        else:  # in place: each pass over the activations costs as much as a small convolution
            y = self.integer_conv(u.round_().clamp_(-self.qa, self.qa), self.weight_int).mul_(self.out_scale)
            y = y if self.bias is None else y.add_(self.bias)
        return F.pixel_shuffle(y, 2) if self.shuffle else y


def decoder_convs(model: nn.Module) -> list[str]:
    """Qualified names of the convolutions in ``model.decoder_parts()``: the layers whose results the
    decoded pixels and the entropy parameters depend on."""
    names = {id(m): n for n, m in model.named_modules()}
    out: list[str] = []
    for part in model.decoder_parts():
        for m in part.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and names[id(m)] not in out:
                out.append(names[id(m)])
    return out


def exactify(model: nn.Module, act_max: dict[str, Tensor]) -> nn.Module:
    """Make ``model`` decode exactly, in place: its decoder-side convolutions become :class:`ExactConv`
    with the calibrated ``act_max``, and every part with an ``exact`` flag switches to exact helpers."""
    missing = set(decoder_convs(model)) - set(act_max)
    if missing:
        raise ValueError(f"no calibration for {len(missing)} decoder-side layers (first: {sorted(missing)[0]})")
    for name, amax in act_max.items():
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, attr, ExactConv(getattr(parent, attr), amax))
    for m in model.modules():
        if hasattr(m, "exact"):
            m.exact = True
    return model


@contextmanager
def record_act_max(model: nn.Module) -> Iterator[dict[str, Tensor]]:
    """Record, while the block runs, each decoder-side convolution's largest input magnitude per channel."""
    stats: dict[str, Tensor] = {}
    hooks = []
    for name in decoder_convs(model):
        def hook(_: nn.Module, inputs: tuple[Tensor, ...], name: str = name) -> None:
            m = inputs[0].detach().abs().float().amax(dim=(0, 2, 3)).cpu()
            stats[name] = m if name not in stats else torch.maximum(stats[name], m)
        hooks.append(model.get_submodule(name).register_forward_pre_hook(hook))
    try:
        yield stats
    finally:
        for h in hooks:
            h.remove()
