"""Output files are written to a temporary name and renamed at the end: no half-written outputs."""

from __future__ import annotations

import os
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


def check_output(path: str | Path, overwrite: bool, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Refuse to clobber an existing output (without ``overwrite``) or any input."""
    path = Path(path)
    for src in inputs:
        if Path(src).exists() and path.exists() and path.resolve() == Path(src).resolve():
            raise InputError(f"{path}: output would overwrite the input")
    if str(path) == "-":
        return path
    if path.is_dir():
        if any(path.iterdir()) and not overwrite:
            raise InputError(f"{path}: folder is not empty (use -y to write into it)")
        return path
    if path.exists() and not overwrite:
        raise InputError(f"{path}: already exists (use -y to overwrite)")
    if "%" not in str(path.parent) and not path.parent.exists():
        raise InputError(f"{path.parent}: output folder does not exist")
    return path


def check_input(path: str | Path, what: str = "a file") -> Path:
    """A readable, non-empty file, or a one-line error saying what is wrong with it."""
    path = Path(path)
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
