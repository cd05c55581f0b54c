"""Time as a port: everything that reads the time takes a ``Clock``, so tests drive it instead of sleeping."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (may be simulated)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to. Thread-safe."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when


class ScaledClock:
    """Simulated time that runs ``1 / time_scale`` times faster than real time.

    ``time_scale`` is real seconds per simulated second: 0.01 makes a 5-minute wait last 3 real seconds.
    """

    def __init__(self, time_scale: float, start: float | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = time_scale
        self._real_start = time.monotonic()
        self._sim_start = time.time() if start is None else start

    def now(self) -> float:
        return self._sim_start + (time.monotonic() - self._real_start) / self.time_scale
