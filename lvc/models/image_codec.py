"""The learned image codec: mean-scale hyperprior with a channel-group context and quality gains.

Minnen, Ballé & Toderici 2018 (mean-scale hyperprior), with the serial autoregressive context
replaced by a parallel channel-group context (Minnen & Singh 2020), optionally refined inside
each group by a checkerboard spatial context (``lvc.models.spatial``), and one model for every rate
through per-quality gains (Cui et al. 2021)::

    x ──g_a──► y ──×gain(q)──► y_s ──Q──► y_hat_s ──÷gain(q)──► y_hat ──g_s(·, q)──► x_hat
                    │                         ▲
                  h_a(y/σ₀)·zgain(q)          │ mean, scale per channel group
                    ▼                         │
                    z ──Q──► z_hat ──h_s──► hyper ──context(hyper, earlier groups)──┘

σ₀ (``log_prior_std``) is a per-channel scale taken from the transform's own statistics at
initialisation, so the untrained entropy model already matches the data.

Inputs are (B, 3, H, W) in [0, 1] of any size: they are padded (edge replication) to a multiple
of ``stride`` and the output is cropped back.

As a P-frame's residual codec it may take a ``conditioner`` (``lvc.models.condition``): then every
method also takes ``cond``, the motion-compensated prediction, which steers g_a, the entropy model
and g_s. Without one, ``cond`` must be None and the codec is the plain image codec.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvc.entropy import FactorizedPrior, GaussianConditional
from lvc.models.condition import Condition, PredictionConditioner
from lvc.models.context import ChannelGroupContext
from lvc.models.exact_math import exp
from lvc.models.layers import QualityGains
from lvc.models.spatial import CheckerboardContext


@dataclass
class CodecOutput:
    """Training proxy output: reconstruction and likelihoods of every coded latent."""

    x_hat: Tensor
    likelihoods: dict[str, Tensor]


@dataclass
class Compressed:
    """Real bytes (``streams``: z first, then one per channel group, or two with a spatial context:
    its anchors, then the rest) and the decoder-exact ``x_hat``."""

    streams: list[bytes]
    x_hat: Tensor


# Codes one channel group, or the half of it where ``mask`` (1, 1, h, w) is True: (y_s slice or None when
# decoding, mean, scale, mask or None) -> (y_hat_s slice, zero off the mask; likelihoods or None).
GroupCoder = Callable[["Tensor | None", Tensor, Tensor, "Tensor | None"], "tuple[Tensor, Tensor | None]"]


class ImageCodec(nn.Module):
    """Learned image codec; parts are injected (see ``lvc.models.builders``)."""

    exact = False  # set by lvc.models.exact.exactify: exp is then exact_exp

    def __init__(self, *, analysis: nn.Module, synthesis: nn.Module, hyper_analysis: nn.Module,
                 hyper_synthesis: nn.Module, context: ChannelGroupContext, hyper_prior: FactorizedPrior,
                 conditional: GaussianConditional, y_gains: QualityGains, z_gains: QualityGains,
                 latent_channels: int, stride: int = 32, conditioner: PredictionConditioner | None = None,
                 spatial: CheckerboardContext | None = None) -> None:
        super().__init__()
        self.g_a = analysis
        self.g_s = synthesis
        self.h_a = hyper_analysis
        self.h_s = hyper_synthesis
        self.context = context
        self.hyper_prior = hyper_prior
        self.conditional = conditional
        self.y_gains = y_gains
        self.z_gains = z_gains
        self.stride = stride
        self.conditioner = conditioner
        self.spatial = spatial
        self.log_prior_std = nn.Parameter(torch.zeros(latent_channels))

    # ------------------------------------------------------------------ shared helpers
    def _pad(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.stride, (-w) % self.stride
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    def _prior_std(self) -> Tensor:
        return exp(self.log_prior_std, self.exact)[None, :, None, None]

    def decoder_parts(self) -> list[nn.Module]:
        """The parts whose arithmetic the decoded image and the entropy parameters depend on."""
        parts: list[nn.Module] = [self.g_s, self.h_s, self.context]
        if self.spatial is not None:
            parts.append(self.spatial)
        if self.conditioner is not None:
            parts += [self.conditioner.trunk, self.conditioner.prior, self.conditioner.syn]
        return parts

    def _condition(self, cond: Tensor | None) -> Condition | None:
        if (cond is None) != (self.conditioner is None):
            raise ValueError("a prediction is given exactly when the codec has a conditioner")
        return None if cond is None else self.conditioner(self._pad(cond))

    @staticmethod
    def _plus(t: Tensor, extra: Tensor | None) -> Tensor:
        return t if extra is None else t + extra

    def _hyper_analysis(self, y: Tensor, q: Tensor) -> Tensor:
        return self.h_a(y / self._prior_std()) * self.z_gains(q)

    @property
    def stream_count(self) -> int:
        """Streams per coded image: z, then each channel group (in two halves with a spatial context)."""
        return 1 + len(self.context.groups) * (1 if self.spatial is None else 2)

    def _code_groups(self, hyper: Tensor, gain: Tensor, code: GroupCoder,
                     y_s: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Run the entropy model's contexts; ``code`` quantizes / codes each group (or half-group).
        Returns y_hat (unscaled) and, where ``code`` gives them, the likelihoods of y_s."""
        std = self._prior_std()
        anchor = None if self.spatial is None else self.spatial.anchors(*hyper.shape[-2:], device=hyper.device)
        decoded: list[Tensor] = []  # normalised y_hat of earlier groups, the context's input
        out: list[Tensor] = []
        liks: list[Tensor] = []
        for i, sl in enumerate(self.context.slices()):
            mean_n, log_scale_n = self.context(i, hyper, decoded)
            unit = std[:, sl] * gain[:, sl]
            y_i = None if y_s is None else y_s[:, sl]
            y_hat_s, lik = code(y_i, mean_n * unit, exp(log_scale_n, self.exact) * unit, anchor)
            if anchor is not None:  # the anchors are decoded: the other half also sees them
                d_mean, d_log_scale = self.spatial(i, y_hat_s / gain[:, sl] / std[:, sl], mean_n, log_scale_n)
                rest, lik_rest = code(y_i, (mean_n + d_mean) * unit, exp(log_scale_n + d_log_scale, self.exact) * unit,
                                      ~anchor)
                y_hat_s = torch.where(anchor, y_hat_s, rest)
                lik = None if lik is None else torch.where(anchor, lik, lik_rest)
            y_hat = y_hat_s / gain[:, sl]
            decoded.append(y_hat / std[:, sl])
            out.append(y_hat)
            if lik is not None:
                liks.append(lik)
        return torch.cat(out, dim=1), torch.cat(liks, dim=1) if liks else None

    def _synthesize(self, y_hat: Tensor, q: Tensor, size: tuple[int, int], c: Condition | None) -> Tensor:
        return self.g_s(self._plus(y_hat, c and c.syn), q)[..., : size[0], : size[1]]

    @staticmethod
    def _quality(q: float | Tensor, batch: int, device: torch.device) -> Tensor:
        q = torch.as_tensor(q, dtype=torch.float32, device=device)
        return q.expand(batch) if q.dim() == 0 else q

    # ------------------------------------------------------------------ the contract
    def forward(self, x: Tensor, q: float | Tensor, cond: Tensor | None = None) -> CodecOutput:
        """Training proxy. x: (B, 3, H, W) in [0, 1]; q: scalar or (B,) in [1, levels]."""
        q = self._quality(q, x.shape[0], x.device)
        c = self._condition(cond)
        y_hat, likelihoods = self._latents(x, q, c)
        return CodecOutput(x_hat=self._synthesize(y_hat, q, x.shape[-2:], c), likelihoods=likelihoods)

    def likelihoods(self, x: Tensor, q: float | Tensor, cond: Tensor | None = None) -> dict[str, Tensor]:
        """The training proxy's likelihoods alone (no synthesis): what fitting the entropy model to fixed
        transforms needs. The straight-through rounding gives y_hat no gradient with respect to the
        means, so the distortion never reaches the entropy model's parameters anyway."""
        return self._latents(x, self._quality(q, x.shape[0], x.device), self._condition(cond))[1]

    def latents(self, x: Tensor, q: float | Tensor, cond: Tensor | None = None) -> Tensor:
        """The training proxy's y_hat alone (in eval mode, the decoder's rounding in float): what
        distilling a new synthesis from this one's needs as its input."""
        return self._latents(x, self._quality(q, x.shape[0], x.device), self._condition(cond))[0]

    def _latents(self, x: Tensor, q: Tensor, c: Condition | None) -> tuple[Tensor, dict[str, Tensor]]:
        """The training proxy's y_hat and the likelihoods of y and z."""
        y = self._plus(self.g_a(self._pad(x)), c and c.enc).float()
        with torch.autocast(device_type=x.device.type, enabled=False):
            gain = self.y_gains(q)
            z_hat_s, z_lik = self.hyper_prior(self._hyper_analysis(y, q))
            hyper = self._plus(self.h_s(z_hat_s / self.z_gains(q)), c and c.prior)

            def code(y_s: Tensor | None, mean: Tensor, scale: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
                y_hat_s, lik = self.conditional(y_s, mean, scale)
                return (y_hat_s, lik) if mask is None else (y_hat_s * mask, lik)

            y_hat, y_lik = self._code_groups(hyper, gain, code, y * gain)
        return y_hat, {"y": y_lik, "z": z_lik}

    @torch.no_grad()
    def compress(self, x: Tensor, q: float, cond: Tensor | None = None) -> Compressed:
        """Real bytes for x (1, 3, H, W) in [0, 1], and the reconstruction the decoder will produce."""
        return self.compress_at(x, [q], cond)[0]

    @torch.no_grad()
    def compress_at(self, x: Tensor, qualities: Sequence[float], cond: Tensor | None = None) -> list[Compressed]:
        """:meth:`compress` of ``x`` at each of ``qualities``, with one analysis: ``g_a`` does not
        depend on the quality (the gains come after it), so an encoder that weighs several
        qualities of the same input pays for it once."""
        c = self._condition(cond)
        y = self._plus(self.g_a(self._pad(x)), c and c.enc)
        return [self._code(x, y, q, c) for q in qualities]

    def _code(self, x: Tensor, y: Tensor, q: float, c: Condition | None) -> Compressed:
        """Real bytes and the decoder-exact reconstruction of the analysed ``y`` at quality ``q``."""
        q_t = self._quality(q, x.shape[0], x.device)
        gain = self.y_gains(q_t)
        z_stream, z_hat_s = self.hyper_prior.compress(self._hyper_analysis(y, q_t))
        hyper = self._plus(self.h_s(z_hat_s.to(x.device) / self.z_gains(q_t)), c and c.prior)
        streams = [z_stream]

        def code(y_s: Tensor | None, mean: Tensor, scale: Tensor, mask: Tensor | None) -> tuple[Tensor, None]:
            data, y_hat_s = self.conditional.compress(*_where(mask, y_s, mean, scale))
            streams.append(data)
            return _scatter(mask, y_hat_s.to(mean.device), mean), None

        y_hat, _ = self._code_groups(hyper, gain, code, y * gain)
        return Compressed(streams=streams, x_hat=self._synthesize(y_hat, q_t, x.shape[-2:], c))

    @torch.no_grad()
    def decompress(self, streams: list[bytes], size: tuple[int, int], q: float,
                   device: torch.device | str = "cpu", cond: Tensor | None = None) -> Tensor:
        """x_hat (1, 3, H, W) from ``streams`` for an image of ``size`` = (H, W) coded at quality ``q``
        (and, with a conditioner, the same prediction ``cond`` as the encoder's)."""
        if len(streams) != self.stream_count:
            raise ValueError(f"expected {self.stream_count} streams, got {len(streams)}")
        q_t = self._quality(q, 1, torch.device(device))
        c = self._condition(cond)
        hp, wp = (-(-s // self.stride) * self.stride for s in size)
        z_shape = (1, self.hyper_prior.channels, hp // self.stride, wp // self.stride)
        z_hat_s = self.hyper_prior.decompress(streams[0], z_shape).to(device)
        hyper = self._plus(self.h_s(z_hat_s / self.z_gains(q_t)), c and c.prior)
        gain = self.y_gains(q_t)
        latents = iter(streams[1:])  # in the order the encoder wrote them

        def code(y_s: Tensor | None, mean: Tensor, scale: Tensor, mask: Tensor | None) -> tuple[Tensor, None]:
            _, m, s = _where(mask, None, mean, scale)
            return _scatter(mask, self.conditional.decompress(next(latents), m, s), mean), None

        y_hat, _ = self._code_groups(hyper, gain, code, None)
        return self._synthesize(y_hat, q_t, size, c)

    # ------------------------------------------------------------------ setup
    @torch.no_grad()
    def calibrate(self, x: Tensor) -> None:
        """Set σ₀ to the per-channel std of ``g_a(x)``: the entropy model's warm start.

        Transforms that normalise their coefficients (``set_coefficient_scale``) get the same
        statistics, measured on the untrained transform.
        """
        std = self.g_a(self._pad(x)).float().std(dim=(0, 2, 3)).clamp_min(1e-3)
        for t in (self.g_a, self.g_s):
            if hasattr(t, "set_coefficient_scale"):
                t.set_coefficient_scale(std)
        self.log_prior_std.copy_(std.log())

    def update(self) -> None:
        """Freeze the entropy models into integer coding tables (before export)."""
        bad = [n for n, p in self.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise ValueError(f"cannot build coding tables: {len(bad)} parameters are not finite (first: {bad[0]})")
        self.hyper_prior.update()
        self.conditional.update()


def _where(mask: Tensor | None, *tensors: Tensor | None) -> tuple[Tensor | None, ...]:
    """Each (B, C, h, w) tensor at the positions where ``mask`` (1, 1, h, w) is True, as (B, C, n) in
    raster order (the order the half is coded in); all of each without a mask."""
    if mask is None:
        return tensors
    where = mask[0, 0]
    return tuple(None if t is None else t[:, :, where] for t in tensors)


def _scatter(mask: Tensor | None, values: Tensor, like: Tensor) -> Tensor:
    """The inverse of :func:`_where`: ``values`` (B, C, n) back on the grid of ``like``, zero off ``mask``."""
    if mask is None:
        return values
    out = torch.zeros_like(like)
    out[:, :, mask[0, 0]] = values
    return out
