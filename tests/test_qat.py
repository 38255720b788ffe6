"""Quantisation-aware training (train.qat): training rounds as the exact decoder does, with gradients."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from lvc.codec.tensors import to_tensor
from lvc.models.builders import build_image_codec
from lvc.models.exact import ExactConv, decoder_convs, exactify
from lvc.models.layers import SubpixelConvTranspose2d
from lvc.models.zoo import load_image_model
from tests.conftest import TINY_INTER_SPEC, TINY_SPEC, natural_image
from train.qat import FakeExact, QuantAware


@pytest.mark.parametrize("make", [lambda: nn.Conv2d(24, 16, 3, padding=1), lambda: nn.Conv2d(24, 16, 5, 2, 2),
                                  lambda: nn.ConvTranspose2d(24, 16, 5, 2, 2, 1),
                                  lambda: SubpixelConvTranspose2d(24, 2, 5, padding=2)])
def test_fake_exact_computes_the_exact_layers_values_and_trains_the_float_weights(make) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    conv = make()
    act_max = torch.rand(24) * 3 + 0.5
    x = torch.randn(2, 24, 11, 13) * 2  # some inputs lie past act_max: both clamp them
    fake = FakeExact(conv, act_max)
    with torch.no_grad():
        assert torch.equal(fake.forward(x), ExactConv(conv, act_max)(x))
    x.requires_grad_(True)
    fake.forward(x).square().sum().backward()
    assert conv.weight.grad.abs().sum() > 0 and conv.bias.grad.abs().sum() > 0
    assert x.grad.abs().sum() > 0


def test_quant_aware_model_keeps_its_keys_decodes_as_exactify_and_follows_its_weights() -> None:
    torch.manual_seed(0)
    codec = build_image_codec(TINY_SPEC).eval()
    act_max = {name: torch.full((codec.get_submodule(name).in_channels,), 4.0) for name in decoder_convs(codec)}
    keys = sorted(codec.state_dict())
    twin = build_image_codec(TINY_SPEC).eval()
    twin.load_state_dict(codec.state_dict())
    exact = exactify(twin, act_max)  # what a calibrated file decodes with
    qat = QuantAware(codec, act_max, refresh_every=2)
    assert sorted(codec.state_dict()) == keys  # export and checkpoints see the float model
    x = to_tensor(natural_image(64, 64), "cpu")
    with torch.no_grad():
        q = torch.tensor([4.0])
        y = torch.round(codec.g_a(x))
        assert torch.equal(codec.g_s(y, q), exact.g_s(y, q))
        first = qat.layers[0]
        before = first.exact.weight_int.clone()
        first.conv.weight.add_(torch.randn_like(first.conv.weight) * first.conv.weight.std())
        qat.step(1)
        assert torch.equal(first.exact.weight_int, before)  # not a refresh step
        qat.step(2)
        assert not torch.equal(first.exact.weight_int, before)  # the grids follow the weights


def _calibrated_copy(weights: Path, out: Path) -> Path:
    """``weights`` with a flat calibration (every decoder-side input within ±4), as ``train calibrate`` writes."""
    model = load_image_model(str(weights), exact=False)
    flat = {name: {n: torch.full((m.get_submodule(n).in_channels,), 4.0) for n in decoder_convs(m)}
            for name, m in (("image", model.codec), ("inter", model.inter))}
    blob = torch.load(weights, weights_only=True)
    torch.save({**blob, "exact": {**flat, "meta": {}}}, out)
    return out


def test_quant_aware_inter_training_steps_and_needs_calibrated_weights(tmp_path: Path,
                                                                       tiny_video_weights: Path) -> None:
    from train.inter import InterModule

    calibrated = str(_calibrated_copy(tiny_video_weights, tmp_path / "calibrated.pt"))
    kwargs = dict(spec=TINY_INTER_SPEC, intra_weights=calibrated, flow_weights=calibrated, rollout=2)
    module = InterModule(init_weights=calibrated, quant_aware=True, **kwargs)
    float_keys = sorted(InterModule(init_weights=calibrated, **kwargs).state_dict())
    assert sorted(module.state_dict()) == float_keys  # checkpoints and export are unchanged
    torch.manual_seed(0)
    loss = module.training_step(torch.rand(2, 3, 3, 64, 64), 0)
    loss.backward()
    assert torch.isfinite(loss)
    assert module.inter.residual.g_s.idct.conv.weight.grad.abs().sum() > 0  # through the rounded decoder layers
    with pytest.raises(ValueError, match="calibrated"):
        InterModule(init_weights=str(tiny_video_weights), quant_aware=True, **kwargs)
