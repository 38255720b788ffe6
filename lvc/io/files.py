"""Output files are written to a temporary name and renamed at the end: no half-written outputs."""

from __future__ import annotations

import os
import re
from pathlib import Path

from lvc.errors import InputError


class AtomicOutput:
    """An output published by ``close()`` and removed by ``abort()``; ``with`` does the right one."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self):  # noqa: ANN204
        return self

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        if exc_type is None:
            self.close()
        else:
            self.abort()


_PATTERN = re.compile(r"%0?\d*d")  # FFmpeg's image2 sequence number: %d, %4d, %04d


def is_pattern(path: str | Path) -> bool:
    """Whether ``path`` names an image sequence by a printf pattern (``frames/%04d.png``), as FFmpeg reads them."""
    return _PATTERN.search(Path(path).name) is not None


def pattern_files(path: str | Path) -> list[Path]:
    """The files an image-sequence pattern such as ``frames/%04d.png`` matches, sorted."""
    path = Path(path)
    regex = re.compile(r"\d+".join(re.escape(piece) for piece in _PATTERN.split(path.name)) + "$")
    folder = path.parent
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if regex.match(p.name))


def check_writable(folder: Path, what: Path) -> None:
    """One clean line when nothing can be created in ``folder`` (read-only, no permission), found by trying:
    ``os.access`` says yes to root on a read-only folder, and the real answer comes only from the file system."""
    probe = folder / f".lvc-write-test.{os.getpid()}.tmp"
    try:
        with open(probe, "xb"):
            pass
    except FileExistsError:
        return
    except OSError as exc:
        raise InputError(f"{what}: cannot write into {folder} ({exc.strerror or type(exc).__name__})") from None
    probe.unlink(missing_ok=True)


def check_output(path: str | Path, overwrite: bool, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Refuse to clobber an existing output (without ``overwrite``) or any input, and refuse, before any work,
    an output that cannot be written (missing, read-only or unwritable folder)."""
    path = Path(path)
    for src in inputs:
        if Path(src).exists() and path.exists() and path.resolve() == Path(src).resolve():
            raise InputError(f"{path}: output would overwrite the input")
    if str(path) == "-":
        return path
    if path.is_dir():
        if any(path.iterdir()) and not overwrite:
            raise InputError(f"{path}: folder is not empty (use -y to write into it)")
        check_writable(path, path)
        return path
    if path.exists() and not overwrite:
        raise InputError(f"{path}: already exists (use -y to overwrite)")
    parent = path.parent
    if "%" in str(parent):
        return path
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{path}: {parent} is a file, expected a folder")
    if not parent.exists():
        raise InputError(f"{parent}: output folder does not exist")
    check_writable(parent, path)
    return path


def check_input(path: str | Path, what: str = "a file") -> Path:
    """A readable, non-empty file (or an image-sequence pattern matching at least one file), or a one-line
    error saying what is wrong with it."""
    path = Path(path)
    if is_pattern(path) and not path.exists():
        if not pattern_files(path):
            raise InputError(f"{path}: no files match this image-sequence pattern")
        return path
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected {what}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    return path


def temp_path(path: str | Path) -> Path:
    """Where ``path`` is written before the final rename: a hidden file in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
