"""Cooldown, intake idempotency and outcome records, and the TTL every item must carry."""

from __future__ import annotations

import json
from typing import Any

import pytest
from email2chat.clock import ManualClock
from email2chat.state.breaker import CircuitBreaker
from email2chat.state.cooldown import CustomerCooldown
from email2chat.state.idempotency import IntakeLedger
from email2chat.state.lock import SessionLock
from email2chat.state.outcomes import MAX_HISTORY, Outcome, OutcomeRecord, OutcomeStore
from email2chat.state.rate_limiter import FleetRateLimiter
from email2chat.state.table import StateTable

from .conftest import CountingClient, run_concurrently

DAY = 86_400.0

# --- cooldown -------------------------------------------------------------------------------------


def test_customer_key_is_a_stable_hash_never_the_address() -> None:
    key = CustomerCooldown.customer_key("Jane.Doe@Example.com")
    assert key == CustomerCooldown.customer_key("  jane.doe@example.com ")
    assert "@" not in key
    assert "jane" not in key.lower()
    assert len(key) == 32
    assert key != CustomerCooldown.customer_key("john@example.com")
    assert key != CustomerCooldown.customer_key("jane.doe@example.com", salt="deployment-secret")
    with pytest.raises(ValueError, match="empty customer"):
        CustomerCooldown.customer_key("   ")


def test_customer_prompted_within_the_window_is_not_prompted_again(
    table: StateTable, clock: ManualClock
) -> None:
    cooldown = CustomerCooldown(table, window_s=DAY)
    key = CustomerCooldown.customer_key("jane@example.com")
    assert cooldown.claim(key, "email-1")
    assert cooldown.claim(key, "email-1")  # the same workflow retrying its step
    clock.advance(DAY - 1)
    assert not cooldown.claim(key, "email-2")
    clock.advance(1)
    assert cooldown.claim(key, "email-2")  # the window has passed, whether or not TTL deleted the item


def test_released_claim_lets_the_next_email_prompt(table: StateTable) -> None:
    cooldown = CustomerCooldown(table, window_s=DAY)
    key = CustomerCooldown.customer_key("jane@example.com")
    assert cooldown.claim(key, "email-1")
    cooldown.release(key, "email-2")  # not the owner: no effect
    assert not cooldown.claim(key, "email-2")
    cooldown.release(key, "email-1")
    cooldown.release(key, "email-1")  # twice is harmless
    assert cooldown.claim(key, "email-2")


def test_the_claim_tells_whether_its_owner_has_prompted_the_customer(
    table: StateTable, clock: ManualClock
) -> None:
    cooldown = CustomerCooldown(table, window_s=DAY)
    key = CustomerCooldown.customer_key("jane@example.com")
    assert cooldown.claim(key, "email-1")
    claimed = cooldown.current_claim(key)
    cooldown.mark_prompting(key, "email-2")  # not the owner: no effect
    not_owner = cooldown.current_claim(key)
    clock.advance(5)
    cooldown.mark_prompting(key, "email-1")
    clock.advance(5)
    cooldown.mark_prompting(key, "email-1")  # a retried Notify keeps the first time

    assert claimed is not None
    assert not_owner is not None
    assert (claimed.owner, claimed.prompting_at, not_owner.prompting_at) == ("email-1", None, None)
    prompted = cooldown.current_claim(key)
    assert prompted is not None
    assert prompted.prompting_at == claimed.claimed_at + 5


def test_the_prompting_mark_survives_a_re_entered_claim_not_a_takeover_or_an_unmark(
    table: StateTable, clock: ManualClock
) -> None:
    cooldown = CustomerCooldown(table, window_s=DAY)
    key = CustomerCooldown.customer_key("jane@example.com")
    cooldown.claim(key, "email-1")
    cooldown.mark_prompting(key, "email-1")
    assert cooldown.claim(key, "email-1")  # a duplicate delivery, or CollisionCheck, re-enters it
    re_entered = cooldown.current_claim(key)
    cooldown.unmark_prompting(key, "email-2")  # not the owner: no effect
    kept = cooldown.current_claim(key)
    clock.advance(DAY)
    assert cooldown.claim(key, "email-2")  # the window has passed: a new owner, unmarked
    taken_over = cooldown.current_claim(key)
    cooldown.mark_prompting(key, "email-2")
    cooldown.unmark_prompting(key, "email-2")  # its push was refused
    unmarked = cooldown.current_claim(key)

    assert re_entered is not None
    assert kept is not None
    assert taken_over is not None
    assert unmarked is not None
    assert re_entered.prompting_at is not None
    assert kept.prompting_at is not None
    assert (taken_over.owner, taken_over.prompting_at) == ("email-2", None)
    assert unmarked.prompting_at is None


def test_zero_window_disables_the_cooldown(table: StateTable) -> None:
    cooldown = CustomerCooldown(table, window_s=0)
    key = CustomerCooldown.customer_key("jane@example.com")
    assert cooldown.claim(key, "email-1")
    assert cooldown.claim(key, "email-2")


def test_concurrent_claims_for_one_customer_prompt_once(threaded_table: StateTable) -> None:
    cooldown = CustomerCooldown(threaded_table, window_s=DAY)
    key = CustomerCooldown.customer_key("jane@example.com")
    results = run_concurrently(10, lambda i: cooldown.claim(key, f"email-{i}"))
    assert results.count(True) == 1


def test_no_customer_address_is_stored(dynamodb: Any, table: StateTable) -> None:
    cooldown = CustomerCooldown(table, window_s=DAY)
    cooldown.claim(CustomerCooldown.customer_key("jane@example.com"), "email-1")
    dump = json.dumps(dynamodb.scan(TableName=table.name)["Items"])
    assert "jane" not in dump
    assert "example.com" not in dump


