"""lvc: a learned video codec.

The Python API is ``lvc.encode(...)``, ``lvc.decode(...)``, ``lvc.iter_decode(...)`` and
``lvc.info(...)`` (see :mod:`lvc.api`). They are loaded on first use, so ``import lvc`` stays light.
"""

from __future__ import annotations

__version__ = "0.1.0"  # the one place the version is written: pyproject.toml reads it from here
__all__ = ["decode", "encode", "info", "iter_decode"]


def __getattr__(name: str):  # noqa: ANN202 - PEP 562 lazy attributes
    if name in __all__:
        from lvc import api

        return getattr(api, name)
    raise AttributeError(f"module 'lvc' has no attribute {name!r}")
