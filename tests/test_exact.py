"""Exact decoding (issue 11): integer convolutions in float, exact exp and warp, and streams that decode
bit for bit under every CPU kernel set and thread count."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from lvc.codec.tensors import to_tensor
from lvc.models.builders import build_image_codec
from lvc.models.exact import EXACT_LIMIT, ExactConv, decoder_convs, exactify, record_act_max
from lvc.models.exact_math import exact_exp
from lvc.models.layers import SubpixelConvTranspose2d
from lvc.models.warp import warp, warp_exact
from tests.conftest import ROOT, TINY_SPEC, natural_image

# ATen's vector kernels × oneDNN's ISA: what an SSE4.1-only, an AVX2 and an AVX-512 CPU would run. oneDNN's
# variable is a ceiling (it falls back to what the CPU has); ATen's is not (avx512 on an AVX2 CPU is SIGILL),
# so ATen capabilities above this CPU's are left out, and the test says which ran.
_ATEN = ("default", "avx2", "avx512")
_NATIVE = {"DEFAULT": 0, "AVX2": 1, "AVX512": 2}.get(torch.backends.cpu.get_cpu_capability(), 1)
KERNELS = list(itertools.product(_ATEN[:_NATIVE + 1], ("SSE41", "AVX2", "AVX512_CORE")))


def _run(code: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, **(env or {})}, timeout=600)
    return out.stdout


def test_exact_exp_is_accurate_and_the_same_under_scalar_kernels(tmp_path: Path) -> None:
    x = torch.linspace(-30, 30, 20001)
    ref = x.double().exp()
    assert ((exact_exp(x).double() - ref).abs() / ref).max() < 5e-7  # a few float32 ulps
    torch.save(x, tmp_path / "x.pt")
    code = (f"import torch; from lvc.models.exact_math import exact_exp; "
            f"torch.save(exact_exp(torch.load({str(tmp_path / 'x.pt')!r})), {str(tmp_path / 'y.pt')!r})")
    _run(code, {"ATEN_CPU_CAPABILITY": "default"})
    assert torch.equal(torch.load(tmp_path / "y.pt"), exact_exp(x))


@pytest.mark.parametrize("make", [lambda: nn.Conv2d(24, 16, 3, padding=1), lambda: nn.Conv2d(24, 16, 5, 2, 2),
                                  lambda: nn.ConvTranspose2d(24, 16, 5, 2, 2, 1),
                                  lambda: SubpixelConvTranspose2d(24, 2, 5, padding=2)])
def test_exact_conv_sums_integers_below_the_float32_limit(make) -> None:  # noqa: ANN001
    """Its sums equal the same integer sums in float64 (so no order or FMA can change them), stay within
    2^24, and the layer stays within 1 % of the float one."""
    torch.manual_seed(0)
    conv = make()
    x = torch.randn(2, 24, 14, 14)
    e = ExactConv(conv, x.abs().amax(dim=(0, 2, 3)))
    u = torch.round(x * e.in_inv).clamp(-e.qa, e.qa)
    k = e.weight_int.shape[-1]  # the largest |w| sum at any output, found by convolving ones with |w_int|
    reach = e.integer_conv(torch.ones(1, 24, 2 * k + 4, 2 * k + 4, dtype=torch.float64), e.weight_int.abs().double())
    assert float(reach.max()) == e._largest_sum(e.weight_int.abs())
    assert float(reach.max()) * e.qa < EXACT_LIMIT
    assert torch.equal(e.integer_conv(u, e.weight_int).double(), e.integer_conv(u.double(), e.weight_int.double()))
    ref = conv(x)
    assert e(x).shape == ref.shape
    assert (e(x) - ref).abs().max() < 0.01 * ref.abs().max()


def test_exact_conv_passes_gradients_straight_through_for_encoder_side_fits() -> None:
    conv = nn.Conv2d(4, 4, 3, padding=1)
    x = torch.randn(1, 4, 8, 8, requires_grad=True)
    e = ExactConv(conv, x.detach().abs().amax(dim=(0, 2, 3)) * 2)
    out = e(x)
    (g,) = torch.autograd.grad(out.sum(), [x])
    (g_ref,) = torch.autograd.grad(conv(x).sum(), [x])
    assert torch.equal(out.detach(), e(x.detach()))  # the value is the rounded one, exactly
    assert (g - g_ref).abs().max() < 0.02 * g_ref.abs().max()


def test_warp_exact_is_grid_sample_with_border_padding() -> None:
    torch.manual_seed(0)
    ref = torch.rand(1, 3, 20, 28)
    flow = torch.randn(1, 2, 20, 28) * 6  # reaches past every border
    assert (warp_exact(ref, flow) - warp(ref, flow)).abs().max() < 1e-5
    assert torch.equal(warp_exact(ref, torch.zeros_like(flow)), ref)


@pytest.mark.parametrize("spatial", [0, 8])
def test_exactified_codec_round_trips_and_stays_close_to_float(spatial: int) -> None:
    torch.manual_seed(0)
    codec = build_image_codec(dataclasses.replace(TINY_SPEC, spatial_hidden=spatial))
    for p in [] if codec.spatial is None else codec.spatial.parameters():  # trained-looking, not zero
        nn.init.normal_(p, std=0.05)
    images = [to_tensor(natural_image(64, 64, s), "cpu") for s in range(3)]
    codec.calibrate(torch.cat(images))
    codec.update()
    codec.eval()
    with torch.no_grad(), record_act_max(codec) as stats:
        for x in images:
            codec.compress(x, 4)
    assert set(stats) == set(decoder_convs(codec))
    exact = exactify(copy.deepcopy(codec), {k: v * 2 for k, v in stats.items()})
    x = to_tensor(natural_image(64, 80, 7), "cpu")
    with torch.no_grad():
        c = exact.compress(x, 4)
        assert torch.equal(exact.decompress(c.streams, (64, 80), 4), c.x_hat)
        ref = codec.compress(x, 4).x_hat
    assert (c.x_hat - ref).abs().mean() < 0.01
    with pytest.raises(ValueError, match="no calibration"):
        exactify(copy.deepcopy(codec), {})


def test_exactified_inter_codec_with_a_narrow_motion_synthesis_round_trips() -> None:
    """The narrow motion synthesis (3x3 kernels, fewer channels) is exactified like every other layer."""
    from lvc.models.builders import build_inter_codec
    from tests.conftest import TINY_INTER_SPEC

    torch.manual_seed(0)
    spec = dataclasses.replace(TINY_INTER_SPEC, motion={**TINY_INTER_SPEC.motion, "fine_hidden": 4, "fine_kernel": 3})
    codec = build_inter_codec(spec, with_flow=False).eval()
    codec.update()
    ref, x = to_tensor(natural_image(48, 80, 1), "cpu"), to_tensor(natural_image(48, 80, 2), "cpu")
    flow = torch.randn(1, 2, 48, 80) * 2
    with torch.no_grad(), record_act_max(codec) as stats:
        codec.compress(x, ref, 4.0, flow=flow)
    assert {"motion.g_s.ups.2", "motion.g_s.out"} <= set(stats)
    exact = exactify(copy.deepcopy(codec), {k: v * 2 for k, v in stats.items()})
    assert isinstance(exact.motion.g_s.out, ExactConv)
    with torch.no_grad():
        c = exact.compress(x, ref, 4.0, flow=flow)
        d = exact.decompress(c.streams, ref, 4.0)
    assert torch.equal(d.x_hat, c.x_hat) and torch.equal(d.flow_hat, c.flow_hat)


_DECODE_EVERYWHERE = textwrap.dedent("""
    import json, sys
    import torch
    from lvc import api
    jobs, results = json.loads(sys.argv[1]), []
    for threads in (1, 3):
        torch.set_num_threads(threads)  # an exact model decodes on the caller's threads (lvc.codec.tensors)
        for stream, recon, out in jobs:
            api.decode(stream, out, overwrite=True)
            results.append(open(out, "rb").read() == open(recon, "rb").read())
    print(json.dumps(results))
