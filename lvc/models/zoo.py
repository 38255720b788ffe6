"""Shipped models: ids -> weight files under ``lvc/weights`` -> built modules. Never downloads.

A weight file is a ``torch.save`` dict::

    {"format": 1, "id": str, "kind": "image" | "video", "spec": dict, "state_dict": {name: tensor},
     "inter_spec": dict, "inter_state": {name: tensor}}      # the last two only in "video" files

A "video" file bundles the intra codec with an inter (P-frame) codec; streams name one file.

Floating-point tensors are stored as fp16 and loaded as fp32; integer coding tables are stored
exactly. The weight hash written into every stream is the SHA-256 of the file's bytes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from lvc.errors import UnsupportedStreamError
from lvc.models.builders import ImageCodecSpec, InterCodecSpec, build_image_codec, build_inter_codec
from lvc.models.image_codec import ImageCodec
from lvc.models.inter import InterCodec

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_IMAGE_MODEL = "intra-dct-hp"
DEFAULT_VIDEO_MODEL = "video-dct-hp-real"  # the same intra codec, plus P-frames trained on real video
HASH_BYTES = 8  # of the SHA-256, as written into stream headers


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to code, with the id and hash that identify it in streams."""

    model_id: str
    weight_hash: bytes
    codec: ImageCodec
    inter: InterCodec | None = None  # P-frames; None for intra-only models
    lambdas: tuple[float, ...] | None = None  # the λ ladder it was trained with (the encoder's I/P choice)
    inter_spec: InterCodecSpec | None = None  # what shaped ``inter``, and its encoder-side warp fit


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
    """Truncated SHA-256 of a weight file."""
    return hashlib.sha256(path.read_bytes()).digest()[:HASH_BYTES]


def load_state(path_or_id: str | Path, with_meta: bool = False, key: str = "state_dict"):  # noqa: ANN201
    """The fp32 state dict ``key`` of a weight file, given a path or an installed id; with ``with_meta``
    also its ``meta`` (plus the file's ``spec``)."""
    path = Path(path_or_id)
    if not path.exists():
        path = weight_path(str(path_or_id))
    blob = torch.load(path, map_location="cpu", weights_only=True)
    state = _fp32(blob[key])
    return (state, {**blob.get("meta", {}), "spec": blob["spec"]}) if with_meta else state


@lru_cache(maxsize=4)
def _load(path: Path) -> LoadedModel:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if blob.get("format") != 1 or blob.get("kind") not in ("image", "video"):
        raise UnsupportedStreamError(f"{path.name} is not an lvc weight file")
    codec = build_image_codec(ImageCodecSpec(**blob["spec"]))
    codec.load_state_dict(_fp32(blob["state_dict"]))
    inter = inter_spec = None
    if blob["kind"] == "video":
        inter_spec = InterCodecSpec(**blob["inter_spec"])
        inter = build_inter_codec(inter_spec)
        inter.load_state_dict(_fp32(blob["inter_state"]))
        inter.eval()
    # Not channels_last: it convolves ~1.35x faster here, but its results depend on the thread count,
    # and a decoder with other threads than the encoder must still be bit-exact (tests/test_video.py).
    lambdas = blob.get("meta", {}).get("lambdas")
    return LoadedModel(model_id=blob["id"], weight_hash=file_hash(path), codec=codec.eval(), inter=inter,
                       lambdas=tuple(lambdas) if lambdas else None, inter_spec=inter_spec)


def _fp32(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


def load_image_model(model_id: str = DEFAULT_IMAGE_MODEL) -> LoadedModel:
    """Load an installed image model by id, or from a ``.pt`` weight file path."""
    p = Path(model_id) if model_id.endswith(".pt") else weight_path(model_id)
    if not p.exists():
        raise UnsupportedStreamError(
            f"model '{model_id}' is not installed (looked for {p}); installed: {', '.join(available()) or 'none'}")
    return _load(p.resolve())


def find_by_hash(model_id: str, weight_hash: bytes, preferred: LoadedModel | None = None) -> LoadedModel:
    """The installed model that a stream names (``preferred`` if it matches); refuses a hash mismatch."""
    if preferred is not None and (preferred.model_id, preferred.weight_hash) == (model_id, weight_hash):
        return preferred
    model = load_image_model(model_id)
    if model.weight_hash != weight_hash:
        raise UnsupportedStreamError(
            f"stream was made with weights {weight_hash.hex()} of model '{model_id}', "
            f"but this install has {model.weight_hash.hex()}")
    return model
