"""The codec parts' contract (DESIGN.md §3), one vocabulary for ImageCodec, the motion codec and InterCodec.

* ``forward(x, ...)``: the training proxy; returns a result with ``x_hat`` and ``likelihoods``;
* ``compress(x, ...)``: real bytes; returns a result with ``streams`` and the decoder-exact ``x_hat``;
* ``decompress(streams, ...)``: the reconstruction from bytes, ``x_hat`` (a tensor, or for a part
  whose decoder state goes on, such as InterCodec's decoded flow, a result holding ``x_hat``).

The frame-level coders in :mod:`lvc.codec.frame_coder` follow the same verbs on uint8 frames.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor


class Trained(Protocol):
    """What ``forward`` returns."""

    x_hat: Tensor
    likelihoods: dict[str, Tensor]


class Coded(Protocol):
    """What ``compress`` returns."""

    streams: list[bytes]
    x_hat: Tensor


@runtime_checkable
class CodecPart(Protocol):
    """A codec part: a training proxy, and real coding both ways."""

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Trained: ...

    def compress(self, x: Tensor, *args: Any, **kwargs: Any) -> Coded: ...

    def decompress(self, streams: list[bytes], *args: Any, **kwargs: Any) -> Any: ...
