"""``lvc inspect``: per-frame records, summaries, CSV/JSON, --ref checks, panels, flow colours and the HTML page."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lvc import api
from lvc.cli import main
from lvc.tools.inspect import GopCounter, evenly_spaced, inspect, parse_frame_list
from lvc.io.container import ContainerReader
from lvc.io.video import Y4mWriter
from lvc.tools.panels import compose_panel, error_heatmap, flow_to_rgb, frame_tiles, residual_to_rgb
from tests.conftest import natural_image

W, H = 64, 48


def write_clip(path: Path, frames: int, width: int = W, height: int = H) -> Path:
    """A y4m clip panning across a natural image: ``frames`` frames of ``width`` x ``height``."""
    base = natural_image(height, width + 80, 1)
    writer = Y4mWriter(path, width=width, height=height, fps=Fraction(25))
    for i in range(frames):
        writer.write(np.ascontiguousarray(base[:, i % 80:i % 80 + width]), i, 1)
    writer.close()
    return path


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, tiny_model) -> tuple[Path, Path]:  # noqa: ANN001
    """An 8-frame source and its .lvc (GOP 4), encoded once for the module."""
    folder = tmp_path_factory.mktemp("inspect")
    src = write_clip(folder / "clip.y4m", 8)
    out = folder / "clip.lvc"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    api.encode(src, out, model=tiny_model, gop=4, quality=4)
    torch.set_num_threads(threads)
    return src, out


def _one_line_error(capsys: pytest.CaptureFixture, code: int, *needles: str) -> str:
    err = capsys.readouterr().err
    assert code == 1, err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip() and "inspect [" not in line]
    assert len(lines) == 1 and lines[0].startswith("lvc: error:"), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------------- records and summaries
def test_records_match_info_and_container_payload(tiny_env, clip) -> None:  # noqa: ANN001
    src, lvc = clip
    info = api.info(lvc)
    report = inspect(lvc, ref=src)
    assert [r.index for r in report.records] == list(range(info.frames))
    assert "".join(r.type for r in report.records) == info.frame_types
    with ContainerReader(lvc) as reader:
        payload = sum(len(au.data) for au in reader.units())
    assert sum(r.bytes for r in report.records) == payload == report.payload_bytes
    for r in report.records:
        assert sum(r.parts.values()) == r.bytes
        assert r.bpp == pytest.approx(r.bytes * 8 / (W * H))
        assert 10 < r.psnr < 60 and 10 < r.psnr_y < 60 and 0 < r.ms_ssim <= 1
    gops = report.gops()
    assert [(g.first, g.last) for g in gops] == [(0, 3), (4, 7)]
    clip_summary = report.clip()
    assert clip_summary.bytes == payload and clip_summary.frames == 8
    assert clip_summary.psnr == pytest.approx(np.mean([r.psnr for r in report.records]))


def test_p_frames_say_how_their_motion_was_coded(tiny_env, tiny_video_weights, tmp_path, capsys) -> None:  # noqa: ANN001
    """Each P-frame's record, CSV row and table row name its motion mode; I-frames name none."""
    from lvc.models.zoo import load_image_model

    src, out = write_clip(tmp_path / "pan.y4m", 4), tmp_path / "pan.lvc"
    api.encode(src, out, model=load_image_model(str(tiny_video_weights)), gop=4, quality=4, mode_decision=False)
    report = inspect(out)
    assert "".join(r.type for r in report.records) == "IPPP"
    assert report.records[0].motion == ""
    assert all(re.fullmatch(r"(fresh|temporal|global|zero|uniform)(@q[\d.]+)?", r.motion) for r in report.records[1:])
    csv_path = tmp_path / "pan.csv"
    assert main(["inspect", str(out), "--csv", str(csv_path)]) == 0
    table = capsys.readouterr().out
    assert "mode" in table.splitlines()[0].split()
    assert [row["motion_mode"] for row in csv.DictReader(csv_path.open())] == [r.motion for r in report.records]
    counts = re.search(r"^P-frame motion: (.+)$", table, re.M)
    assert counts and sum(int(c.rsplit(" ", 1)[1]) for c in counts.group(1).split(", ")) == 3


