"""Video through the CLI and API: containers, timing, audio, odd inputs, exact decoding."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from lvc import api
from lvc.cli import main
from lvc.errors import InputError
from lvc.io.container import stream_info
from tests.conftest import ROOT, TINY_ID, shared_data
from tests.media import moving_frames, rotate_mp4, write_audio_only, write_clip, write_y4m


def _read_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _y4m_frames(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return data.split(b"FRAME\n")[1:]


def test_encode_decode_y4m_matches_recon(tiny_env, tmp_path) -> None:  # noqa: ANN001
    src = write_y4m(tmp_path / "src.y4m", moving_frames(6, 48, 64))
    lvc, recon, out = tmp_path / "a.lvc", tmp_path / "recon.y4m", tmp_path / "out.y4m"
    summary = api.encode(src, lvc, model=TINY_ID, quality=5, recon=recon)
    assert summary.frames == 6 and summary.bytes == lvc.stat().st_size
    api.decode(lvc, out)
    assert out.read_bytes() == recon.read_bytes()
    info = stream_info(lvc)
    assert (info.width, info.height, info.frames, info.container) == (64, 48, 6, "mp4")


def _decode_in_subprocess(lvc: Path, out: Path, threads: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    code = ("import sys, torch; torch.set_num_threads(%d); from lvc.cli import main; "
            "sys.exit(main(['decode', %r, '-o', %r, '--quiet']))" % (threads, str(lvc), str(out)))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT, timeout=600)


@pytest.mark.parametrize("source", ["made", "shared"])
def test_other_process_other_threads_reproduce_recon(tiny_env, tmp_path, source) -> None:  # noqa: ANN001
    if source == "shared":
        src = shared_data("video") / "foreman_qcif_176x144.y4m"
    else:
        src = write_y4m(tmp_path / "src.y4m", moving_frames(5, 40, 56))
    lvc, recon = tmp_path / "a.lvc", tmp_path / "recon"
    api.encode(src, lvc, model=TINY_ID, quality=6, recon=recon, frames=5)
    for threads in (1, 2):
        out = tmp_path / f"dec{threads}"
        _decode_in_subprocess(lvc, out, threads)
        for a, b in zip(sorted(recon.iterdir()), sorted(out.iterdir()), strict=True):
            assert a.name == b.name
            np.testing.assert_array_equal(_read_all(a)[0], _read_all(b)[0])


def test_timing_vfr_and_audio_survive(tiny_env, tmp_path) -> None:  # noqa: ANN001
    pts = [0, 1, 3, 4, 8, 9]  # variable frame rate in a 1/25 time base
    src = write_clip(tmp_path / "vfr.mp4", moving_frames(6, 32, 48), pts=pts, audio=True)
    lvc = tmp_path / "a.lvc"
    api.encode(src, lvc, model=TINY_ID)
    assert stream_info(lvc).audio_streams == 1
    frames = list(api.iter_decode(lvc))
    tb = stream_info(lvc).time_base
    with av.open(str(src)) as c:
        src_times = [float(f.pts * f.time_base) for f in c.decode(video=0)]
    assert [float(f.pts * tb) for f in frames] == pytest.approx(src_times)
    out = tmp_path / "out.mp4"
    api.decode(lvc, out)
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1
        assert [float(f.pts * f.time_base) for f in c.decode(video=0)] == pytest.approx(src_times)


@pytest.mark.parametrize("kind", ["odd", "tiny", "gray", "yuv444", "10bit", "rotated"])
def test_odd_inputs(tiny_env, tmp_path, kind) -> None:  # noqa: ANN001
    h, w = {"odd": (9, 17), "tiny": (2, 2)}.get(kind, (32, 48))
    frames = moving_frames(3, h, w)
    codec, pix = {"gray": ("ffv1", "gray"), "yuv444": ("libx264", "yuv444p"), "10bit": ("ffv1", "yuv420p10le"),
                  "odd": ("ffv1", "yuv444p"), "tiny": ("ffv1", "yuv444p")}.get(kind, ("libx264", "yuv420p"))
    src = write_clip(tmp_path / ("src.mkv" if codec == "ffv1" else "src.mp4"), frames, codec=codec, pix_fmt=pix)
    if kind == "rotated":
        src = rotate_mp4(src, tmp_path / "rotated.mp4")
        h, w = w, h
    lvc, recon = tmp_path / "a.lvc", tmp_path / "recon"
    assert main(["encode", str(src), "-o", str(lvc), "--model", TINY_ID, "--recon", str(recon), "--quiet"]) == 0
    out = tmp_path / "out"
    assert main(["decode", str(lvc), "-o", str(out), "--quiet"]) == 0
    decoded = [_read_all(p)[0] for p in sorted(out.iterdir())]
    assert len(decoded) == 3 and decoded[0].shape == (h, w, 3)
    assert all(np.array_equal(a, _read_all(b)[0]) for a, b in zip(decoded, sorted(recon.iterdir())))
    if kind == "rotated":  # upright as a player shows it: the source turned clockwise
        err = [np.abs(decoded[0].astype(float) - np.rot90(frames[0], k).astype(float)).mean() for k in (-1, 1)]
        assert err[0] < err[1]


def test_frames_and_start(tiny_env, tmp_path) -> None:  # noqa: ANN001
    src = write_y4m(tmp_path / "src.y4m", moving_frames(8, 24, 32))
    lvc = tmp_path / "a.lvc"
    api.encode(src, lvc, model=TINY_ID, frames=6, start=0.04)  # skips frame 0 (t = 0)
    info = stream_info(lvc)
    assert info.frames == 6
    got = list(api.iter_decode(lvc, start=0.12, frames=2))  # all-intra: the I-frame at 0.12 itself
    assert [round(float(f.pts * info.time_base), 3) for f in got] == [0.12, 0.16]
    assert all(f.rgb.shape == (24, 32, 3) for f in got)
    assert len(list(api.iter_decode(lvc, start=0.125))) == 4  # 0.12 (the I-frame before 0.125) .. 0.24


def test_audio_only_and_not_a_video(tiny_env, tmp_path, capsys) -> None:  # noqa: ANN001
    src = write_audio_only(tmp_path / "sound.m4a")
    assert main(["encode", str(src), "-o", str(tmp_path / "a.lvc"), "--model", TINY_ID]) == 1
    assert "no video stream" in capsys.readouterr().err
    assert not (tmp_path / "a.lvc").exists()


def test_y4m_to_stdout(tiny_env, tmp_path) -> None:  # noqa: ANN001
    src = write_y4m(tmp_path / "src.y4m", moving_frames(3, 16, 16))
    lvc = tmp_path / "a.lvc"
    api.encode(src, lvc, model=TINY_ID)
    code = f"import sys; from lvc.cli import main; sys.exit(main(['decode', {str(lvc)!r}, '-o', '-']))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, cwd=ROOT, timeout=300,
                         env=os.environ)
    assert res.stdout.startswith(b"YUV4MPEG2 W16 H16 ") and res.stdout.count(b"FRAME\n") == 3


def test_ctrl_c_leaves_no_output(tiny_env, tmp_path) -> None:  # noqa: ANN001
    import signal
    import time

    src = write_y4m(tmp_path / "long.y4m", moving_frames(1000, 160, 192))  # long enough to interrupt on a fast machine
    out = tmp_path / "a.lvc"
    # A runner started in the background (``cmd &``) hands its children SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler: the child restores the terminal's default, as a shell would.
    code = (f"import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            f"from lvc.cli import main; "
            f"sys.exit(main(['encode', {str(src)!r}, '-o', {str(out)!r}, '--model', {TINY_ID!r}, '--quiet']))")
    # -X faulthandler: should the process die in native code, stderr says where instead of staying empty
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-c", code], cwd=ROOT, env=os.environ,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not list(tmp_path.glob(".a.lvc.*.tmp")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err)
    assert b"interrupted" in err and b"Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))


def test_p_frames_round_trip_in_another_process(tiny_env, tiny_video_weights, tmp_path) -> None:  # noqa: ANN001
    from tests.conftest import TINY_VIDEO_ID

    src = write_y4m(tmp_path / "src.y4m", moving_frames(6, 40, 56))
    lvc, recon = tmp_path / "p.lvc", tmp_path / "recon.y4m"
    api.encode(src, lvc, model=TINY_VIDEO_ID, quality=5, gop=4, recon=recon)
    assert stream_info(lvc).frame_types == "IPPPIP"
    frames = list(api.iter_decode(lvc, intermediates=True))
    assert frames[1].parts.keys() >= {"motion", "residual"} and frames[1].extras["flow"].shape == (40, 56, 2)
    plain = list(api.iter_decode(lvc))  # the decoding loop alone builds none of them
    assert not plain[1].parts and not plain[1].extras
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(frames, plain))
    out = tmp_path / "out.y4m"
    _decode_in_subprocess(lvc, out, 1)
    assert out.read_bytes() == recon.read_bytes()
    assert len(list(api.iter_decode(lvc, start=0.13))) == 6  # the I-frame before 0.13 s is frame 0
    assert [f.frame_type for f in api.iter_decode(lvc, start=0.17)] == ["I", "P"]  # from frame 4


def test_mode_decision_codes_a_costlier_p_frame_as_i(tiny_env, tiny_video_weights, tmp_path) -> None:  # noqa: ANN001
    """With λ → 0 only bytes count: frame 1 (whose reference, frame 0, is the same either way) is an
    I-frame exactly when its I-frame is smaller than its P-frame; the stream still decodes exactly."""
    import dataclasses

    from lvc.models.zoo import load_image_model
    from tests.conftest import TINY_VIDEO_ID

    src = write_y4m(tmp_path / "src.y4m", moving_frames(4, 40, 72))  # at 40x56 the tiny model's I and P tie
    model = load_image_model(TINY_VIDEO_ID)
    sizes = {}
    for gop in (1, 4):
        api.encode(src, tmp_path / f"g{gop}.lvc", model=model, quality=5, gop=gop, mode_decision=False)
        sizes[gop] = [f.nbytes for f in api.iter_decode(tmp_path / f"g{gop}.lvc")]
    bytes_only = dataclasses.replace(model, lambdas=(1e-12,) * len(model.codec.y_gains.log_gain))
    lvc, recon = tmp_path / "rd.lvc", tmp_path / "recon.y4m"
    api.encode(src, lvc, model=bytes_only, quality=5, gop=4, recon=recon)
    types = stream_info(lvc).frame_types
    assert types[:2] == ("II" if sizes[1][1] < sizes[4][1] else "IP"), (sizes, types)
    out = tmp_path / "out.y4m"
    _decode_in_subprocess(lvc, out, 1)
    assert out.read_bytes() == recon.read_bytes()


@pytest.mark.parametrize("preset", ["fast", "veryslow"])
def test_presets_decode_exactly_in_another_process(tiny_env, tiny_video_weights, tmp_path, preset) -> None:  # noqa: ANN001
    """A preset changes only what the encoder searches; any preset's stream decodes to its recon."""
    import dataclasses

    from lvc.models.zoo import load_image_model
    from tests.conftest import TINY_VIDEO_ID

    src = write_y4m(tmp_path / "src.y4m", moving_frames(3, 40, 56))
    model = load_image_model(TINY_VIDEO_ID)
    with_lambdas = dataclasses.replace(model, lambdas=(0.01,) * len(model.codec.y_gains.log_gain))
    lvc, recon = tmp_path / "p.lvc", tmp_path / "recon.y4m"
    api.encode(src, lvc, model=with_lambdas, quality=5, gop=4, recon=recon, preset=preset, mode_decision=False)
    assert stream_info(lvc).frame_types == "IPP"
    out = tmp_path / "out.y4m"
    _decode_in_subprocess(lvc, out, 1)
    assert out.read_bytes() == recon.read_bytes()