# --- intake idempotency ---------------------------------------------------------------------------


def test_a_duplicate_intake_message_is_refused(table: StateTable) -> None:
    ledger = IntakeLedger(table)
    assert ledger.claim("email-1", "exec-email-1")
    assert not ledger.claim("email-1", "exec-email-1-dup")
    assert ledger.claim("email-1", "exec-email-1")  # redelivery after a crash before StartExecution
    assert ledger.get("email-1") == "exec-email-1"
    assert ledger.get("email-2") is None


def test_three_concurrent_deliveries_start_one_workflow(threaded_table: StateTable) -> None:
    ledger = IntakeLedger(threaded_table)
    results = run_concurrently(3, lambda i: ledger.claim("email-7", f"delivery-{i}"))
    assert results.count(True) == 1


# --- outcomes -------------------------------------------------------------------------------------


def test_outcome_names_are_exactly_the_eight() -> None:
    assert sorted(o.value for o in Outcome) == sorted(
        [
            "not_urgent",
            "collision_skipped",
            "connected",
            "declined_fallback",
            "timeout_cleanup",
            "deferred",
            "cooldown_skipped",
            "invalid",
        ]
    )


def test_outcome_round_trip(table: StateTable, clock: ManualClock) -> None:
    store = OutcomeStore(table)
    stored = store.record(
        OutcomeRecord(
            email_id="email-1",
            outcome=Outcome.CONNECTED,
            reason="customer joined the chat",
            conversation_id="conv-1",
            execution="exec-1",
            timings={"received": clock.now() - 30, "initiated": clock.now() - 20.5, "connected": clock.now()},
            details={"chat_session_id": "chat-9", "attempts": 2},
        )
    )
    assert stored.recorded_at == clock.now()
    loaded = store.get("email-1")
    assert loaded == stored
    assert loaded is not None
    assert loaded.outcome is Outcome.CONNECTED
    assert loaded.timings["initiated"] == pytest.approx(clock.now() - 20.5)
    assert store.get("email-unknown") is None


def test_latest_outcome_wins_and_earlier_ones_stay_in_history(table: StateTable, clock: ManualClock) -> None:
    store = OutcomeStore(table)
    store.record(OutcomeRecord("email-1", Outcome.DEFERRED, "breaker open", execution="exec-1"))
    clock.advance(60)
    store.record(OutcomeRecord("email-1", Outcome.CONNECTED, "customer joined", execution="exec-1-r1"))
    loaded = store.get("email-1")
    assert loaded is not None
    assert loaded.outcome is Outcome.CONNECTED
    assert [h["outcome"] for h in loaded.history] == ["deferred"]
    assert loaded.history[0]["execution"] == "exec-1"


def test_history_is_kept_short(table: StateTable, clock: ManualClock) -> None:
    store = OutcomeStore(table)
    for attempt in range(MAX_HISTORY + 5):
        store.record(OutcomeRecord("email-1", Outcome.DEFERRED, f"attempt {attempt}"))
        clock.advance(60)
    loaded = store.get("email-1")
    assert loaded is not None
    assert len(loaded.history) == MAX_HISTORY - 1
    assert loaded.reason == f"attempt {MAX_HISTORY + 4}"
    assert loaded.history[-1]["reason"] == f"attempt {MAX_HISTORY + 3}"


def test_unknown_outcome_name_is_refused(table: StateTable) -> None:
    with pytest.raises(ValueError, match="escalated"):
        OutcomeStore(table).record(OutcomeRecord("email-1", "escalated", "no such outcome"))  # type: ignore[arg-type]


def test_scan_all_returns_every_outcome_and_nothing_else(table: StateTable, clock: ManualClock) -> None:
    store = OutcomeStore(table)
    for i in range(7):
        store.record(OutcomeRecord(f"email-{i}", Outcome.NOT_URGENT, "score below threshold"))
        clock.advance(1)
    SessionLock(table, lease_s=60).acquire("conv-1", "exec-1")
    records = store.scan_all(page_size=2)
    assert [r.email_id for r in records] == [f"email-{i}" for i in range(7)]


def test_record_is_one_round_trip(counting: tuple[StateTable, CountingClient]) -> None:
    table, client = counting
    OutcomeStore(table).record(OutcomeRecord("email-1", Outcome.INVALID, "missing conversation id"))
    assert client.total() == 1


# --- every item expires ---------------------------------------------------------------------------


def test_every_item_kind_carries_a_future_ttl(dynamodb: Any, table: StateTable, clock: ManualClock) -> None:
    SessionLock(table, lease_s=900).acquire("conv-1", "exec-1")
    breaker = CircuitBreaker(table, failure_threshold=1)
    breaker.record_failure(breaker.before_call("exec-1"))
    FleetRateLimiter(table).try_acquire("exec-1")
    CustomerCooldown(table, window_s=DAY).claim(CustomerCooldown.customer_key("a@b.c"), "exec-1")
    OutcomeStore(table).record(OutcomeRecord("email-1", Outcome.CONNECTED, "joined"))
    IntakeLedger(table).claim("email-1", "exec-1")
    items = dynamodb.scan(TableName=table.name)["Items"]
    kinds = {item["pk"]["S"].split("#")[0] for item in items}
    assert kinds == {"LOCK", "BREAKER", "LIMITER", "COOLDOWN", "OUTCOME", "INTAKE"}
    for item in items:
        assert int(item["expires_at"]["N"]) > clock.now(), item["pk"]