def test_without_ref_there_are_no_metrics(tiny_env, clip) -> None:  # noqa: ANN001
    report = inspect(clip[1])
    assert all(r.psnr is None and r.ms_ssim is None for r in report.records)
    assert report.clip().psnr is None


@pytest.mark.parametrize("types,period,expected", [
    ("IPPPIPPP", 4, [0, 0, 0, 0, 1, 1, 1, 1]),
    ("IIIIIIII", 4, [0, 0, 0, 0, 1, 1, 1, 1]),  # all-intra streams group by the intra period
    ("IPIPPP", 12, [0, 0, 1, 1, 1, 1]),  # a scene cut starts a GOP
    ("III", 1, [0, 1, 2]),
])
def test_gop_counter(types: str, period: int, expected: list[int]) -> None:
    counter = GopCounter(period)
    assert [counter.next(t) for t in types] == expected


def test_frame_lists() -> None:
    assert parse_frame_list("10,20-25") == [10, 20, 21, 22, 23, 24, 25]
    assert parse_frame_list(" 3, 1,3 ") == [1, 3]
    for bad in ("", "a", "5-2", "-1", "1,,x"):
        with pytest.raises(Exception, match="--frames"):
            parse_frame_list(bad)
    assert evenly_spaced(5) == [0, 1, 2, 3, 4]
    picked = evenly_spaced(1000, 30)
    assert len(picked) == 30 and picked[0] == 0 and picked[-1] == 999


