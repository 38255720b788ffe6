"""Integer coding tables held as module buffers, so they are saved and loaded with the weights."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lvc.entropy import coder


class TableHolder(nn.Module):
    """Base for entropy models that code with integer tables built by their ``update()``."""

    def _init_tables(self, n: int) -> None:
        self.register_buffer("_counts", torch.zeros(n, 1, dtype=torch.int32))
        self.register_buffer("_lengths", torch.zeros(n, dtype=torch.int32))
        self.register_buffer("_offsets", torch.zeros(n, dtype=torch.int32))
        self._tables: coder.CdfTables | None = None

    def _set_tables(self, counts_list: list[np.ndarray], offsets: list[int]) -> None:
        width = max(len(t) for t in counts_list)
        counts = np.zeros((len(counts_list), width), dtype=np.int32)
        for i, t in enumerate(counts_list):
            counts[i, : len(t)] = t
        self._counts = torch.from_numpy(counts).to(self._lengths.device)
        self._lengths = torch.tensor([len(t) for t in counts_list], dtype=torch.int32, device=self._lengths.device)
        self._offsets = torch.tensor(offsets, dtype=torch.int32, device=self._lengths.device)
        self._tables = None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001
        # The tables' width is only known from the checkpoint: resize before copying.
        key = prefix + "_counts"
        if key in state_dict:
            self._counts = torch.zeros_like(state_dict[key])
        self._tables = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def tables(self) -> coder.CdfTables:
        """The coder's view of the tables (cached)."""
        if self._tables is None:
            if int(self._lengths.max()) == 0:
                raise RuntimeError(f"{type(self).__name__}.update() was never called: no coding tables")
            self._tables = coder.CdfTables(*(t.cpu().numpy().astype(np.int64)
                                             for t in (self._counts, self._lengths, self._offsets)))
        return self._tables
