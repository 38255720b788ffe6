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


def test_tables_survive_state_dict(tiny_model) -> None:  # noqa: ANN001
    codec = build_image_codec(TINY_SPEC)
    codec.load_state_dict(tiny_model.codec.state_dict())
    assert torch.equal(codec.conditional._counts, tiny_model.codec.conditional._counts)