# ---------------------------------------------------------------------- the CLI and its files
def test_cli_table_csv_and_json(tiny_env, clip, tmp_path, capsys) -> None:  # noqa: ANN001
    src, lvc = clip
    csv_path, json_path = tmp_path / "f.csv", tmp_path / "f.json"
    assert main(["inspect", str(lvc), "--ref", str(src), "--csv", str(csv_path), "--json", str(json_path)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:6] == ["frame", "pts", "type", "q", "bytes", "bpp"] and header[-3:] == ["PSNR", "PSNR-Y", "MS-SSIM"]
    assert "hyper" in header and "latent" in header
    assert re.search(r"^GOP 0 +0-3 +IIII ", out, re.M) and re.search(r"^clip +0-7 ", out, re.M)

    rows = list(csv.DictReader(csv_path.open()))
    doc = json.loads(json_path.read_text())
    assert len(rows) == len(doc["records"]) == 8 == doc["frames"]
    for row, rec in zip(rows, doc["records"]):
        assert int(row["bytes"]) == rec["bytes"] == rec["bytes_header"] + rec["bytes_hyper"] + rec["bytes_latent"]
        assert float(row["psnr"]) == pytest.approx(rec["psnr"])
        assert float(row["ms_ssim"]) == pytest.approx(rec["ms_ssim"])
        assert row["type"] == rec["type"] == "I"
        assert float(row["quality"]) == rec["quality"] == 4.0  # all-intra: every frame at -q, as coded
    assert doc["clip"]["bytes"] == doc["payload_bytes"] == sum(r["bytes"] for r in doc["records"])
    assert doc["file_bytes"] == lvc.stat().st_size
    assert [g["frames"] for g in doc["gops"]] == [4, 4]
    # The table's rows carry the same numbers as the files.
    first = out.splitlines()[1].split()
    assert float(first[3]) == doc["records"][0]["quality"] and int(first[4]) == doc["records"][0]["bytes"]
    assert float(first[-3]) == pytest.approx(doc["records"][0]["psnr"], abs=0.006)


def test_outputs_are_not_overwritten_without_y(tiny_env, clip, tmp_path, capsys) -> None:  # noqa: ANN001
    keep = tmp_path / "f.csv"
    keep.write_text("keep")
    _one_line_error(capsys, main(["inspect", str(clip[1]), "--csv", str(keep)]), "already exists")
    assert keep.read_text() == "keep"


def _fake_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the reference's container not say its frame count, so the mismatch is found while streaming."""
    import dataclasses

    import lvc.io.video as video

    real = video.open_media

    def open_media(path):  # noqa: ANN001, ANN202
        info, frames = real(path)
        return dataclasses.replace(info, frames=None), frames

    monkeypatch.setattr(video, "open_media", open_media)


@pytest.mark.parametrize("count_known", [True, False])
def test_ref_that_lacks_coded_frames_is_one_line(tiny_env, clip, tmp_path, capsys, monkeypatch,  # noqa: ANN001
                                                 count_known) -> None:
    ref = write_clip(tmp_path / "ref.y4m", 6)  # the stream's frames 6 and 7 are not in it
    if not count_known:
        _fake_count(monkeypatch)
    dump = tmp_path / "dump"
    code = main(["inspect", str(clip[1]), "--ref", str(ref), "--frames", "0,7", "--dump", str(dump)])
    _one_line_error(capsys, code, "--ref", "ends before 0.240 s", "frame 6 of 8")
    assert not dump.exists()  # panels written before the mismatch showed are removed, and the folder made


def test_longer_ref_is_matched_by_time(tiny_env, clip, tmp_path) -> None:  # noqa: ANN001
    longer = write_clip(tmp_path / "ref.y4m", 10)  # the 8 coded frames, then 2 more
    exact = inspect(clip[1], ref=clip[0]).records
    assert [r.psnr for r in inspect(clip[1], ref=longer).records] == [r.psnr for r in exact]


def test_ref_with_another_size_is_one_line(tiny_env, clip, tmp_path, capsys) -> None:  # noqa: ANN001
    ref = write_clip(tmp_path / "small.y4m", 8, width=32, height=32)
    _one_line_error(capsys, main(["inspect", str(clip[1]), "--ref", str(ref)]), "32x32", "64x48")


@pytest.mark.parametrize("content,needle", [(None, "no such file"), (b"", "empty"), (b"not an lvc file\n" * 4, "not")])
def test_bad_input_is_one_line(tiny_env, tmp_path, capsys, content, needle) -> None:  # noqa: ANN001
    path = tmp_path / "bad.lvc"
    if content is not None:
        path.write_bytes(content)
    _one_line_error(capsys, main(["inspect", str(path)]), needle)


def test_bad_frame_choices_are_one_line(tiny_env, clip, tmp_path, capsys) -> None:  # noqa: ANN001
    lvc = str(clip[1])
    _one_line_error(capsys, main(["inspect", lvc, "--frames", "9", "--dump", str(tmp_path / "d")]), "has 8 frames")
    _one_line_error(capsys, main(["inspect", lvc, "--frames", "1"]), "--dump")
    _one_line_error(capsys, main(["inspect", lvc, "--frames", "x", "--dump", str(tmp_path / "d")]), "--frames")


# ---------------------------------------------------------------------- panels
def test_dump_writes_one_panel_per_chosen_frame(tiny_env, clip, tmp_path) -> None:  # noqa: ANN001
    src, lvc = clip
    dump = tmp_path / "dump"
    assert main(["inspect", str(lvc), "--ref", str(src), "--frames", "1,5-6", "--dump", str(dump), "--quiet"]) == 0
    assert sorted(p.name for p in dump.iterdir()) == ["frame_000001.png", "frame_000005.png", "frame_000006.png"]
    panel = np.asarray(Image.open(dump / "frame_000005.png"))
    # I-frames: source, decoded and the error heatmap side by side (tiles are at least 96 px wide for labels).
    expected = compose_panel(frame_tiles(np.zeros((H, W, 3), np.uint8), np.zeros((H, W, 3), np.uint8)))
    assert panel.shape == expected.shape
    decoded = next(f.rgb for f in api.iter_decode(lvc) if f.index == 5)
    from lvc.tools.panels import LABEL_HEIGHT

    top, left = 4 + LABEL_HEIGHT, 4 + 96 + 4  # second tile: the decoded frame, bit-exact in the PNG
    np.testing.assert_array_equal(panel[top:top + H, left:left + W], decoded)


def test_p_frame_panel_from_synthetic_intermediates() -> None:
    rng = np.random.default_rng(0)
    src = natural_image(H, W, 2)
    dec = np.clip(src.astype(int) + rng.integers(-3, 4, src.shape), 0, 255).astype(np.uint8)
    extras = {"flow": rng.normal(0, 2, (H, W, 2)).astype(np.float32), "prediction": dec,
              "residual": rng.normal(0, 0.05, (H, W, 3)).astype(np.float32)}
    tiles = frame_tiles(dec, src, extras)
    assert [t.name for t in tiles] == ["source", "decoded", "error", "flow", "prediction", "residual"]
    assert all(t.rgb.shape == (H, W, 3) and t.rgb.dtype == np.uint8 for t in tiles)
    panel = compose_panel(tiles)
    one_row = compose_panel(tiles[:3])
    assert panel.shape[1] == one_row.shape[1] and panel.shape[0] > 1.9 * one_row.shape[0] - 10
    # Without a reference: the decoded frame and the intermediates only.
    assert [t.name for t in frame_tiles(dec, None, extras)] == ["decoded", "flow", "prediction", "residual"]


def test_flow_colours_follow_the_middlebury_wheel() -> None:
    assert (flow_to_rgb(np.zeros((4, 5, 2), np.float32)) == 255).all()  # no motion is white
    right = np.zeros((4, 4, 2), np.float32)
    right[..., 0] = 3.0
    r, g, b = flow_to_rgb(right)[0, 0].astype(int)
    assert r == 255 and g < 30 and b < 30  # rightward motion is red
    left = -right
    r, g, b = flow_to_rgb(left)[0, 0].astype(int)
    assert r < 30 and g > 150 and b > 150  # leftward is cyan, the opposite hue
    # Saturation grows with the magnitude, relative to the largest in the frame.
    mixed = np.zeros((1, 2, 2), np.float32)
    mixed[0, :, 0] = [1.0, 4.0]
    weak, strong = flow_to_rgb(mixed)[0].astype(int)
    assert weak[1] > strong[1] and weak[0] == strong[0] == 255
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        flow_to_rgb(np.zeros((4, 4, 3), np.float32))


def test_error_heatmap_and_residual() -> None:
    img = natural_image(H, W, 3)
    assert (error_heatmap(img, img) == error_heatmap(img, img)[0, 0]).all()
    assert error_heatmap(img, img)[0, 0].sum() < 10  # no error is dark
    far = np.zeros_like(img)
    far[img < 128] = 255
    assert error_heatmap(img, far).mean() > 150  # large errors saturate bright
    res = np.zeros((2, 2, 3), np.float32)
    assert (residual_to_rgb(res) == 128).all()
    res[0, 0] = [1, -1, 0]
    out = residual_to_rgb(res)
    assert list(out[0, 0]) == [255, 0, 128]


# ---------------------------------------------------------------------- HTML
def test_html_is_self_contained(tiny_env, clip, tmp_path) -> None:  # noqa: ANN001
    pytest.importorskip("matplotlib")
    src, lvc = clip
    page = tmp_path / "report.html"
    plot = tmp_path / "plot.png"
    assert main(["inspect", str(lvc), "--ref", str(src), "--html", str(page), "--plot", str(plot), "--quiet"]) == 0
    text = page.read_text()
    assert "http://" not in text and "https://" not in text and "//cdn" not in text
    assert 'id="scrubber"' in text and 'id="wipe"' in text
    srcs = re.findall(r'src="([^"]*)"', text) + re.findall(r'"(data:[^"]*)"', text)
    assert srcs and all(s.startswith("data:image/") for s in srcs)
    frames = json.loads(re.search(r'id="frames-data">(.*?)</script>', text, re.S).group(1))
    assert [f["index"] for f in frames] == list(range(8))  # fewer than 30 frames: all pictured
    assert list(frames[0]["images"]) == ["source", "decoded", "error"]
    assert Image.open(plot).size[0] > 100
    assert len(text) < 2_000_000
    _run_page_script_in_node(text, tmp_path)
    _open_in_headless_chromium(page)


def _run_page_script_in_node(text: str, tmp_path: Path) -> None:
    """Run the page's script against a minimal DOM in node, when node is installed: it must run and fill the
    caption and panels. (This checks the script, not the rendering; chromium checks that.)"""
    node = shutil.which("node")
    if node is None:
        return
    island = re.search(r'id="frames-data">(.*?)</script>', text, re.S).group(1)
    script = re.findall(r"<script>(.*?)</script>", text, re.S)[-1]
    harness = """
const els = {};
function el(id) {
  if (!els[id]) els[id] = { id, value: id === 'scrubber' ? '0' : '50', style: {}, disabled: false, children: [],
    textContent: '', parentNode: { classList: { add() {} } }, listeners: {},
    addEventListener(t, f) { this.listeners[t] = f; }, appendChild(c) { this.children.push(c); } };
  return els[id];
}
el('frames-data').textContent = ISLAND;
let mode = 'decoded';
global.document = {
  getElementById: el,
  querySelector: () => ({ value: mode }),
  querySelectorAll: () => [],
  createElement: (t) => ({ tag: t, style: {}, appendChild() {} }),
  addEventListener() {},
};
SCRIPT
if (!els.caption.textContent.startsWith('frame 0')) throw new Error('no caption: ' + els.caption.textContent);
if (!els.under.src.startsWith('data:image/jpeg')) throw new Error('no decoded image');
if (els.panels.children.length !== 1) throw new Error('expected the error panel');
const second = JSON.parse(ISLAND)[1];
mode = 'wipe'; els.scrubber.value = '1'; els.scrubber.listeners.input();
if (!els.over.style.clipPath.includes('50%')) throw new Error('wipe not applied');
if (!els.caption.textContent.startsWith(second.caption)) throw new Error('scrubbing did not move');
console.log('ok');
""".replace("ISLAND", json.dumps(island)).replace("SCRIPT", script)
    path = tmp_path / "harness.js"
    path.write_text(harness)
    result = subprocess.run([node, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def _open_in_headless_chromium(page: Path) -> None:
    browser = next((b for b in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
                    if b and Path(b).exists()), None)
    if browser is None:
        pytest.skip("no headless chromium installed (the page was checked without a browser)")
    result = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=2000",
                             "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    dom = result.stdout
    assert 'id="scrubber"' in dom, result.stderr[-2000:]
    # The script ran: it filled the caption and set the displayed image.
    assert re.search(r'id="caption">frame 0', dom), dom[-2000:]


# ---------------------------------------------------------------------- streaming
def test_memory_stays_flat_on_longer_clips(tiny_env, tiny_model, tmp_path) -> None:  # noqa: ANN001
    peaks = {}
    for frames in (20, 60):
        src = write_clip(tmp_path / f"c{frames}.y4m", frames)
        lvc = tmp_path / f"c{frames}.lvc"
        api.encode(src, lvc, model=tiny_model, gop=4)
        inspect(lvc, ref=src)  # warm-up: first-use allocations are not what is measured
        tracemalloc.start()
        report = inspect(lvc, ref=src)
        peaks[frames] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(report.records) == frames
    frame_bytes = W * H * 3
    # Holding the frames would add 2 x 40 x 9 kB (decoded and source); the records are ~1 kB each.
    assert peaks[60] - peaks[20] < 40 * frame_bytes / 3, peaks


def test_plots_without_matplotlib_say_what_to_install(tiny_env, clip, tmp_path, capsys,  # noqa: ANN001
                                                     monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail as if not installed
    for option in ("--plot", "--html"):
        out = tmp_path / f"x{option[2:]}"
        _one_line_error(capsys, main(["inspect", str(clip[1]), option, str(out)]), "install matplotlib")
        assert not out.exists()
