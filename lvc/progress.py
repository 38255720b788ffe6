"""A one-line progress display on stderr: frames, fps, ETA and the bitrate so far."""

from __future__ import annotations

import sys
import time

from lvc import rates


class Progress:
    """Call :meth:`update` per frame; :meth:`close` ends the line. Silent when ``enabled`` is False."""

    def __init__(self, *, total: int | None, fps: float, label: str, enabled: bool = True) -> None:
        self.total = total
        self.fps = fps
        self.label = label
        self.enabled = enabled and sys.stderr is not None
        self.frames = 0
        self.bytes = 0
        self.t0 = time.perf_counter()
        self._last = 0.0
        self._drawn = 0

    def update(self, nbytes: int = 0) -> None:
        self.frames += 1
        self.bytes += nbytes
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.25 or self.frames == self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._drawn = self.frames
        elapsed = max(now - self.t0, 1e-9)
        rate = self.frames / elapsed
        kbps = rates.kbps(self.bytes, self.frames, self.fps)
        if self.total:
            done = self.frames / self.total
            bar = "#" * int(24 * done) + "-" * (24 - int(24 * done))
            eta = (self.total - self.frames) / max(rate, 1e-9)
            text = f"{self.label} [{bar}] {self.frames}/{self.total}  {rate:.2f} fps  ETA {eta:.0f}s"
        else:
            text = f"{self.label} {self.frames} frames  {rate:.2f} fps"
        if self.bytes:
            text += f"  {kbps:.0f} kb/s"
        sys.stderr.write("\r" + text + " " * 4)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.frames:
            if self._drawn != self.frames:
                self._draw(time.perf_counter())
            sys.stderr.write("\n")
            sys.stderr.flush()
