"""Fixtures: a moto DynamoDB table of the real shape, a manual clock, a table for the thread tests (moto
applies DynamoDB requests one at a time there, as DynamoDB does: see simulator.local_aws.moto_patches)
and a counting client for the round-trip budgets."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from email2chat.clock import ManualClock
from email2chat.state.table import StateTable
from moto import mock_aws

from simulator.local_aws.moto_patches import dynamodb_requests_atomic

START = 1_700_000_000.0


class CountingClient:
    """Counts DynamoDB requests by operation name: the round-trip budget of each call is part of the API."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith("_") or name == "exceptions":
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return call


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    # One moto mock per module (starting one costs ~0.3 s); each test gets its own table below.
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


_table_names = itertools.count()


def fresh_table_name() -> str:
    return f"email2chat-state-{next(_table_names)}"


@pytest.fixture
def table(dynamodb: Any, clock: ManualClock) -> StateTable:
    return StateTable.create_for_tests(dynamodb, clock, table_name=fresh_table_name())


@pytest.fixture
def counting(dynamodb: Any, clock: ManualClock) -> tuple[StateTable, CountingClient]:
    name = fresh_table_name()
    StateTable.create_table(dynamodb, name)
    client = CountingClient(dynamodb)
    return StateTable(name, dynamodb_client=client, clock=clock), client


@pytest.fixture
def threaded_table(dynamodb: Any, clock: ManualClock) -> Iterator[StateTable]:
    name = fresh_table_name()
    StateTable.create_table(dynamodb, name)
    with dynamodb_requests_atomic():
        yield StateTable(name, dynamodb_client=dynamodb, clock=clock)


def run_concurrently(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Start ``count`` threads that call ``work(i)`` together (behind a barrier); results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def body(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as exc:  # the test inspects what each thread got
            results[index] = exc

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
