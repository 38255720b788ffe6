"""Fuzzing the decoder: mutated and truncated .lvc files end in a clean error or a correct decode."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest

from lvc import api
from lvc.cli import main
from lvc.errors import LvcError
from lvc.image import decode_image, encode_image_with_recon
from tests.conftest import TINY_ID, natural_image
from tests.media import moving_frames, write_y4m

CASES = 2000


class _Hang(Exception):
    pass


def _alarm(signum, frame) -> None:  # noqa: ANN001
    raise _Hang


def _mutations(data: bytes, rng: np.random.Generator, n: int) -> list[bytes]:
    out = []
    for _ in range(n):
        b = bytearray(data)
        kind = rng.integers(0, 5)
        if kind == 0:  # truncate
            b = b[: rng.integers(0, len(b))]
        elif kind == 1:  # flip bits
            for i in rng.integers(0, len(b), size=rng.integers(1, 4)):
                b[i] ^= 1 << int(rng.integers(0, 8))
        elif kind == 2:  # random bytes over a span
            i = int(rng.integers(0, len(b)))
            b[i:i + 8] = rng.integers(0, 256, size=len(b[i:i + 8]), dtype=np.uint8).tobytes()
        elif kind == 3:  # delete a span
            i = int(rng.integers(0, len(b)))
            del b[i:i + int(rng.integers(1, 16))]
        else:  # insert garbage
            i = int(rng.integers(0, len(b)))
            b[i:i] = rng.integers(0, 256, size=int(rng.integers(1, 16)), dtype=np.uint8).tobytes()
        out.append(bytes(b))
    return out


def test_fuzz_still_streams(tiny_model) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    data, recon = encode_image_with_recon(natural_image(24, 40), 4.0, tiny_model)
    outcomes = {"error": 0, "exact": 0}
    signal.signal(signal.SIGALRM, _alarm)
    for case in _mutations(data, rng, CASES):
        signal.alarm(10)
        try:
            out = decode_image(case, tiny_model)
            assert np.array_equal(out, recon), "a damaged stream decoded to different pixels without an error"
            outcomes["exact"] += 1
        except LvcError:
            outcomes["error"] += 1
        except _Hang:
            pytest.fail("decoder hung on a mutated stream")
        finally:
            signal.alarm(0)
    assert sum(outcomes.values()) == CASES and outcomes["error"] > CASES * 0.9


def test_fuzz_mp4_container(tiny_env, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    src = write_y4m(tmp_path / "src.y4m", moving_frames(3, 16, 24))
    good = tmp_path / "good.lvc"
    api.encode(src, good, model=TINY_ID)
    data = good.read_bytes()
    rng = np.random.default_rng(1)
    bad = tmp_path / "bad.lvc"
    signal.signal(signal.SIGALRM, _alarm)
    for i, case in enumerate(_mutations(data, rng, 200)):
        bad.write_bytes(case)
        out = tmp_path / f"out{i}.y4m"
        signal.alarm(20)
        try:
            code = main(["decode", str(bad), "-o", str(out), "--quiet"])
        except _Hang:
            pytest.fail("decoder hung on a mutated container")
        finally:
            signal.alarm(0)
        err = capsys.readouterr().err
        assert code in (0, 1), err
        assert code == 0 or (err.startswith("lvc: error:") and err.count("\n") == 1), err
        assert code == 0 or not out.exists()
