"""``lvc compare``: real encodes of lvc, x264 and x265 on a tiny clip, the RD table, BD-rates and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lvc import api
from lvc.cli import main
from lvc.tools.compare import RdPoint, bd_rates, format_bd
from lvc.io.x26x import anchor_available, x26x_encode, x26x_options
from tests.test_inspect import write_clip

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_compare_end_to_end(tiny_env, tmp_path, capsys) -> None:  # noqa: ANN001
    src = write_clip(tmp_path / "clip.y4m", 6)
    report = tmp_path / "rd.json"
    args = ["compare", str(src), "--model", "tiny-test", "--qualities", "2,6", "--crf", "24,36", "--gop", "4",
            "--frames", "6", "--json", str(report)]
    plotting = True
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        plotting = False
    if plotting:
        args += ["--plot", str(tmp_path / "rd.png")]
    assert main(args) == 0
    out = capsys.readouterr().out
    doc = json.loads(report.read_text())
    anchors = [a for a in ("x264", "x265") if anchor_available(a)]
    assert [(p["codec"], p["setting"]) for p in doc["points"]] == (
        [("lvc", "q2"), ("lvc", "q6")] + [(a, c) for a in anchors for c in ("crf24", "crf36")])
    for p in doc["points"]:
        assert p["frames"] == 6 and p["file_bytes"] > 0
        assert p["bpp"] == pytest.approx(p["file_bytes"] * 8 / (64 * 48 * 6))
        assert 10 < p["psnr"] < 60 and 0 < p["ms_ssim"] <= 1
        assert f"{p['codec']:<6} {p['setting']:<8} {6:>6} {p['file_bytes']:>10}" in out
    # lvc's rate is the real file: the same encode on its own gives the same number of bytes.
    again = tmp_path / "again.lvc"
    api.encode(src, again, model="tiny-test", quality=2, gop=4, frames=6)
    assert doc["points"][0]["file_bytes"] == again.stat().st_size
    # A higher quality costs more bytes and gives a higher PSNR, for every codec.
    for codec in {p["codec"] for p in doc["points"]}:
        lo, hi = sorted((p for p in doc["points"] if p["codec"] == codec), key=lambda p: p["file_bytes"])
        assert lo["psnr"] < hi["psnr"]
    assert set(doc["bd_rate"]) == set(anchors)
    assert "BD-rate of lvc" in out
    for anchor in anchors:
        assert f"vs {anchor}: RGB PSNR" in out
    if plotting:
        assert (tmp_path / "rd.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("name", ["x264", "x265"])
def test_anchor_gop_matches(tmp_path, name) -> None:  # noqa: ANN001
    if not anchor_available(name):
        pytest.skip(f"this PyAV has no {name} encoder")
    import av

    src = write_clip(tmp_path / "clip.y4m", 7, width=34, height=27)  # odd height: coded padded, cropped back
    out = tmp_path / f"{name}.mp4"
    n, w, h, _ = x26x_encode(src, out, name, 30, gop=3, frames=6, progress=False)
    assert (n, w, h) == (6, 34, 27)
    with av.open(str(out)) as container:
        keys = [bool(p.is_keyframe) for p in container.demux(container.streams.video[0]) if p.size]
    assert keys == [True, False, False, True, False, False]  # intra period 3, no scene cuts, no B-frames


def test_anchor_options() -> None:
    x264 = x26x_options("x264", 27, 12)
    assert x264["preset"] == "medium" and x264["tune"] == "zerolatency" and x264["crf"] == "27"
    assert "keyint=12" in x264["x264-params"] and "scenecut=0" in x264["x264-params"]
    assert "keyint=12" in x26x_options("x265", 27, 12)["x265-params"]


def _point(codec: str, bpp: float, psnr: float) -> RdPoint:
    return RdPoint(codec, "s", 1, int(bpp * 64 * 48 / 8), 64, 48, 25.0, psnr, psnr, 1 - 10 ** (-psnr / 20))


def test_bd_rates_and_curves_that_do_not_overlap() -> None:
    ours = [_point("lvc", 0.5, 30), _point("lvc", 1.0, 34)]
    same = [_point("x264", 0.5, 30), _point("x264", 1.0, 34)]
    values, _ = bd_rates(ours + same)
    assert values["x264"]["psnr"] == pytest.approx(0, abs=1e-6)
    far = [_point("x265", 0.5, 40), _point("x265", 1.0, 44)]
    values, reasons = bd_rates(ours + far)
    assert values["x265"]["psnr"] is None
    text = format_bd(values, reasons)
    assert "vs x265: RGB PSNR n/a (curves do not overlap)" in text


@pytest.mark.parametrize("extra,needle", [
    (["--qualities", "0,9"], "--qualities"), (["--crf", "a"], "--crf"), (["--frames", "0"], "--frames"),
])
def test_bad_options_are_one_line(tiny_env, tmp_path, capsys, extra, needle) -> None:  # noqa: ANN001
    src = write_clip(tmp_path / "clip.y4m", 2)
    assert main(["compare", str(src), "--model", "tiny-test", *extra]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lvc: error:") and needle in err, err


def test_bad_source_is_one_line(tiny_env, tmp_path, capsys) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 10)
    for path, needle in ((bad, "not a readable"), (tmp_path / "missing.mp4", "no such file")):
        assert main(["compare", str(path), "--model", "tiny-test"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, err
    assert main(["compare", str(bad), "--gop", "auto"]) == 2  # a usage error: x26x need a fixed GOP
    capsys.readouterr()


def test_frames_are_decoded_not_assumed(tmp_path) -> None:  # noqa: ANN001
    """The measurement reads the file back: a decoded frame that differs from the source lowers PSNR."""
    from lvc.tools.compare import measure

    src = write_clip(tmp_path / "clip.y4m", 3)
    from lvc.io.video import open_media

    _, frames = open_media(src)
    exact = [f.rgb for f in frames]
    n, p, _, m = measure(iter(exact), src, 3, label="t", progress=False)
    assert n == 3 and p == float("inf") and m == pytest.approx(1.0)
    noisy = [np.clip(f.astype(int) + 4, 0, 255).astype(np.uint8) for f in exact]
    _, p, _, _ = measure(iter(noisy), src, 3, label="t", progress=False)
    assert 30 < p < 40
    with pytest.raises(Exception, match="decoded only 2 frames"):
        measure(iter(exact[:2]), src, 3, label="t", progress=False)