def test_preset_errors(tiny_env, tiny_video_weights, tmp_path) -> None:  # noqa: ANN001
    from tests.conftest import TINY_VIDEO_ID

    src = write_y4m(tmp_path / "src.y4m", moving_frames(2, 40, 56))
    with pytest.raises(InputError, match="unknown preset 'quick'"):
        api.encode(src, tmp_path / "a.lvc", model=TINY_VIDEO_ID, preset="quick")
    with pytest.raises(InputError, match="needs the λ"):  # the tiny model records no λ ladder
        api.encode(src, tmp_path / "b.lvc", model=TINY_VIDEO_ID, preset="slow")
    assert not (tmp_path / "a.lvc").exists() and not (tmp_path / "b.lvc").exists()


def test_bitrate_and_size_are_met_and_decode_exactly(tiny_env, tiny_video_weights, tmp_path) -> None:  # noqa: ANN001
    """Rate control picks each frame's quality (recorded in the stream); the streams land near their
    targets, the decoder reproduces the recon in another process, and --size counts the whole file."""
    from lvc.io.container import ContainerReader
    from tests.conftest import TINY_VIDEO_ID

    src = write_y4m(tmp_path / "src.y4m", moving_frames(24, 64, 96))
    fixed = {}
    for q in (2.0, 6.0):  # what constant qualities cost: the targets lie between them
        api.encode(src, tmp_path / f"q{q}.lvc", model=TINY_VIDEO_ID, quality=q, gop=6)
        with ContainerReader(tmp_path / f"q{q}.lvc") as r:
            fixed[q] = sum(len(u.data) for u in r.units())
    for share in (0.3, 0.7):
        video_bytes = fixed[2.0] + share * (fixed[6.0] - fixed[2.0])
        lvc, recon = tmp_path / f"b{share}.lvc", tmp_path / f"b{share}.y4m"
        api.encode(src, lvc, model=TINY_VIDEO_ID, gop=6, bitrate=video_bytes * 8 * 25 / 24, recon=recon)
        with ContainerReader(lvc) as r:
            got = sum(len(u.data) for u in r.units())
        assert got == pytest.approx(video_bytes, rel=0.15)
        qualities = {f.quality for f in api.iter_decode(lvc)}
        assert len(qualities) > 1 and all(1 <= q <= 8 for q in qualities)
        out = tmp_path / f"out{share}.y4m"
        _decode_in_subprocess(lvc, out, 1)
        assert out.read_bytes() == recon.read_bytes()
    target = int(fixed[2.0] + 0.5 * (fixed[6.0] - fixed[2.0])) + 1000
    sized = tmp_path / "sized.lvc"
    api.encode(src, sized, model=TINY_VIDEO_ID, gop=6, size=target)
    assert sized.stat().st_size == pytest.approx(target, rel=0.15)


