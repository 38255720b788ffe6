"""Shipped models: ids -> weight files (found, without torch, by :mod:`lvc.weights`) -> built modules. Never downloads.

A weight file is a ``torch.save`` dict::

    {"format": 1, "id": str, "kind": "image" | "video", "spec": dict, "state_dict": {name: tensor},
     "inter_spec": dict, "inter_state": {name: tensor},      # the last two only in "video" files
     "exact": {"image": {layer: act_max}, "inter": {...}, "meta": dict}}   # optional (train calibrate)

A file with ``exact`` decodes in exact arithmetic (lvc.models.exact): the same bits on every CPU.

A "video" file bundles the intra codec with an inter (P-frame) codec; streams name one file.

Floating-point tensors are stored as fp16 and loaded as fp32; integer coding tables are stored
exactly. The weight hash written into every stream is the SHA-256 of the file's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from lvc.errors import UnsupportedStreamError
from lvc.models.builders import ImageCodecSpec, InterCodecSpec, build_image_codec, build_inter_codec
from lvc.models.exact import exactify
from lvc.models.image_codec import ImageCodec
from lvc.models.inter import InterCodec

# Where weights are and what they hash to is torch-free, in lvc.weights (so that a bad --model or a stream
# from other weights is refused before torch loads); re-exported here for the callers that build models.
from lvc.weights import (DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, HASH_BYTES, WEIGHTS_DIR,  # noqa: F401
                         available, default_model_id, file_hash, model_path, search_dirs, stream_weights,
                         weight_path)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to code, with the id and hash that identify it in streams."""

    model_id: str
    weight_hash: bytes
    codec: ImageCodec
    inter: InterCodec | None = None  # P-frames; None for intra-only models
    lambdas: tuple[float, ...] | None = None  # the λ ladder it was trained with (the encoder's I/P choice)
    inter_spec: InterCodecSpec | None = None  # what shaped ``inter``, and its encoder-side warp fit
    exact: bool = False  # decodes in exact arithmetic (the file carries a calibration; lvc.models.exact)


def load_state(path_or_id: str | Path, with_meta: bool = False, key: str = "state_dict"):  # noqa: ANN201
    """The fp32 state dict ``key`` of a weight file, given a path or an installed id; with ``with_meta``
    also its ``meta`` (plus the file's ``spec``)."""
    blob = torch.load(_resolve(path_or_id), map_location="cpu", weights_only=True)
    state = _fp32(blob[key])
    return (state, {**blob.get("meta", {}), "spec": blob["spec"]}) if with_meta else state


def load_calibration(path_or_id: str | Path) -> dict | None:
    """A weight file's ``exact`` section (``train calibrate``), or None for a float-only file."""
    return torch.load(_resolve(path_or_id), map_location="cpu", weights_only=True).get("exact")


def _resolve(path_or_id: str | Path) -> Path:
    path = Path(path_or_id)
    return path if path.exists() else weight_path(str(path_or_id))


@lru_cache(maxsize=4)
def _load(path: Path, exact: bool = True) -> LoadedModel:
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
    calibration = blob.get("exact") if exact else None
    if calibration is not None:  # every machine derives the same integers from the weights and the calibration
        exactify(codec, calibration["image"])
        if inter is not None:
            exactify(inter, calibration["inter"])
    lambdas = blob.get("meta", {}).get("lambdas")
    return LoadedModel(model_id=blob["id"], weight_hash=file_hash(path), codec=codec.eval(), inter=inter,
                       lambdas=tuple(lambdas) if lambdas else None, inter_spec=inter_spec,
                       exact=calibration is not None)


def _fp32(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


def load_image_model(model_id: str = DEFAULT_IMAGE_MODEL, *, exact: bool = True) -> LoadedModel:
    """Load an installed image model by id, or from a ``.pt`` weight file path; ``exact=False`` ignores
    the file's calibration and builds the float model (to calibrate it, or to compare against it)."""
    return _load(model_path(model_id).resolve(), exact)


def find_by_hash(model_id: str, weight_hash: bytes, preferred: LoadedModel | None = None) -> LoadedModel:
    """The installed model that a stream names (``preferred`` if it matches); refuses a hash mismatch."""
    if preferred is not None and (preferred.model_id, preferred.weight_hash) == (model_id, weight_hash):
        return preferred
    return _load(stream_weights(model_id, weight_hash).resolve())
