"""The shipped weight files, and where lvc looks for weights: ids -> files -> hashes, without torch.

This package holds the ``.pt`` files themselves and the locator, which is stdlib only so that a
``--model`` that is not installed, or a stream naming weights this install does not have, is
refused before torch loads. :mod:`lvc.models.zoo` builds the modules from the files found here.

A stream names its weights by model id and :data:`HASH_BYTES` bytes of the SHA-256 of the file.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from lvc.errors import UnsupportedStreamError

WEIGHTS_DIR = Path(__file__).resolve().parent
DEFAULT_IMAGE_MODEL = "intra-dct-hp"
DEFAULT_VIDEO_MODEL = "video-dct-hp-real"  # the same intra codec, plus P-frames trained on real video
HASH_BYTES = 8  # of the SHA-256, as written into stream headers


def search_dirs() -> list[Path]:
    """Folders searched for weights: ``$LVC_WEIGHTS_PATH`` (os.pathsep-separated), then the package's."""
    extra = [Path(p) for p in os.environ.get("LVC_WEIGHTS_PATH", "").split(os.pathsep) if p]
    return [*extra, WEIGHTS_DIR]


def weight_path(model_id: str) -> Path:
    """Path of an installed model's weights (the first match along :func:`search_dirs`)."""
    for d in search_dirs():
        if (d / f"{model_id}.pt").exists():
            return d / f"{model_id}.pt"
    return WEIGHTS_DIR / f"{model_id}.pt"


def default_model_id(still: bool) -> str:
    """The shipped model for a source: the video model where it is installed, except for a still
    image, whose stream names the image model (no P-frame codec to load when decoding it)."""
    if not still and weight_path(DEFAULT_VIDEO_MODEL).exists():
        return DEFAULT_VIDEO_MODEL
    return DEFAULT_IMAGE_MODEL


def available() -> list[str]:
    """Ids of the installed models."""
    return sorted({p.stem for d in search_dirs() if d.is_dir() for p in d.glob("*.pt")})


def file_hash(path: Path) -> bytes:
    """Truncated SHA-256 of a weight file (remembered while the file's size and mtime stay the same)."""
    st = Path(path).stat()
    return _hash(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=16)
def _hash(path: str, size: int, mtime_ns: int) -> bytes:  # size and mtime: a rewritten file is hashed again
    return hashlib.sha256(Path(path).read_bytes()).digest()[:HASH_BYTES]


def model_path(model: str) -> Path:
    """The weight file of ``model``, an installed id or a ``.pt`` path; refuses one that is not there."""
    path = Path(model) if model.endswith(".pt") else weight_path(model)
    if not path.exists():
        raise UnsupportedStreamError(
            f"model '{model}' is not installed (looked for {path}); installed: {', '.join(available()) or 'none'}")
    return path


def stream_weights(model_id: str, weight_hash: bytes) -> Path:
    """The installed weight file that a stream names by id and hash; refuses one that is missing or whose
    hash differs (other weights under the same id would decode the stream into garbage)."""
    path = weight_path(model_id)
    if not path.exists():
        raise UnsupportedStreamError(
            f"stream was made with model '{model_id}', which is not installed (looked for {path}); "
            f"installed: {', '.join(available()) or 'none'}")
    have = file_hash(path)
    if have != weight_hash:
        raise UnsupportedStreamError(
            f"stream was made with weights {weight_hash.hex()} of model '{model_id}', "
            f"but this install has {have.hex()}")
    return path
