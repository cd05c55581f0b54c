from __future__ import annotations

import pytest
from email2chat.clock import ManualClock
from email2chat.errors import LockHeld
from email2chat.state.lock import SessionLock, lock_key
from email2chat.state.table import StateTable

from .conftest import CountingClient, run_concurrently


def test_second_owner_is_refused_and_told_who_holds_it(table: StateTable) -> None:
    lock = SessionLock(table, lease_s=900)
    lock.acquire("conv-1", "exec-a")
    with pytest.raises(LockHeld) as refused:
        lock.acquire("conv-1", "exec-b")
    assert refused.value.holder == "exec-a"
    assert lock.holder("conv-1") == "exec-a"


def test_locks_of_different_conversations_are_independent(table: StateTable) -> None:
    lock = SessionLock(table, lease_s=900)
    lock.acquire("conv-1", "exec-a")
    lock.acquire("conv-2", "exec-b")
    assert (lock.holder("conv-1"), lock.holder("conv-2")) == ("exec-a", "exec-b")


def test_same_owner_reacquires_and_extends_the_lease(table: StateTable, clock: ManualClock) -> None:
    lock = SessionLock(table, lease_s=100)
    lock.acquire("conv-1", "exec-a")
    clock.advance(90)
    lock.acquire("conv-1", "exec-a")  # a retried step
    clock.advance(90)  # 180 s after the first acquire, 90 s into the renewed lease
    with pytest.raises(LockHeld):
        lock.acquire("conv-1", "exec-b")


def test_an_expired_lease_is_taken_over(table: StateTable, clock: ManualClock) -> None:
    lock = SessionLock(table, lease_s=100)
    lock.acquire("conv-1", "exec-dead")
    clock.advance(100)
    assert lock.holder("conv-1") is None
    lock.acquire("conv-1", "exec-b")
    assert lock.holder("conv-1") == "exec-b"
    assert lock.release("conv-1", "exec-dead") is False  # the dead owner cannot free the new owner's lock
    assert lock.holder("conv-1") == "exec-b"


def test_release_only_by_the_owner_and_twice_is_harmless(table: StateTable) -> None:
    lock = SessionLock(table, lease_s=900)
    lock.acquire("conv-1", "exec-a")
    assert lock.release("conv-1", "exec-b") is False
    assert lock.release("conv-1", "exec-a") is True
    assert lock.release("conv-1", "exec-a") is False
    lock.acquire("conv-1", "exec-b")  # free again
    assert lock.holder("conv-1") == "exec-b"


def test_lock_item_has_a_ttl_after_its_lease(table: StateTable, clock: ManualClock) -> None:
    SessionLock(table, lease_s=900).acquire("conv-1", "exec-a")
    item = table.get(lock_key("conv-1"), "LOCK")
    assert item is not None
    assert item["lease_until"] == clock.now() + 900
    assert item["expires_at"] >= item["lease_until"]


def test_concurrent_acquisitions_give_exactly_one_owner(threaded_table: StateTable) -> None:
    lock = SessionLock(threaded_table, lease_s=900)
    for round_ in range(10):
        conversation = f"conv-race-{round_}"
        results = run_concurrently(12, lambda i, c=conversation: lock.acquire(c, f"exec-{i}"))
        winners = [i for i, result in enumerate(results) if result is None]
        assert len(winners) == 1, results
        refused = [r for r in results if r is not None]
        assert all(isinstance(r, LockHeld) for r in refused)
        assert {r.holder for r in refused} == {f"exec-{winners[0]}"}
        assert lock.holder(conversation) == f"exec-{winners[0]}"


def test_each_operation_is_one_round_trip(counting: tuple[StateTable, CountingClient]) -> None:
    table, client = counting
    lock = SessionLock(table, lease_s=900)
    lock.acquire("conv-1", "exec-a")
    assert client.total() == 1
    client.reset()
    with pytest.raises(LockHeld) as refused:
        lock.acquire("conv-1", "exec-b")
    assert refused.value.holder == "exec-a"
    assert client.total() == 1  # the holder comes back with the refusal
    client.reset()
    assert lock.release("conv-1", "exec-a")
    assert client.total() == 1