def test_fractional_quality_is_coded_as_the_stream_stores_it(tiny_env, tmp_path) -> None:  # noqa: ANN001
    """The stream keeps thousandths: a finer quality is rounded before coding, or the decoder would drift."""
    src = write_y4m(tmp_path / "src.y4m", moving_frames(2, 40, 56))
    lvc, recon = tmp_path / "q.lvc", tmp_path / "recon.y4m"
    api.encode(src, lvc, quality=4.12345, recon=recon)
    # The I-frame is boosted (INTRA_BOOST), the first P-frame lowered (P_OFFSETS).
    assert [f.quality for f in api.iter_decode(lvc)] == [5.123, 3.623]
    out = tmp_path / "out.y4m"
    _decode_in_subprocess(lvc, out, 1)
    assert out.read_bytes() == recon.read_bytes()


def test_rate_control_errors(tiny_env, tmp_path, capsys) -> None:  # noqa: ANN001
    src = write_y4m(tmp_path / "src.y4m", moving_frames(3, 40, 56))
    still = tmp_path / "still.png"
    from PIL import Image

    Image.fromarray(moving_frames(1, 40, 56)[0]).save(still)
    assert main(["encode", str(src), "-o", str(tmp_path / "a.lvc"), "-b", "100k", "--size", "3k"]) == 2
    assert main(["encode", str(src), "-o", str(tmp_path / "a.lvc"), "-b", "fast"]) == 2
    assert main(["encode", str(still), "-o", str(tmp_path / "a.lvc"), "-b", "100k"]) == 1
    assert main(["encode", str(src), "-o", str(tmp_path / "a.lvc"), "--size", "500"]) == 1
    err = capsys.readouterr().err
    assert "rate control is for video" in err and "leaves nothing for the video" in err
    assert not list(tmp_path.glob("a.lvc*")) and not list(tmp_path.glob(".a.lvc*"))


