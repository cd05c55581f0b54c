"""Fixtures: a real emulator on 127.0.0.1 with a manual clock and an event sink that records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from email2chat.clock import ManualClock

from simulator.emulator import GenesysEmulator


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def emulator(clock: ManualClock, events: list[dict[str, Any]]) -> Iterator[GenesysEmulator]:
    with GenesysEmulator(clock=clock, event_sink=events.append, timeout_hold_s=2.0) as running:
        yield running
