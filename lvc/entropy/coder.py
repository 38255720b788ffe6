"""Range coding of integer symbols with integer probability tables.

This is the only module that imports ``constriction``. Everything that reaches it is an integer:
symbols, table indices, and probability tables whose entries are integer counts stored with the
weights. No float computed by a network can make the encoder and the decoder disagree here.

Stream layout (one call to :func:`encode`)::

    varint  n_escape_bytes
    bytes   escapes        zigzag varints, one per escaped symbol, in scan order
    bytes   range-coded    little-endian uint32 words

A symbol outside its table's range is coded as the table's last bin (the escape bin) and its value
goes to the escape list, so no input can crash the coder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import constriction
import numpy as np

from lvc.errors import CorruptStreamError
from lvc.format.varint import read_varint, unzigzag, write_varint, zigzag

_Categorical = constriction.stream.model.Categorical


@dataclass
class CdfTables:
    """A set of integer probability tables.

    ``counts[k, :lengths[k]]`` are the counts of table ``k``; entry ``i`` is the symbol value
    ``offsets[k] + i`` and the last entry ``lengths[k] - 1`` is the escape bin.
    """

    counts: np.ndarray  # (K, L) int32, every used entry >= 1
    lengths: np.ndarray  # (K,) int32
    offsets: np.ndarray  # (K,) int32
    _models: dict = field(default_factory=dict, repr=False)

    def model(self, k: int) -> _Categorical:
        """constriction model of table ``k`` (built once; exact dyadic floats, so deterministic)."""
        m = self._models.get(k)
        if m is None:
            c = self.counts[k, : self.lengths[k]].astype(np.float64)
            m = _Categorical(c / c.sum(), perfect=False)
            self._models[k] = m
        return m

    def __getstate__(self) -> dict:
        # The constriction models are a cache of ``counts`` and cannot be pickled or copied; a copy
        # (such as the RD flow fit's training proxy of a codec that has already coded) rebuilds them.
        return {**self.__dict__, "_models": {}}


def _table_runs(indexes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(table, positions)`` for each table used, tables ascending, positions ascending: the coding order.

    One stable sort instead of a mask per table: a frame's latents use up to 64 tables, and a
    boolean pass per table over every symbol cost more than the range coding itself. Table indexes fit
    16 bits, for which numpy's stable sort is a radix sort: 6x faster than on int64."""
    if indexes.size and (indexes.min() < 0 or indexes.max() >= 1 << 16):
        raise ValueError("table indexes must lie in [0, 65536)")
    order = np.argsort(indexes.astype(np.uint16), kind="stable")
    sorted_idx = indexes[order]
    starts = np.flatnonzero(np.diff(sorted_idx, prepend=sorted_idx[:1] - 1))
    ends = np.append(starts[1:], len(order))
    return [(int(sorted_idx[a]), order[a:b]) for a, b in zip(starts.tolist(), ends.tolist())]


def encode(symbols: np.ndarray, indexes: np.ndarray, tables: CdfTables) -> bytes:
    """Code ``symbols[i]`` with table ``indexes[i]``; both flat int arrays of equal length."""
    symbols = np.asarray(symbols, dtype=np.int64).ravel()
    indexes = np.asarray(indexes, dtype=np.int64).ravel()
    if symbols.shape != indexes.shape:
        raise ValueError(f"symbols {symbols.shape} and indexes {indexes.shape} differ in shape")
    bins = symbols - tables.offsets[indexes]
    escape_bin = tables.lengths[indexes] - 1
    escaped = (bins < 0) | (bins >= escape_bin)
    bins = np.where(escaped, escape_bin, bins).astype(np.int32)

    out = bytearray()
    esc = bytearray()
    for v in symbols[escaped].tolist():  # escapes are rare: a Python loop over them is cheap
        write_varint(esc, zigzag(v))
    write_varint(out, len(esc))
    out += esc

    encoder = constriction.stream.queue.RangeEncoder()
    for k, positions in _table_runs(indexes):
        encoder.encode(bins[positions], tables.model(k))
    out += encoder.get_compressed().astype("<u4").tobytes()
    return bytes(out)


def decode(data: bytes, indexes: np.ndarray, tables: CdfTables) -> np.ndarray:
    """Inverse of :func:`encode`; raises :class:`CorruptStreamError` on malformed data."""
    indexes = np.asarray(indexes, dtype=np.int64).ravel()
    n_esc, pos = read_varint(data, 0)
    if pos + n_esc > len(data) or (len(data) - pos - n_esc) % 4:
        raise CorruptStreamError("entropy-coded stream has an impossible length")
    escapes = []
    end = pos + n_esc
    while pos < end:
        u, pos = read_varint(data, pos, limit=end)
        escapes.append(unzigzag(u))
    words = np.frombuffer(data, dtype="<u4", offset=end).astype(np.uint32)
    bins = np.empty(indexes.shape, dtype=np.int64)
    try:
        decoder = constriction.stream.queue.RangeDecoder(words)
        for k, positions in _table_runs(indexes):
            bins[positions] = decoder.decode(tables.model(k), len(positions))
    except BaseException as exc:  # constriction raises a PanicException, not an Exception
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise CorruptStreamError(f"entropy decoding failed: {exc}") from None
    escaped = bins == tables.lengths[indexes] - 1
    if int(escaped.sum()) != len(escapes):
        raise CorruptStreamError("escape count does not match the coded stream")
    symbols = bins + tables.offsets[indexes]
    symbols[escaped] = np.asarray(escapes, dtype=np.int64)
    return symbols


def pmf_to_counts(pmf: np.ndarray, tail: float, precision: int = 16) -> np.ndarray:
    """Quantize a pmf (plus the escape bin's ``tail`` mass) to integer counts, each at least 1."""
    p = np.append(np.asarray(pmf, dtype=np.float64), max(float(tail), 0.0))
    counts = np.maximum(1, np.round(p / p.sum() * (1 << precision))).astype(np.int64)
    return counts
