"""The CLI through main([...]): happy paths, and every kind of bad input gets one line and exit != 0."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lvc.cli import main
from tests.conftest import TINY_ID, natural_image


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "in.png"
    Image.fromarray(natural_image(40, 56)).save(path)
    return path


def _encode(src: Path, out: Path, *extra: str) -> int:
    return main(["encode", str(src), "-o", str(out), "--model", TINY_ID, *extra])


def _assert_one_line_error(capsys: pytest.CaptureFixture, code: int, needle: str) -> None:
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("lvc: error:"), err
    assert needle in err, err


def test_encode_decode_matches_recon(tiny_env, png, tmp_path, capsys) -> None:  # noqa: ANN001
    lvc, recon, out = tmp_path / "k.lvc", tmp_path / "recon.png", tmp_path / "out.png"
    before = hashlib.sha256(png.read_bytes()).digest()
    assert _encode(png, lvc, "-q", "3.5", "--recon", str(recon)) == 0
    printed = capsys.readouterr().out
    assert f"{lvc.stat().st_size} bytes" in printed and "bpp" in printed
    assert main(["decode", str(lvc), "-o", str(out)]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(recon)))
    assert hashlib.sha256(png.read_bytes()).digest() == before  # the input is never modified
    assert main(["info", str(lvc)]) == 0
    assert "40" in capsys.readouterr().out


def test_refuses_to_overwrite_without_y(tiny_env, png, tmp_path, capsys) -> None:  # noqa: ANN001
    lvc = tmp_path / "k.lvc"
    lvc.write_bytes(b"keep me")
    _assert_one_line_error(capsys, _encode(png, lvc), "already exists")
    assert lvc.read_bytes() == b"keep me"
    assert _encode(png, lvc, "-y", "--quiet") == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("content,needle", [
    (None, "no such file"), (b"", "empty"), (b"this is not an image\n", "not a readable image"),
])
def test_bad_image_inputs(tiny_env, tmp_path, capsys, content, needle) -> None:  # noqa: ANN001
    src = tmp_path / "bad.png"
    if content is not None:
        src.write_bytes(content)
    out = tmp_path / "x.lvc"
    _assert_one_line_error(capsys, _encode(src, out), needle)
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))


def _good_stream(png: Path, tmp_path: Path) -> bytes:
    lvc = tmp_path / "good.lvc"
    assert _encode(png, lvc, "--quiet") == 0
    return lvc.read_bytes()


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "text", "future", "missing"])
def test_bad_lvc_inputs(tiny_env, png, tmp_path, capsys, damage) -> None:  # noqa: ANN001
    data = bytearray(_good_stream(png, tmp_path))
    bad = tmp_path / "bad.lvc"
    if damage == "truncate":
        data = data[: len(data) * 2 // 3]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x01
    elif damage == "empty":
        data = b""
    elif damage == "text":
        data = b"hello, I am a text file\n"
    elif damage == "future":
        data[4] = 99
    if damage != "missing":
        bad.write_bytes(bytes(data))
    out = tmp_path / "out.png"
    needle = {"truncate": "truncated", "flip": "corrupt", "empty": "empty", "text": "not an lvc",
              "future": "newer", "missing": "no such file"}[damage]
    _assert_one_line_error(capsys, main(["decode", str(bad), "-o", str(out)]), needle)
    assert not out.exists()


def test_unknown_weights(png, tmp_path, capsys, tiny_weights_dir, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("LVC_WEIGHTS_PATH", str(tiny_weights_dir))
    data = _good_stream(png, tmp_path)
    monkeypatch.setenv("LVC_WEIGHTS_PATH", str(tmp_path / "nowhere"))
    lvc = tmp_path / "k.lvc"
    lvc.write_bytes(data)
    from lvc.models import zoo

    zoo._load.cache_clear()
    code = main(["decode", str(lvc), "-o", str(tmp_path / "o.png")])
    _assert_one_line_error(capsys, code, "not installed")


def test_usage_errors_exit_2(capsys) -> None:  # noqa: ANN001
    assert main([]) == 2
    assert main(["encode", "x.png"]) == 2  # no -o
