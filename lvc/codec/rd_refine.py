"""Encoder-side flow search on the P-frame's own rate–distortion cost (the slow presets).

:class:`~lvc.codec.refine.FlowRefiner` fits the flow to the warp error; this goes further and fits
it to what the P-frame will cost through the whole inter codec (motion bits, residual bits and
the reconstruction's error), the objective the codec was trained on. Each iteration costs a
training step of the codec, so it is for the ``slow`` and ``veryslow`` presets (``lvc.codec.presets``).
Like the warp fit it runs only in the encoder: the bitstream and the decoder do not change.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from lvc.codec.refine import coarse_copy, dense, fitting
from lvc.models.inter import InterCodec


class RdFlowRefiner:
    """``(current, reference, q, λ, flow) -> flow`` minimising the P-frame's training loss through ``codec``.

    The loss is ``bpp + λ·255²·MSE`` of the whole P-frame (motion and residual rates, decoded-frame
    error), computed by the codec's training proxy: uniform noise stands in for quantisation in the
    rate, rounding with a straight-through gradient in the reconstruction. The noise is drawn from
    a fixed seed on a forked generator, so an encode is reproducible and the caller's random stream
    is untouched. Only the coarse flow is fitted; the codec's weights get no gradient.

    The training proxy is that of the refiner's own copy of the codec, made once and put in
    training mode here: the codec the encoder codes with is never switched between modes (its
    entropy models' behaviour comes from their own ``training`` flag, DESIGN.md §3-4).

    Measured (10 iterations, lr 0.1, on top of :class:`FlowRefiner`): P-frames 10.9 % (foreman) and
    12.3 % (basketballpass) smaller in BD-rate, at about 16 times the P-frame's encode time; whole
    streams at GOP 12 (``bench/presets.py``): −6.6 % with 5 iterations, −8.1 % with 10.
    """

    def __init__(self, codec: InterCodec, *, iters: int = 10, scale: int = 4, lr: float = 0.1, seed: int = 0) -> None:
        self.proxy = _training_proxy(codec)
        self.iters = iters
        self.scale = scale
        self.lr = lr
        self.seed = seed

    def __call__(self, current: Tensor, reference: Tensor, q: float, lam: float,
                 flow: Tensor, flow_prev: Tensor | None = None) -> Tensor:
        if self.iters <= 0:
            return flow
        size = tuple(flow.shape[-2:])
        pixels = size[0] * size[1]
        forked = [flow.device] if flow.device.type == "cuda" else []
        with fitting(flow.device), torch.random.fork_rng(devices=forked):
            torch.manual_seed(self.seed)
            cur, ref = current.float().clone(), reference.float().clone()
            coarse = coarse_copy(flow, self.scale)
            opt = torch.optim.Adam([coarse], lr=self.lr)
            for _ in range(self.iters):
                out = self.proxy(cur, ref, q, flow=dense(coarse, size), flow_prev=flow_prev)
                bits = sum(-torch.log2(lik).sum() for lik in out.likelihoods.values())
                loss = bits / pixels + lam * 255.0**2 * (out.x_hat - cur).pow(2).mean()
                (coarse.grad,) = torch.autograd.grad(loss, [coarse])
                opt.step()
            with torch.no_grad():
                return dense(coarse, size).to(flow.dtype)


def _training_proxy(codec: InterCodec) -> InterCodec:
    """A copy of ``codec``'s coding parts whose entropy models behave as in training (noisy rate,
    straight-through rounding); frozen, and without the encoder-side RAFT, which it never runs. Made
    outside inference mode, whoever calls: the fit builds an autograd graph through it."""
    with torch.inference_mode(False):
        proxy = InterCodec(motion=copy.deepcopy(codec.motion).train(),
                           compensation=copy.deepcopy(codec.compensation),
                           residual=copy.deepcopy(codec.residual).train(), flow_norm=codec.flow_norm,
                           temporal_motion=codec.temporal_motion)
    return proxy.requires_grad_(False)
