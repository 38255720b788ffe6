import dataclasses

import numpy as np
import pytest
import torch

from lvc.entropy import FactorizedPrior, GaussianConditional
from lvc.image import decode_image, encode_image_with_recon
from lvc.codec.intra import tile_grid
from lvc.models.builders import build_image_codec
from tests.conftest import TINY_SPEC, natural_image


def test_untrained_transform_is_exactly_invertible() -> None:
    codec = build_image_codec(TINY_SPEC)
    x = torch.rand(2, 3, 64, 96)
    assert torch.allclose(codec.g_s(codec.g_a(x), torch.tensor([1.0, 8.0])), x, atol=1e-5)


def test_forward_shapes_and_training_likelihoods() -> None:
    codec = build_image_codec(TINY_SPEC).train()
    out = codec(torch.rand(2, 3, 40, 70), torch.tensor([1.0, 7.3]))
    assert out.x_hat.shape == (2, 3, 40, 70)
    assert out.likelihoods["y"].shape == (2, 192, 8, 12) and out.likelihoods["z"].shape == (2, 8, 2, 3)
    assert ((out.likelihoods["y"] > 0) & (out.likelihoods["y"] <= 1)).all()


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (17, 9), (64, 64), (31, 130)])
def test_compress_equals_decompress(tiny_model, size) -> None:  # noqa: ANN001
    rgb = natural_image(*size)
    for q in (1.0, 4.5, 8.0):
        data, recon = encode_image_with_recon(rgb, q, tiny_model)
        assert recon.shape == rgb.shape
        np.testing.assert_array_equal(decode_image(data, tiny_model), recon)


def test_quality_changes_rate(tiny_model) -> None:  # noqa: ANN001
    rgb = natural_image(64, 96)
    sizes = [len(encode_image_with_recon(rgb, q, tiny_model)[0]) for q in (1, 8)]
    assert sizes[0] < sizes[1]


def test_compress_at_several_qualities_analyses_once(tiny_model) -> None:  # noqa: ANN001
    """``compress_at`` codes each quality as ``compress`` would, with one run of ``g_a``."""
    codec = tiny_model.codec
    x = torch.from_numpy(natural_image(40, 56, 3)).permute(2, 0, 1)[None].float() / 255
    runs = []
    hook = codec.g_a.register_forward_hook(lambda *_: runs.append(1))
    try:
        several = codec.compress_at(x, [2.0, 4.5, 7.0])
    finally:
        hook.remove()
    assert len(runs) == 1
    for q, c in zip([2.0, 4.5, 7.0], several):
        one = codec.compress(x, q)
        assert c.streams == one.streams and torch.equal(c.x_hat, one.x_hat)


def test_tile_grid_covers_the_image_once() -> None:
    for h, w, t in [(4000, 3000, 2048), (17, 4000, 1024), (5, 5, 0), (2048, 2049, 2048)]:
        cover = np.zeros((h, w), dtype=np.int32)
        for top, bottom, left, right in tile_grid(h, w, t):
            assert t == 0 or (bottom - top <= t and right - left <= t)
            cover[top:bottom, left:right] += 1
        assert (cover == 1).all()


def test_tiled_round_trip(tiny_model) -> None:  # noqa: ANN001
    from lvc.codec.frame_coder import FrameCoder
    from lvc.codec.intra import IntraCoder

    rgb = natural_image(17, 300)
    coder = IntraCoder(tiny_model.codec, tile=128)
    assert isinstance(coder, FrameCoder)
    coded = coder.compress(rgb, 3.0)
    assert len(coded.streams) == 3 * coder.streams_per_tile and coded.flow is None
    np.testing.assert_array_equal(coder.decompress(coded.streams, 3.0, height=17, width=300).rgb, coded.recon)


def test_entropy_models_round_trip_exactly() -> None:
    torch.manual_seed(0)
    prior = FactorizedPrior(channels=4).eval()
    prior.update()
    z = torch.randn(1, 4, 5, 7) * 3
    data, z_hat = prior.compress(z)
    assert torch.equal(prior.decompress(data, (1, 4, 5, 7)), z_hat)

    cond = GaussianConditional().eval()
    cond.update()
    y = torch.randn(1, 6, 9, 9) * 20
    means, scales = torch.randn_like(y), torch.rand_like(y) * 10 - 1  # includes scales <= 0
    y[0, 0, 0, 0] = 1e6  # escaped
    data, y_hat = cond.compress(y, means, scales)
    assert torch.equal(cond.decompress(data, means, scales), y_hat)
    assert torch.allclose(y_hat, torch.round(y - means) + means)


def test_force_zero_skips_the_smallest_scales_and_agrees_with_the_proxy() -> None:
    plain, zero = GaussianConditional().eval(), GaussianConditional(zero_levels=2).eval()
    plain.update()
    zero.update()
    torch.manual_seed(0)
    y = torch.randn(1, 8, 16, 16) * 3
    means = torch.randn_like(y)
    scales = torch.where(torch.rand_like(y) < 0.7, torch.full_like(y, 0.05), torch.rand_like(y) * 8)
    scales[0, 0, 0, :3] = zero.scale_table[:3]  # each side of the threshold, exactly on it
    data, y_hat = zero.compress(y, means, scales)
    assert torch.equal(zero.decompress(data, means, scales), y_hat)
    skipped = scales <= zero.scale_table[1]
    assert skipped[0, 0, 0, :3].tolist() == [True, True, False]
    assert torch.equal(y_hat[skipped], means[skipped])  # not coded: the mean
    assert torch.equal(y_hat[~skipped], (torch.round(y - means) + means)[~skipped])
    assert len(data) < len(plain.compress(y, means, scales)[0])  # large y at tiny scales cost escapes
    assert torch.equal(zero(y, means, scales)[0], y_hat)  # the eval proxy decodes the same
    zero.train()
    assert torch.equal(zero(y, means, scales, decoder_mode="ste")[0][skipped], means[skipped])
    with pytest.raises(ValueError, match="zero_levels"):
        GaussianConditional(zero_levels=64)


