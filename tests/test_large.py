"""Extreme sizes: thin strips, and a 12-megapixel photo in bounded memory."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lvc.image import decode_image, encode_image_with_recon
from lvc.models.zoo import DEFAULT_IMAGE_MODEL, weight_path
from tests.conftest import ROOT, natural_image


def test_strip_17x4000(tiny_model) -> None:  # noqa: ANN001
    rgb = natural_image(17, 4000)
    data, recon = encode_image_with_recon(rgb, 2.0, tiny_model)
    np.testing.assert_array_equal(decode_image(data, tiny_model), recon)


PEAK_SCRIPT = """
import resource, sys, numpy as np
sys.path.insert(0, {root!r})
from tests.conftest import natural_image
from lvc.image import load_codec, encode_image_with_recon, decode_image
rgb = np.tile(natural_image(750, 1000), (4, 4, 1))  # 3000 x 4000
model = load_codec()
data, recon = encode_image_with_recon(rgb, 4.0, model)
ok = np.array_equal(decode_image(data, model), recon)
print(ok, len(data), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_4000x3000_in_under_2_gib() -> None:
    if not weight_path(DEFAULT_IMAGE_MODEL).exists():
        pytest.skip("shipped weights not present")
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT.format(root=str(ROOT))], capture_output=True, text=True,
                         check=True, timeout=900).stdout.split()
    ok, nbytes, peak_kib = out[0] == "True", int(out[1]), int(out[2])
    assert ok, "decode differs from the encoder's reconstruction"
    assert nbytes > 0
    assert peak_kib < 2 * 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
