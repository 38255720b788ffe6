"""What a new user runs into (issue 12): each defect found by trying lvc as a newcomer, as a test."""

from __future__ import annotations

import importlib
import os
import stat
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from lvc import api
from lvc.cli import main
from lvc.io.container import stream_info
from lvc.io.video import VIEW_CRF
from tests.conftest import ROOT, SHARED_DATA, TINY_ID, natural_image
from tests.media import moving_frames, write_clip

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "in.png"
    Image.fromarray(natural_image(40, 56)).save(path)
    return path


def _one_line(capsys: pytest.CaptureFixture, code: int, needle: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith("lvc: error:") and needle in lines[0], err
    return lines[0]


def _audio_seconds(path: Path) -> float:
    """Seconds of audio in ``path``: the span of its audio packets."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        packets = [p for p in c.demux(s) if p.dts is not None]
    return float((packets[-1].pts + packets[-1].duration - packets[0].pts) * s.time_base)


# ---------------------------------------------------------------------- A1: lvc.info() keeps working
def test_lvc_info_stays_a_function_after_any_import(tiny_env, png, tmp_path) -> None:  # noqa: ANN001
    import lvc

    out = tmp_path / "k.lvc"
    lvc.encode(png, out, model=TINY_ID)
    for module in ("lvc.api", "lvc.format.stream_info", "lvc.tools.inspect", "lvc.cli"):
        importlib.import_module(module)
    first, second = lvc.info(out), lvc.info(out)  # this raised "'module' object is not callable"
    assert first == second and first.width == 56


# ---------------------------------------------------------------------- A2: image-sequence patterns
def test_image_sequence_pattern_encodes(tiny_env, tmp_path, capsys) -> None:  # noqa: ANN001
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, rgb in enumerate(moving_frames(3, 24, 32), start=1):
        Image.fromarray(rgb).save(folder / f"{i:04d}.png")
    out = tmp_path / "seq.lvc"
    assert main(["encode", str(folder / "%04d.png"), "-o", str(out), "--model", TINY_ID, "--quiet"]) == 0
    info = stream_info(out)
    assert (info.frames, info.width, info.height, info.container) == (3, 32, 24, "mp4")
    missing = main(["encode", str(folder / "%03d.jpg"), "-o", str(tmp_path / "x.lvc"), "--model", TINY_ID])
    _one_line(capsys, missing, "no files match")


# ---------------------------------------------------------------------- A3: a phone-style MP4
PHONE_PTS = [0, 33367, 40000, 100100, 133467, 166833]  # µs: frame 2 came early, as phone camera timestamps do


def _phone_clip(path: Path, frames: int) -> Path:
    """H.264 with B-frames in a 1/1000000 time base at about 30000/1001 fps, with variable frame timing and
    48 kHz AAC, as phones write. In 1/fps ticks frames 1 and 2 round to the same pts."""
    fps = Fraction(30000, 1001)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt, v.time_base = 48, 32, "yuv420p", Fraction(1, 1_000_000)
        v.codec_context.time_base = v.time_base  # the encoder counts in microseconds too, as a phone's does
        a = out.add_stream("aac", rate=48000)
        a.layout = "mono"
        for i, rgb in enumerate(moving_frames(frames, 32, 48)):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            f.pts, f.time_base = PHONE_PTS[i], Fraction(1, 1_000_000)
            for p in v.encode(f):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        n = int(48000 * frames / fps)
        pcm = (0.3 * np.sin(np.arange(n, dtype=np.float32) * 0.05)).astype(np.float32)[None]
        af = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="mono")
        af.sample_rate, af.pts = 48000, 0
        for p in [*a.encode(af), *a.encode(None)]:
            out.mux(p)
    return path


def test_phone_style_mp4_round_trips_with_its_timing(tiny_env, tmp_path) -> None:  # noqa: ANN001
    src = _phone_clip(tmp_path / "phone.mp4", 6)
    lvc, out, recon = tmp_path / "p.lvc", tmp_path / "p.mp4", tmp_path / "recon.mp4"
    assert main(["encode", str(src), "-o", str(lvc), "--model", TINY_ID, "--recon", str(recon), "--quiet"]) == 0
    assert main(["decode", str(lvc), "-o", str(out), "--quiet"]) == 0  # this failed while muxing: EINVAL
    with av.open(str(src)) as c:
        want = [float(f.pts * f.time_base) for f in c.decode(video=0)]
    assert want == pytest.approx([t / 1e6 for t in PHONE_PTS])
    for written in (out, recon):
        with av.open(str(written)) as c:
            assert [float(f.pts * f.time_base) for f in c.decode(video=0)] == pytest.approx(want, abs=1e-4)
    assert stream_info(lvc).time_base == Fraction(1, 1_000_000)


# ---------------------------------------------------------------------- A4: trimmed encodes trim the audio
def test_frames_and_start_trim_the_audio(tiny_env, tmp_path) -> None:  # noqa: ANN001
    src = write_clip(tmp_path / "a.mp4", moving_frames(20, 16, 16), audio=True)  # 0.8 s of video and sound
    whole = _audio_seconds(src)
    lvc = tmp_path / "t.lvc"
    api.encode(src, lvc, model=TINY_ID, frames=5, start=0.2)  # 0.2 .. 0.4 s
    kept = _audio_seconds(lvc)
    assert whole > 0.7 and kept < 0.2 + 2 * 0.064  # an AAC packet (1024 samples at 16 kHz) on either side
    with av.open(str(lvc)) as c:
        s = c.streams.audio[0]
        first = next(p for p in c.demux(s) if p.dts is not None)
        assert float(first.pts * s.time_base) == pytest.approx(0.2, abs=0.07)  # in sync with the video
    decoded = tmp_path / "d.mp4"
    api.decode(lvc, decoded, frames=2)  # decode trims too
    assert _audio_seconds(decoded) < 0.08 + 2 * 0.064
    quiet = tmp_path / "n.lvc"
    api.encode(src, quiet, model=TINY_ID, frames=2, audio=False)
    assert stream_info(quiet).audio_streams == 0


def test_compare_counts_no_audio(tiny_env, tiny_model, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from lvc.tools import compare

    seen = []
    real = api.encode

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(kwargs.get("audio", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "encode", spy)
    src = write_clip(tmp_path / "a.mp4", moving_frames(4, 16, 16), audio=True)
    point = compare.lvc_point(src, 4.0, gop=4, frames=2, model=tiny_model, device="cpu", workdir=tmp_path,
                              progress=False)
    assert seen == [False]
    assert stream_info(tmp_path / "lvc_q4.lvc").audio_streams == 0 and point.frames == 2


# ---------------------------------------------------------------------- A5: unwritable outputs, before the work
def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder nothing can be created in: read-only for a normal user; as root (whom permissions do not
    stop) sysfs, which refuses new files."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        (folder / "probe").write_bytes(b"")
    except OSError:
        return folder
    (folder / "probe").unlink()
    if Path("/sys").is_dir() and _refuses("/sys"):
        return Path("/sys")
    pytest.skip("no folder here refuses new files")


def _refuses(folder: str) -> bool:
    try:
        with open(Path(folder) / f".lvc-probe-{os.getpid()}", "xb"):
            return False
    except OSError:
        return True


@pytest.mark.parametrize("command", [
    "encode", "encode --recon", "decode", "inspect --csv", "inspect --json", "inspect --plot", "inspect --html",
    "compare --json", "compare --plot",
])
@pytest.mark.parametrize("folder", ["unwritable", "missing"])
def test_unwritable_output_is_one_line_before_the_work(tiny_env, png, tmp_path, capsys, monkeypatch,  # noqa: ANN001
                                                       command, folder) -> None:
    """An output in a folder that refuses new files, or under one that does not exist (``nowhere/x.out``)."""
    stream = tmp_path / "k.lvc"
    api.encode(png, stream, model=TINY_ID)
    ro = _unwritable_folder(tmp_path) if folder == "unwritable" else tmp_path / "nowhere"
    name, _, option = command.partition(" ")
    suffix = {"--plot": ".png", "--html": ".html", "--csv": ".csv", "--json": ".json", "--recon": ".png"}
    target = str(ro / f"out{suffix.get(option, '.png' if name == 'decode' else '.lvc')}")
    argv = {"encode": ["encode", str(png), "-o", target if not option else str(tmp_path / "o.lvc"),
                       "--model", TINY_ID],
            "decode": ["decode", str(stream), "-o", target],
            "inspect": ["inspect", str(stream)],
            "compare": ["compare", str(png), "--model", TINY_ID, "--frames", "1"]}[name]
    if option:
        argv += [option, target]
    from lvc.models import zoo

    def no_work(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(zoo, "load_image_model", no_work)
    monkeypatch.setattr(api, "_decoded", no_work)
    try:
        _one_line(capsys, main(argv), "cannot write into" if folder == "unwritable" else "folder does not exist")
    finally:
        if folder == "unwritable" and ro != Path("/sys"):
            ro.chmod(stat.S_IRWXU)
    assert not (tmp_path / "o.lvc").exists()
    assert folder == "unwritable" or not ro.exists()  # nor was the missing folder made


def test_output_under_a_file_is_one_line(tiny_env, png, tmp_path, capsys) -> None:  # noqa: ANN001
    _one_line(capsys, main(["encode", str(png), "-o", str(png / "x.lvc"), "--model", TINY_ID]), "is a file")


# ---------------------------------------------------------------------- A6: errors come before torch
BAD = [
    ["encode", "missing.png", "-o", "x.lvc"],
    ["encode", "{png}", "-o", "nowhere/x.lvc"],
    ["encode", "{png}", "-o", "x.lvc", "-q", "9"],
    ["encode", "{png}", "-o", "x.lvc", "--frames", "0"],
    ["encode", "{png}", "-o", "x.lvc", "--device", "tpu"],
    ["encode", "{png}", "-o", "x.lvc", "--recon", "r.txt"],
    ["encode", "{png}", "-o", "x.lvc", "--preset", "fast", "-b", "100k"],
    ["decode", "missing.lvc", "-o", "x.png"],
    ["decode", "{png}", "-o", "x.webp"],
    ["decode", "{png}", "-o", "x.y4m", "--lossless"],
    ["inspect", "missing.lvc"],
    ["inspect", "{png}", "--ref", "missing.mp4"],
    ["compare", "missing.mp4"],
    ["compare", "{png}", "--qualities", "0"],
    ["encode", "{png}", "-o", "x.lvc", "--model", "bogus"],
    ["compare", "{png}", "--model", "bogus"],
    ["decode", "{uninstalled}", "-o", "x.png"],
    ["inspect", "{uninstalled}"],
    ["decode", "{mismatch}", "-o", "x.mp4"],
    ["inspect", "{mismatch}", "--csv", "x.csv"],
]


def _stream_naming(path: Path, model_id: str, weight_hash: bytes, *, elementary: bool) -> Path:
    """A valid .lvc file (bare or MP4) whose header names ``model_id`` with ``weight_hash``: only the model it
    needs is wrong. Its one frame's payload is junk, which a decoder that got that far would report instead."""
    from lvc.format import bitstream as bs
    from lvc.io.container import AccessUnit, ContainerWriter

    header = bs.pack_sequence_header(bs.SequenceHeader(width=16, height=16, model_id=model_id,
                                                       weight_hash=weight_hash))
    frame = bs.pack_frame(bs.Frame(frame_type="I", pts=0, duration=1, quality=4.0, recon_crc=0, streams=[b"x"]))
    writer = ContainerWriter(path, time_base=Fraction(1, 25), elementary=elementary)
    writer.write(AccessUnit(header + frame, 0, 1))
    writer.close()
    return path


def test_bad_input_is_reported_without_loading_torch(tmp_path, png) -> None:  # noqa: ANN001
    """Each mistake gets its line before torch loads: 0.3-0.6 s here, where importing torch first took 2.6-4.2 s.
    That includes a model that is not installed and a stream made with weights this install does not have."""
    from lvc.weights import DEFAULT_IMAGE_MODEL, file_hash, weight_path

    installed = file_hash(weight_path(DEFAULT_IMAGE_MODEL))
    streams = {"{png}": png,
               "{uninstalled}": _stream_naming(tmp_path / "u.lvc", "not-installed", installed, elementary=True),
               "{mismatch}": _stream_naming(tmp_path / "m.lvc", DEFAULT_IMAGE_MODEL, bytes(8), elementary=False)}
    assert installed != bytes(8)
    cases = [[str(streams.get(a, a)) for a in argv] for argv in BAD]
    code = ("import json, sys, time\nfrom lvc.cli import main\nout = []\n"
            f"for argv in {cases!r}:\n"
            "    t = time.perf_counter(); rc = main(argv)\n"
            "    out.append([rc, 'torch' in sys.modules, time.perf_counter() - t])\n"
            "print(json.dumps(out))\n")
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    import json

    results = json.loads(res.stdout.strip().splitlines()[-1])
    for argv, (rc, torch_loaded, _) in zip(cases, results, strict=True):
        assert rc != 0 and not torch_loaded, (argv, res.stderr)
    assert res.stderr.count("lvc: error:") == len(cases), res.stderr
    lines = res.stderr.splitlines()
    assert sum("model 'bogus' is not installed" in line for line in lines) == 2, res.stderr
    assert sum("model 'not-installed', which is not installed" in line for line in lines) == 2, res.stderr
    assert sum(f"but this install has {installed.hex()}" in line for line in lines) == 2, res.stderr
    assert not list(tmp_path.glob("x.*")), "an output was written"
    assert time.perf_counter() - t0 < 60


# ---------------------------------------------------------------------- A7: entry points and the version
def test_version_has_one_source_and_entry_points(capsys) -> None:  # noqa: ANN001
    import tomllib
    from importlib import metadata

    import lvc

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lvc {lvc.__version__}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lvc.__version__"}
    try:
        assert metadata.version("lvc") == lvc.__version__
    except metadata.PackageNotFoundError:
        pass  # running from a checkout that was never installed
    res = subprocess.run([sys.executable, "-m", "lvc", "--version"], capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == f"lvc {lvc.__version__}"
    assert (ROOT / "lvc" / "py.typed").exists()


# ---------------------------------------------------------------------- A8: inspect --ref by timestamp
def test_inspect_ref_matches_frames_by_time(tiny_env, tmp_path, capsys) -> None:  # noqa: ANN001
    from tests.media import write_y4m

    src = write_y4m(tmp_path / "src.y4m", moving_frames(8, 24, 32))
    lvc = tmp_path / "t.lvc"
    api.encode(src, lvc, model=TINY_ID, frames=3, start=0.12)  # source frames 3, 4, 5
    exact = write_y4m(tmp_path / "exact.y4m", moving_frames(8, 24, 32)[3:6])
    json_whole, json_exact = tmp_path / "whole.json", tmp_path / "exact.json"
    assert main(["inspect", str(lvc), "--ref", str(src), "--json", str(json_whole), "--quiet"]) == 0
    import json

    whole = json.loads(json_whole.read_text())["records"]
    assert [r["index"] for r in whole] == [0, 1, 2] and all(r["psnr"] > 10 for r in whole)
    # The right frames were compared: a source of only frames 3-5, shifted to start at 0, is refused...
    assert main(["inspect", str(lvc), "--ref", str(exact), "--json", str(json_exact), "--quiet"]) == 1
    assert "0.120 s, the time of frame 0" in capsys.readouterr().err
    # ...and frame 0 of the whole source (a different picture) would have scored lower.
    from lvc.metrics import psnr

    decoded = next(api.iter_decode(lvc)).rgb
    assert whole[0]["psnr"] == pytest.approx(psnr(_y4m_frame(src, 3), decoded))
    assert whole[0]["psnr"] > psnr(_y4m_frame(src, 0), decoded)
    short = write_y4m(tmp_path / "short.y4m", moving_frames(8, 24, 32)[:4])  # ends at frame 3 (0.12 s): frame 4 is missing
    assert main(["inspect", str(lvc), "--ref", str(short)]) == 1
    assert "ends before 0.160 s" in capsys.readouterr().err


def _y4m_frame(path: Path, index: int) -> np.ndarray:
    from lvc.io.video import open_media

    _, it = open_media(path)
    try:
        for i, f in enumerate(it):
            if i == index:
                return f.rgb
    finally:
        it.close()
    raise AssertionError(index)


# ---------------------------------------------------------------------- A9: compare --quiet prints the table
def test_compare_quiet_still_prints_the_table(tiny_env, tmp_path, capsys) -> None:  # noqa: ANN001
    from tests.media import write_y4m

    src = write_y4m(tmp_path / "src.y4m", moving_frames(2, 16, 16))
    assert main(["compare", str(src), "--model", TINY_ID, "--qualities", "2,6", "--crf", "24,36", "-g", "2",
                 "--frames", "2", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "codec  setting" in captured.out and "BD-rate of lvc" in captured.out
    assert "[1/" not in captured.err and "encode [" not in captured.err  # no progress


# ---------------------------------------------------------------------- A10: decode -o out.mp4
def test_decode_mp4_is_for_viewing_and_lossless_is_exact(tiny_env, tmp_path) -> None:  # noqa: ANN001
    from tests.media import write_y4m

    src = write_y4m(tmp_path / "src.y4m", moving_frames(3, 32, 48))
    lvc, pngs = tmp_path / "v.lvc", tmp_path / "pngs"
    api.encode(src, lvc, model=TINY_ID)
    assert main(["decode", str(lvc), "-o", str(pngs), "--quiet"]) == 0
    exact = [np.asarray(Image.open(p)) for p in sorted(pngs.iterdir())]
    view, lossless = tmp_path / "view.mp4", tmp_path / "exact.mp4"
    assert main(["decode", str(lvc), "-o", str(view), "--quiet"]) == 0
    assert main(["decode", str(lvc), "-o", str(lossless), "--lossless", "--quiet"]) == 0
    with av.open(str(view)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.name, s.codec_context.pix_fmt) == ("h264", "yuv420p")
    assert _x264_crf(view) == VIEW_CRF
    with av.open(str(lossless)) as c:
        got = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(got) == 3 and all(np.array_equal(a, b) for a, b in zip(got, exact))
    assert view.stat().st_size < lossless.stat().st_size


def _x264_crf(path: Path) -> float:
    """The CRF x264 coded ``path`` with, from the options it writes into the stream
    (an SEI: "x264 - core ... crf=18.0 ...")."""
    import re

    found = re.findall(rb"x264 - core .*?crf=(\d+(?:\.\d+)?)", path.read_bytes(), flags=re.DOTALL)
    assert len(found) == 1, found
    return float(found[0])


def test_decode_mp4_at_an_odd_size_is_444_at_that_size(tiny_env, tmp_path) -> None:  # noqa: ANN001
    """4:2:0 cannot hold an odd width or height: the .mp4 is 4:4:4 at the source's size (README), at the same CRF."""
    from lvc.io.video import Y4mWriter

    src = tmp_path / "odd.y4m"
    writer = Y4mWriter(src, width=23, height=17, fps=Fraction(25), pix_fmt="yuv444p")
    for i, rgb in enumerate(moving_frames(2, 17, 23)):
        writer.write(rgb, i, 1)
    writer.close()
    lvc, view = tmp_path / "odd.lvc", tmp_path / "odd.mp4"
    api.encode(src, lvc, model=TINY_ID)
    assert main(["decode", str(lvc), "-o", str(view), "--quiet"]) == 0
    with av.open(str(view)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.name, s.codec_context.pix_fmt, s.width, s.height) == ("h264", "yuv444p", 23, 17)
        assert len(list(c.decode(video=0))) == 2
    assert _x264_crf(view) == VIEW_CRF


# ---------------------------------------------------------------------- A11: an lvc stream under .mp4
def test_encode_to_a_player_extension_warns(tiny_env, png, tmp_path, capsys) -> None:  # noqa: ANN001
    assert main(["encode", str(png), "-o", str(tmp_path / "oops.mp4"), "--model", TINY_ID, "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lvc: warning:") and "oops.mp4" in err and ".lvc" in err
    assert main(["encode", str(png), "-o", str(tmp_path / "fine.lvc"), "--model", TINY_ID, "--quiet"]) == 0
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------- A12: an interrupted decode into new folders
@pytest.mark.parametrize("command", ["decode", "inspect --dump"])
def test_interrupted_run_leaves_no_empty_folder(tiny_env, tmp_path, monkeypatch, capsys, command) -> None:  # noqa: ANN001
    from tests.media import write_y4m

    src = write_y4m(tmp_path / "src.y4m", moving_frames(3, 16, 16))
    lvc = tmp_path / "v.lvc"
    api.encode(src, lvc, model=TINY_ID)
    real = api._decoded  # what both decode and iter_decode (inspect) take their frames from

    def interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - Ctrl-C after the first frame
        for i, frame in enumerate(real(*args, **kwargs)):
            if i == 1:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(api, "_decoded", interrupted)
    out = tmp_path / "frames"
    argv = (["decode", str(lvc), "-o", str(out)] if command == "decode"
            else ["inspect", str(lvc), "--dump", str(out), "--frames", "0-2"])
    assert main(argv) == 130
    assert not out.exists()


# ---------------------------------------------------------------------- A13: lvc info on a still
def test_info_on_a_still_prints_no_video_rates(tiny_env, png, tmp_path, capsys) -> None:  # noqa: ANN001
    still = tmp_path / "s.lvc"
    api.encode(png, still, model=TINY_ID)
    capsys.readouterr()
    assert main(["info", str(still)]) == 0
    out = capsys.readouterr().out
    assert "56x40" in out and "bpp" in out and "quality" in out
    for meaningless in ("fps", "GOP", "kb/s", " s "):
        assert meaningless not in out, out


# ---------------------------------------------------------------------- A14: the presets' docstring
def test_presets_docstring_says_what_the_presets_do() -> None:
    """The ``fast`` bullet says what PRESETS["fast"] does: its flow scale, its warp fit, no RD fit, and
    whether it offers global motion; the sentence on global motion names the presets that leave it out."""
    import re

    import lvc.codec.presets as presets

    fast = presets.PRESETS["fast"]
    bullets = re.split(r"\n(?=\* )|\n\n", presets.__doc__)
    line = " ".join(next(b for b in bullets if b.startswith("* ``fast``")).split())  # the bullet, unwrapped
    scale = {0.5: "half size", 0.25: "quarter size", None: None}[fast.flow_scale]
    assert scale is None or scale in line, line
    assert ("fit to the warp error" in line) == fast.warp_fit, line
    assert ("no global motion" in line) == (not fast.global_motion), line
    assert ("RdFlowRefiner" in line or "rate–distortion" in line) == bool(fast.rd_iters), line
    assert ("previous P-frame" in line) == fast.temporal_motion, line
    without = [name for name, p in presets.PRESETS.items() if not p.global_motion]
    assert without == ["fast"] and "Every preset but ``fast`` offers the flow's median" in presets.__doc__


def test_frames_labelled_in_decode_order_get_increasing_pts(tiny_env, tmp_path) -> None:  # noqa: ANN001
    """MPEG-4 Part 2 with B-frames in AVI labels decoded frames 1, 2, 3, 5, 4, 6, …: the muxer refused
    the pts that went back (a traceback, found on train_video/Megamind.avi). Each frame now takes the
    smallest pending pts, so the labels come back in order, and garbage still comes out increasing."""
    from lvc.io.video import SourceFrame, _in_order

    def frames(pts: list[int]):  # noqa: ANN202
        yield from (SourceFrame(rgb=np.zeros((2, 2, 3), np.uint8), pts=p, duration=1) for p in pts)

    assert [f.pts for f in _in_order(frames([1, 2, 3, 5, 4, 6, 8, 7, 9]))] == list(range(1, 10))
    assert [f.pts for f in _in_order(frames([0, 9, 9, 1, 2, 3, 4, 5]))] == [0, 1, 2, 3, 4, 5, 9, 10]
    clip = SHARED_DATA / "train_video" / "Megamind.avi"
    if not clip.exists():
        pytest.skip(f"{clip} not found (set LVC_SHARED_DATA to run the file's own check)")
    out = tmp_path / "m.lvc"
    assert main(["encode", str(clip), "-o", str(out), "--model", TINY_ID, "--frames", "6", "--quiet"]) == 0
    assert stream_info(out).frames == 6