""")


def test_shipped_streams_decode_bit_for_bit_under_every_kernel_set_and_thread_count(tmp_path: Path) -> None:
    """A still at q 1 and at q 8 and a video with P-frames, encoded here, decoded in subprocesses under
    ATen {default, avx2, avx512} (up to this CPU's) × oneDNN {SSE4.1, AVX2, AVX-512} kernels at 1 and 3
    threads."""
    from lvc import api
    from lvc.io.container import stream_info
    from lvc.models.zoo import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, load_image_model, weight_path

    if not (weight_path(DEFAULT_IMAGE_MODEL).exists() and weight_path(DEFAULT_VIDEO_MODEL).exists()):
        pytest.skip("shipped weights not present")
    assert load_image_model(DEFAULT_IMAGE_MODEL).exact and load_image_model(DEFAULT_VIDEO_MODEL).exact
    still = tmp_path / "still.png"
    Image.fromarray(np.asarray(Image.open(ROOT / "samples" / "hopper.png").convert("RGB"))[:96, :128]).save(still)
    jobs = []
    for name, src, opts in (("q1", still, dict(quality=1)), ("q8", still, dict(quality=8)),
                            ("video", ROOT / "samples" / "hopper_pan.mp4", dict(quality=4, frames=5))):
        suffix = ".y4m" if name == "video" else ".png"
        stream, recon = tmp_path / f"{name}.lvc", tmp_path / f"{name}_recon{suffix}"
        api.encode(src, stream, recon=recon, **opts)
        jobs.append((str(stream), str(recon), str(tmp_path / f"{name}_out{suffix}")))
    assert stream_info(Path(jobs[2][0])).frame_types == "IPPPP"
    failed = []
    for cap, isa in KERNELS:
        results = json.loads(_run(_DECODE_EVERYWHERE.replace("sys.argv[1]", repr(json.dumps(jobs))),
                                  {"ATEN_CPU_CAPABILITY": cap, "ONEDNN_MAX_CPU_ISA": isa}).strip().splitlines()[-1])
        failed += [f"{cap}/{isa}/{t} threads: {Path(job[0]).stem}"
                   for (t, job), ok in zip(itertools.product((1, 3), jobs), results) if not ok]
    assert not failed, f"{len(failed)} of {len(KERNELS) * 2 * len(jobs)} decodes differ: {failed}"


def test_calibrate_writes_a_file_that_decodes_exactly(tiny_video_weights: Path, tmp_path: Path) -> None:
    """``python -m train calibrate`` on the tiny video model: the new file loads exact, names a new hash,
    and an IPP stream coded with it decodes to the encoder's reconstruction."""
    from lvc import api
    from lvc.models.zoo import file_hash, load_image_model
    from train.calibrate import main as calibrate_main

    photos = tmp_path / "photos"
    photos.mkdir()
    for s in range(2):
        Image.fromarray(natural_image(64, 96, s)).save(photos / f"{s}.png")
    out = tmp_path / "tiny-video-test.pt"
    assert calibrate_main([str(tiny_video_weights), "--out", str(out), "--images", str(photos), "--photos", "2",
                           "--videos", str(ROOT / "samples" / "hopper_pan.mp4"), "--frames", "3", "--quiet"]) == 0
    model = load_image_model(str(out))
    assert model.exact and not load_image_model(str(tiny_video_weights)).exact
    assert file_hash(out) != file_hash(tiny_video_weights)
    assert isinstance(model.inter.compensation.body[0], ExactConv)
    stream, recon = tmp_path / "a.lvc", tmp_path / "recon.y4m"
    api.encode(ROOT / "samples" / "hopper_pan.mp4", stream, frames=3, model=model, recon=recon, audio=False)
    with pytest.MonkeyPatch.context() as mp:  # decoded as a user would: the stream finds the file by its hash
        mp.setenv("LVC_WEIGHTS_PATH", str(tmp_path))
        api.decode(stream, tmp_path / "out.y4m")
    assert (tmp_path / "out.y4m").read_bytes() == recon.read_bytes()


def test_exact_models_run_on_the_callers_threads_and_float_ones_on_the_fixed_count() -> None:
    from lvc.codec.tensors import CODEC_THREADS, codec_threads

    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        with codec_threads(exact=True):
            assert torch.get_num_threads() == 3
        with codec_threads():
            assert torch.get_num_threads() == CODEC_THREADS
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
