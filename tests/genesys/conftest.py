"""Fixtures: a real emulator on 127.0.0.1 driven by a manual clock, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from client_harness import CREDENTIALS, SleepRecorder
from email2chat.clock import ManualClock
from email2chat.genesys.auth import clear_token_caches
from email2chat.genesys.client import GenesysClient

from simulator.emulator import GenesysEmulator


@pytest.fixture(autouse=True)
def _fresh_token_caches() -> Iterator[None]:
    # The token cache is process-wide by design; each test starts without a token.
    clear_token_caches()
    yield
    clear_token_caches()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[GenesysEmulator]:
    with GenesysEmulator(clock=clock, timeout_hold_s=2.0) as running:
        yield running


@pytest.fixture
def sleeper(clock: ManualClock) -> SleepRecorder:
    return SleepRecorder(clock)


@pytest.fixture
def make_client(
    emulator: GenesysEmulator, clock: ManualClock, sleeper: SleepRecorder
) -> Callable[..., GenesysClient]:
    def make(**overrides: Any) -> GenesysClient:
        options: dict[str, Any] = {"clock": clock, "sleep": sleeper, "read_timeout_s": 2.0}
        options.update(overrides)
        credentials = options.pop("credentials", CREDENTIALS)
        return GenesysClient(emulator.base_url, emulator.base_url, credentials, **options)

    return make


@pytest.fixture
def client(make_client: Callable[..., GenesysClient]) -> GenesysClient:
    return make_client()