def test_p_frame_offsets_are_coded_as_given_and_decode_exactly(tiny_env, tiny_video_weights, tmp_path,  # noqa: ANN001
                                                               capsys) -> None:  # noqa: ANN001
    """``--p-offsets`` places each P-frame in its cycle (restarting after every I-frame), at a fixed
    quality and under rate control, and the streams decode to the recon in another process."""
    from tests.conftest import TINY_VIDEO_ID

    src = write_y4m(tmp_path / "src.y4m", moving_frames(7, 40, 56))
    for i, extra in enumerate(([], ["-b", "60k"])):
        lvc, recon, out = tmp_path / f"h{i}.lvc", tmp_path / f"recon{i}.y4m", tmp_path / f"out{i}.y4m"
        assert main(["encode", str(src), "-o", str(lvc), "--model", TINY_VIDEO_ID, "-q", "4", "-g", "4",
                     "--p-offsets=-0.5,0.25", "--recon", str(recon), "--quiet", *extra]) == 0
        frames = list(api.iter_decode(lvc))
        assert "".join(f.frame_type for f in frames) == "IPPPIPP"
        if not extra:
            assert [f.quality for f in frames] == [5.0, 3.5, 4.25, 3.5, 5.0, 3.5, 4.25]
        else:  # the controller moves the base; each P-frame keeps its offset from it (within max_step)
            q = [f.quality for f in frames]
            assert q[2] - q[1] == pytest.approx(0.75, abs=0.5 + 1e-3) and q[3] - q[2] == pytest.approx(-0.75,
                                                                                                   abs=0.5 + 1e-3)
        _decode_in_subprocess(lvc, out, 1)
        assert out.read_bytes() == recon.read_bytes()
    assert main(["encode", str(src), "-o", str(tmp_path / "a.lvc"), "--p-offsets=-0.5,x"]) == 2
    assert main(["encode", str(src), "-o", str(tmp_path / "a.lvc"), "--model", TINY_VIDEO_ID, "--p-offsets=9"]) == 1
    err = capsys.readouterr().err
    assert "expected quality offsets" in err and "within ±7 steps, got 9" in err
    assert not list(tmp_path.glob("a.lvc*")) and not list(tmp_path.glob(".a.lvc*"))
