"""How many requests per second the Genesys emulator serves on this machine (``make bench``; not a test).

Three views: a raw keep-alive ``requests.Session``, the full ``GenesysClient`` (token cache, logging,
parsing), and four client threads at once (ThreadingHTTPServer under contention, GIL included).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from email2chat.clock import ManualClock
from email2chat.genesys.auth import clear_token_caches
from email2chat.genesys.client import ClientCredentials, GenesysClient

from simulator.emulator import GenesysEmulator

CONVERSATION_ID = "bench-conversation"
REQUESTS_PER_ROUND = 300
THREADS = 4


@pytest.fixture
def emulator() -> Iterator[GenesysEmulator]:
    clear_token_caches()
    with GenesysEmulator(clock=ManualClock(), rate_limit_per_minute=10**9) as running:
        running.seed_email_conversation(
            CONVERSATION_ID,
            subject="Bench",
            customer_id="c",
            customer_email="c@example.com",
            text_body="x" * 2000,
        )
        yield running
    clear_token_caches()


def _client(emulator: GenesysEmulator) -> GenesysClient:
    return GenesysClient(
        emulator.base_url, emulator.base_url, ClientCredentials("local-client", "local-secret")
    )


def _report(benchmark: Any, requests_per_round: int) -> float:
    # Mean and best round: the machine is shared, so the best round is the emulator's own ceiling.
    rate = requests_per_round / benchmark.stats.stats.mean
    best = requests_per_round / benchmark.stats.stats.min
    benchmark.extra_info["requests_per_second"] = round(rate)
    benchmark.extra_info["best_round_requests_per_second"] = round(best)
    print(f"\n{benchmark.name}: {rate:.0f} requests/s (best round {best:.0f})")
    return rate


@pytest.mark.benchmark
def test_raw_session_get_conversation_rate(benchmark: Any, emulator: GenesysEmulator) -> None:
    token = requests.post(
        f"{emulator.base_url}/oauth/token",
        auth=("local-client", "local-secret"),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    url = f"{emulator.base_url}/api/v2/conversations/{CONVERSATION_ID}"

    def burst() -> None:
        for _ in range(REQUESTS_PER_ROUND):
            session.get(url, timeout=5).raise_for_status()

    benchmark.pedantic(burst, rounds=5, warmup_rounds=1)
    assert _report(benchmark, REQUESTS_PER_ROUND) > 50


@pytest.mark.benchmark
def test_genesys_client_get_conversation_rate(benchmark: Any, emulator: GenesysEmulator) -> None:
    client = _client(emulator)

    def burst() -> None:
        for _ in range(REQUESTS_PER_ROUND):
            client.get_conversation(CONVERSATION_ID)

    benchmark.pedantic(burst, rounds=5, warmup_rounds=1)
    assert _report(benchmark, REQUESTS_PER_ROUND) > 50


@pytest.mark.benchmark
def test_concurrent_clients_get_conversation_rate(benchmark: Any, emulator: GenesysEmulator) -> None:
    clients = [_client(emulator) for _ in range(THREADS)]

    def burst() -> None:
        def read(client: GenesysClient) -> None:
            for _ in range(REQUESTS_PER_ROUND // THREADS):
                client.get_conversation(CONVERSATION_ID)

        threads = [threading.Thread(target=read, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    benchmark.pedantic(burst, rounds=5, warmup_rounds=1)
    assert _report(benchmark, REQUESTS_PER_ROUND) > 50
    assert emulator.error_count == 0