def test_force_zero_from_the_spec_decodes_what_the_encoder_made(tiny_model) -> None:  # noqa: ANN001
    codec = build_image_codec(dataclasses.replace(TINY_SPEC, zero_levels=1)).eval()
    codec.load_state_dict(tiny_model.codec.state_dict())
    assert codec.conditional.zero_levels == 1
    x = torch.from_numpy(natural_image(48, 64)).permute(2, 0, 1)[None].float() / 255
    for q in (1.0, 8.0):
        c = codec.compress(x, q)
        assert torch.equal(codec.decompress(c.streams, (48, 64), q), c.x_hat)
        plain = tiny_model.codec.compress(x, q)
        assert sum(map(len, c.streams)) <= sum(map(len, plain.streams))


def test_tables_survive_state_dict(tiny_model) -> None:  # noqa: ANN001
    codec = build_image_codec(TINY_SPEC)
    codec.load_state_dict(tiny_model.codec.state_dict())
    assert torch.equal(codec.conditional._counts, tiny_model.codec.conditional._counts)


def _with_spatial(hidden: int = 8) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The tiny codec, and the same codec with a (zero-initialised) checkerboard context."""
    torch.manual_seed(0)
    plain = build_image_codec(TINY_SPEC).eval()
    spatial = build_image_codec(dataclasses.replace(TINY_SPEC, spatial_hidden=hidden)).eval()
    missing, unexpected = spatial.load_state_dict(plain.state_dict(), strict=False)
    assert missing and all(k.startswith("spatial.") for k in missing) and not unexpected
    plain.update()
    spatial.update()
    return plain, spatial


def test_a_new_spatial_context_codes_the_same_symbols_in_two_halves() -> None:
    """Zero-initialised heads: the same reconstruction and the same symbols as without the context
    (each group's bytes split into its anchors and the rest), so training starts from the shipped codec."""
    plain, spatial = _with_spatial()
    x = torch.from_numpy(natural_image(70, 50)).permute(2, 0, 1)[None].float() / 255
    a, b = plain.compress(x, 3.0), spatial.compress(x, 3.0)
    assert spatial.stream_count == len(b.streams) == 1 + 2 * len(TINY_SPEC.groups) and len(a.streams) == 3
    assert torch.equal(a.x_hat, b.x_hat) and a.streams[0] == b.streams[0]
    assert abs(sum(map(len, b.streams)) - sum(map(len, a.streams))) <= 4 * len(TINY_SPEC.groups)
    assert torch.equal(plain.likelihoods(x, 3.0)["y"], spatial.likelihoods(x, 3.0)["y"])  # rounded, not noisy


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (17, 9), (64, 64), (31, 130)])
def test_spatial_context_round_trips(size) -> None:  # noqa: ANN001
    _, codec = _with_spatial()
    for p in codec.spatial.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x = torch.from_numpy(natural_image(*size)).permute(2, 0, 1)[None].float() / 255
    for q in (1.0, 6.5):
        c = codec.compress(x, q)
        assert torch.equal(codec.decompress(c.streams, size, q), c.x_hat)
    with pytest.raises(ValueError, match="expected 5 streams"):
        codec.decompress(c.streams[:3], size, q)


def test_the_non_anchors_see_their_decoded_neighbours() -> None:
    """The second half's parameters depend on the anchors' values, and on nothing of its own half."""
    _, codec = _with_spatial()
    for p in codec.spatial.parameters():
        torch.nn.init.normal_(p, std=0.1)
    codec.train()
    anchor = codec.spatial.anchors(8, 12)
    assert anchor.shape == (1, 1, 8, 12) and anchor[0, 0, 0, 0] and not anchor[0, 0, 0, 1]
    assert int(anchor.sum()) == 48
    y = torch.randn(1, 192, 8, 12, requires_grad=True)
    mean = torch.zeros(1, 192, 8, 12)
    d_mean, _ = codec.spatial(1, y[:, 9:] * anchor, mean[:, 9:], mean[:, 9:])
    (d_mean * ~anchor).sum().backward()
    grad = y.grad[0, 9:].abs().sum(0)
    assert (grad[anchor[0, 0]] > 0).any() and (grad[~anchor[0, 0]] == 0).all()


def test_decoded_image_parts_split_its_bytes(tiny_model) -> None:  # noqa: ANN001
    from lvc.image import decode_image_parts

    data, recon = encode_image_with_recon(natural_image(40, 56), 2.0, tiny_model)
    rgb, parts = decode_image_parts(data, tiny_model)
    np.testing.assert_array_equal(rgb, recon)
    assert set(parts) == {"header", "hyper", "latent"} and parts["hyper"] > 0 and parts["latent"] > 0
    assert sum(parts.values()) < len(data)  # the file header and end marker are no frame's
