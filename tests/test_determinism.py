"""The decoder, in another process with another thread count, reproduces the encoder bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from lvc.cli import main
from tests.conftest import ROOT, TINY_ID, natural_image


def _decode_in_subprocess(lvc: Path, out: Path, threads: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    code = ("import sys, torch; torch.set_num_threads(%d); from lvc.cli import main; "
            "sys.exit(main(['decode', %r, '-o', %r, '--quiet']))" % (threads, str(lvc), str(out)))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT, timeout=300)


def test_separate_process_decode_matches_recon(tiny_env, tmp_path) -> None:  # noqa: ANN001
    src, lvc, recon = tmp_path / "src.png", tmp_path / "a.lvc", tmp_path / "recon.png"
    Image.fromarray(natural_image(72, 100, seed=3)).save(src)
    assert main(["encode", str(src), "-o", str(lvc), "--model", TINY_ID, "-q", "6", "--recon", str(recon),
                 "--quiet"]) == 0
    expected = np.asarray(Image.open(recon))
    for threads in (1, 2):
        out = tmp_path / f"dec{threads}.png"
        _decode_in_subprocess(lvc, out, threads)
        np.testing.assert_array_equal(np.asarray(Image.open(out)), expected)


def test_shipped_model_other_thread_count(tmp_path) -> None:  # noqa: ANN001
    """The real models' large convolutions are where thread partitioning changes rounding; with the
    video model installed, the P-frames (motion, compensation, residual) are checked too."""
    import pytest

    from lvc.io.container import stream_info
    from lvc.models.zoo import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, weight_path

    if not weight_path(DEFAULT_IMAGE_MODEL).exists():
        pytest.skip("shipped weights not present")
    lvc, recon = tmp_path / "a.lvc", tmp_path / "recon.y4m"
    assert main(["encode", str(ROOT / "samples/hopper_pan.mp4"), "-o", str(lvc), "--frames", "3", "--recon",
                 str(recon), "--quiet"]) == 0
    if weight_path(DEFAULT_VIDEO_MODEL).exists():
        assert stream_info(lvc).frame_types == "IPP"
    out = tmp_path / "dec.y4m"
    _decode_in_subprocess(lvc, out, 1)
    assert out.read_bytes() == recon.read_bytes()
