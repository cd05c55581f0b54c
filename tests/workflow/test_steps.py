"""The state machine's steps, called directly with moto, the emulator (real HTTP) and a manual clock."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from email2chat.errors import (
    GENESYS_UNAVAILABLE,
    BadRequest,
    BreakerOpen,
    InvalidEmailEvent,
    LockHeld,
    MalformedResponse,
    OutcomeUnknown,
    RateLimited,
    ServerError,
    Timeout,
)
from email2chat.genesys.client import ClientCredentials, GenesysClient
from email2chat.state.breaker import BreakerState
from email2chat.state.outcomes import Outcome
from email2chat.workflow.await_answer import await_answer
from email2chat.workflow.check_status import check_status
from email2chat.workflow.cleanup import cleanup
from email2chat.workflow.collision import collision_check
from email2chat.workflow.defer import defer
from email2chat.workflow.execution_ended import settle_stopped_execution
from email2chat.workflow.fallback import fallback
from email2chat.workflow.initiate import initiate
from email2chat.workflow.intake import process_record, reject
from email2chat.workflow.late_email import queue_late_email
from email2chat.workflow.notify import notify
from email2chat.workflow.record_outcome import record_outcome
from email2chat.workflow.status_events import handle_status_event

from .conftest import RecordingSfn, World

StartCase = Callable[..., dict[str, Any]]
# What the ASL adds when Notify's retries are spent on 503s (NotifyUnavailable -> Defer)
PUSH_SERVICE_DOWN = {"error": {"Error": "ServerError", "Cause": "503"}, "check": {"status": "notify_failed"}}


def _until_initiated(
    world: World, start_case: StartCase, conversation_id: str, **seed: Any
) -> dict[str, Any]:
    state = start_case(conversation_id, **seed)
    state["collision"] = collision_check(state, world.runtime)
    assert state["collision"]["status"] == "clear"
    state["initiate"] = initiate(state, world.runtime)
    assert state["initiate"]["status"] == "initiated"
    return state


def _until_notified(world: World, start_case: StartCase, conversation_id: str, **seed: Any) -> dict[str, Any]:
    state = _until_initiated(world, start_case, conversation_id, **seed)
    state["notify"] = notify(state, world.runtime)
    return state


def _until_declined(world: World, start_case: StartCase, conversation_id: str) -> dict[str, Any]:
    state = _until_notified(world, start_case, conversation_id, customer_action="decline", answer_after_s=1)
    world.clock.advance(1)
    state["check"] = check_status(state, world.runtime)
    return state


def _deliver_events(world: World) -> list[dict[str, Any]]:
    """Hand the emulator's published events to the status_events step, as EventBridge would."""
    results = [handle_status_event(event, world.runtime) for event in world.events]
    world.events.clear()
    return results


def _a_joined_copy_of_the_left(
    world: World, start_case: StartCase, conversation_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The customer declined (the "left" event is delivered); returns the state and a "joined" copy of that
    event, for a test to date before or without a time and deliver late."""
    state = _until_notified(world, start_case, conversation_id, customer_action="decline", answer_after_s=5)
    world.clock.advance(5)
    world.emulator.tick()
    (left,) = [e for e in world.events if e["detail-type"].endswith("customer.end")]
    _deliver_events(world)
    stale = copy.deepcopy(left)
    stale["detail-type"] = left["detail-type"].replace("customer.end", "customer.start")
    return state, stale


def _legs(world: World, conversation_id: str) -> list[dict[str, Any]]:
    return world.emulator.chat_legs(conversation_id)


# --- CollisionCheck -------------------------------------------------------------------------------


def test_collision_check_takes_the_lock_and_the_cooldown(world: World, start_case: StartCase) -> None:
    state = start_case("conv-c1")
    result = collision_check(state, world.runtime)

    assert result["status"] == "clear"
    assert world.runtime.lock.holder("conv-c1") == state["case"]["execution"]
    # the customer is now on cooldown for any other email
    assert not world.runtime.cooldown.claim(state["case"]["customer_key"], "another-email")


def test_a_chat_already_active_is_a_collision(world: World, start_case: StartCase) -> None:
    state = start_case("conv-c2", manual_chat=True)
    result = collision_check(state, world.runtime)

    assert result["status"] == "collision"
    assert result["reason"] == "Chat session already in progress"
    assert len(_legs(world, "conv-c2")) == 1


def test_a_second_upgrade_of_the_same_conversation_finds_the_lock_held(
    world: World, start_case: StartCase
) -> None:
    first = start_case("conv-c3", email_id="email-a")
    collision_check(first, world.runtime)
    second = dict(first, case=dict(first["case"], email_id="email-b", execution="email-b-1"))

    with pytest.raises(LockHeld):
        collision_check(second, world.runtime)


def test_a_deferred_attempt_waits_for_its_predecessor_to_release_the_lock(
    world: World, start_case: StartCase
) -> None:
    first = start_case("conv-c6")
    collision_check(first, world.runtime)  # attempt 1 holds the lock (its RecordOutcome has not run yet)
    second = dict(first, case=dict(first["case"], attempt=2, execution=f"{first['case']['email_key']}-2"))

    waiting = collision_check(second, world.runtime)
    assert waiting["status"] == "wait"
    assert waiting["wait_seconds"] >= 1

    record_outcome(dict(first, final={"outcome": "deferred", "reason": "x", "final": False}), world.runtime)
    assert collision_check(second, world.runtime)["status"] == "clear"


def test_a_deferred_attempt_with_its_leg_open_waits_for_another_emails_lock_instead_of_skipping(
    world: World, start_case: StartCase
) -> None:
    state = _until_initiated(world, start_case, "conv-c7")
    state |= PUSH_SERVICE_DOWN
    deferred = defer(state, world.runtime)  # the push failed: the leg stays for the next attempt
    record_outcome(state | {"final": deferred}, world.runtime)
    world.runtime.lock.acquire("conv-c7", "email-other-1")  # another email on the conversation, meanwhile
    retry = dict(state, case=dict(state["case"], attempt=2, execution=deferred["next_execution"]))

    waiting = collision_check(retry, world.runtime)
    world.runtime.lock.release("conv-c7", "email-other-1")  # it found our leg and stood down
    after = collision_check(retry, world.runtime)

    assert waiting["status"] == "wait"
    assert "email-other-1 holds the lock" in waiting["reason"]
    assert after["status"] == "clear"  # its own leg is not a collision: resumed and pushed next


def test_a_first_attempt_still_skips_when_another_email_holds_the_lock(
    world: World, start_case: StartCase
) -> None:
    state = start_case("conv-c6")
    world.runtime.lock.acquire("conv-c6", "email-other-1")

    with pytest.raises(LockHeld):
        collision_check(state, world.runtime)


def test_a_customer_prompted_recently_is_on_cooldown(world: World, start_case: StartCase) -> None:
    first = _until_notified(world, start_case, "conv-c4")
    record_outcome(dict(first, final={"outcome": "connected", "reason": "ok"}), world.runtime)
    # a second email from the same customer address, on another conversation
    second = start_case("conv-c5", customer_email="conv-c4@customer.example")
    second["case"]["customer_key"] = first["case"]["customer_key"]

    skipped = collision_check(second, world.runtime)

    assert skipped["status"] == "cooldown"
    assert skipped["reason"].startswith("customer already prompted, or being prompted by another email's")


# --- Initiate -------------------------------------------------------------------------------------


def test_initiate_maps_attributes_and_moves_the_channel_to_chat(world: World, start_case: StartCase) -> None:
    state = _until_initiated(
        world, start_case, "conv-i1", attributes={"Account_ID": "A-1", "Product_Type": "card", "Vip": "yes"}
    )

    legs = _legs(world, "conv-i1")
    assert len(legs) == 1
    participant_id = state["initiate"]["participant_id"]
    chat_attributes = world.emulator.participant_attributes("conv-i1", participant_id)
    assert chat_attributes["channelType"] == "chat"
    # no email attribute is lost: every value arrives on the chat leg (mapped names or passed through)
    assert {"A-1", "card", "yes"} <= set(chat_attributes.values())
    expected = world.runtime.mapper.map({"Account_ID": "A-1", "Product_Type": "card", "Vip": "yes"})
    assert {k: v for k, v in chat_attributes.items() if k != "channelType"} == expected.attributes
    assert world.emulator.disjointed_conversations() == []
    assert any(m.name == "AttributesPassedThrough" and m.value == 1 for m in world.metrics)


def test_initiate_posts_the_guide_payload(world: World, start_case: StartCase) -> None:
    state = _until_initiated(world, start_case, "conv-i2")
    post = next(r for r in world.emulator.request_log() if r["endpoint"] == "initiate_chat")

    assert post["path"] == "/api/v2/conversations/emails/conv-i2/initiateChat"
    leg = _legs(world, "conv-i2")[0]
    assert leg["initiation_method"] == "workflow"
    assert leg["external_conversation_id"] == state["case"]["execution"]


def test_a_429_raises_rate_limited_and_feeds_the_limiter(world: World, start_case: StartCase) -> None:
    state = start_case("conv-i3")
    state["collision"] = collision_check(state, world.runtime)
    world.emulator.set_fault("initiate_chat", error_rate=1.0, error_status=429)

    with pytest.raises(RateLimited):
        initiate(state, world.runtime)

    assert _legs(world, "conv-i3") == []
    assert any(m.name == "RateLimited429" for m in world.metrics)
    # the limiter now holds everyone back for at least Retry-After, so the ASL retry waits in the workflow
    world.clock.advance(0.5)
    world.emulator.clear_faults()
    throttled = initiate(state, world.runtime)
    assert throttled["status"] == "throttled"
    assert throttled["wait_seconds"] >= 1
    world.clock.advance(throttled["wait_seconds"])
    assert initiate(state, world.runtime)["status"] == "initiated"
    assert len(_legs(world, "conv-i3")) == 1


@pytest.mark.parametrize("settings_overrides", [{"breaker_failure_threshold": 2}])
def test_5xx_counts_for_the_breaker_which_opens(world: World, start_case: StartCase) -> None:
    state = start_case("conv-i4")
    state["collision"] = collision_check(state, world.runtime)
    world.emulator.set_fault("initiate_chat", error_rate=1.0, error_status=503)

    for _ in range(2):
        with pytest.raises(ServerError):
            initiate(state, world.runtime)
        world.clock.advance(2)  # past the limiter's pacing

    assert world.runtime.breaker.state() == BreakerState.OPEN
    with pytest.raises(BreakerOpen):
        initiate(state, world.runtime)
    transitions = [m for m in world.metrics if m.name == "BreakerTransition"]
    # to_state is the only dimension (one stream for the alarm); from_state rides along as a property
    assert [(m.dimensions, m.properties) for m in transitions] == [
        ({"to_state": "open"}, {"from_state": "closed"})
    ]
    assert _legs(world, "conv-i4") == []


def test_throttled_initiate_returns_a_real_wait_and_defers_after_the_window(
    world: World, start_case: StartCase
) -> None:
    state = start_case("conv-i5")
    state["collision"] = collision_check(state, world.runtime)
    assert world.runtime.limiter.try_acquire("someone-else") == 0.0  # the one token is gone

    first = initiate(state, world.runtime)
    assert first["status"] == "throttled"
    assert isinstance(first["wait_seconds"], int)
    assert first["wait_seconds"] >= 1

    state["initiate"] = first
    world.runtime.settings = world.runtime.settings.model_copy(update={"time_scale": 0.01})
    world.clock.advance(world.runtime.settings.throttle_max_wait_s + 1)
    for _ in range(3):  # keep the bucket empty
        world.runtime.limiter.try_acquire("hog")
    result = initiate(state, world.runtime)
    assert result["status"] == "defer"


def test_time_scale_turns_clock_waits_into_real_seconds(world: World) -> None:
    runtime = world.runtime
    assert runtime.real_seconds(300) == 300
    runtime.settings = runtime.settings.model_copy(update={"time_scale": 0.01})
    assert runtime.real_seconds(300) == 3
    assert runtime.real_seconds(0.2) == 1  # ASL waits need a positive whole number
    assert runtime.real_seconds(10_000_000, maximum=900) == 900


def test_a_timed_out_initiate_is_read_back_not_posted_twice(world: World, start_case: StartCase) -> None:
    state = start_case("conv-i6")
    state["collision"] = collision_check(state, world.runtime)
    world.runtime.genesys = GenesysClient(
        world.emulator.base_url,
        world.emulator.base_url,
        ClientCredentials("local-client", "local-secret"),
        clock=world.clock,
        sleep=world.clock.advance,
        read_timeout_s=0.3,
        get_retries=0,
    )
    world.emulator.set_fault("initiate_chat", latency_s=0.8)  # lands after the client's 0.3 s read timeout

    with pytest.raises(Timeout):
        initiate(state, world.runtime)
    deadline = time.monotonic() + 5
    while not _legs(world, "conv-i6") and time.monotonic() < deadline:
        time.sleep(0.02)  # the emulator's handler thread finishes the POST we gave up on
    world.emulator.clear_faults()
    world.clock.advance(5)

    retried = initiate(state, world.runtime)
    assert retried["status"] == "initiated"
    assert retried["adopted"] is True
    assert len(_legs(world, "conv-i6")) == 1
    assert [r["endpoint"] for r in world.emulator.request_log()].count("initiate_chat") == 1


def test_a_garbled_answer_to_initiate_is_read_back_not_posted_twice(
    world: World, start_case: StartCase
) -> None:
    state = start_case("conv-i7")
    state["collision"] = collision_check(state, world.runtime)
    world.emulator.set_fault("initiate_chat", malformed_rate=1.0)  # the leg is created, the answer garbled

    with pytest.raises(MalformedResponse):
        initiate(state, world.runtime)  # the ASL retries it (and defers after its retries)
    world.emulator.clear_faults()
    retried = initiate(state, world.runtime)

    assert retried["status"] == "initiated"
    assert retried["adopted"] is True
    assert len(_legs(world, "conv-i7")) == 1
    assert [r["endpoint"] for r in world.emulator.request_log()].count("initiate_chat") == 1


def test_a_refused_initiate_leaves_no_in_flight_marker_behind(world: World, start_case: StartCase) -> None:
    state = start_case("conv-i8")
    state["collision"] = collision_check(state, world.runtime)
    world.emulator.set_fault("initiate_chat", error_rate=1.0, error_status=400)

    with pytest.raises(BadRequest):
        initiate(state, world.runtime)

    assert not world.runtime.sessions.was_initiating(state["case"]["email_key"])


def test_a_later_attempt_resumes_the_leg_an_earlier_attempt_created(
    world: World, start_case: StartCase
) -> None:
    state = start_case("conv-i8")
    state["collision"] = collision_check(state, world.runtime)
    world.emulator.set_fault("patch_attributes", error_rate=1.0, error_status=503)
    with pytest.raises(ServerError):
        initiate(state, world.runtime)  # the 201 came, then patching the attributes failed
    assert len(_legs(world, "conv-i8")) == 1
    record_outcome(dict(state, final={"outcome": "deferred", "reason": "x", "final": False}), world.runtime)
    world.emulator.clear_faults()
    world.clock.advance(60)

    retry = dict(state, case=dict(state["case"], attempt=2, execution="email-conv-i8-2"))
    assert collision_check(retry, world.runtime)["status"] == "clear"  # our own leg is not a collision
    resumed = initiate(retry, world.runtime)

    assert resumed["status"] == "initiated"
    assert resumed["adopted"] is True
    assert len(_legs(world, "conv-i8")) == 1
    attributes = world.emulator.participant_attributes("conv-i8", resumed["participant_id"])
    assert attributes["channelType"] == "chat"


def test_a_manual_chat_opened_after_the_collision_check_is_not_duplicated(
    world: World, start_case: StartCase
) -> None:
    state = start_case("conv-i7")
    state["collision"] = collision_check(state, world.runtime)
    world.emulator.open_manual_chat("conv-i7")

    assert initiate(state, world.runtime)["status"] == "collision"
    assert len(_legs(world, "conv-i7")) == 1


# --- Notify, AwaitAnswer, status events, CheckStatus ------------------------------------------------


def test_notify_sends_the_guide_payload_with_the_deep_link(world: World, start_case: StartCase) -> None:
    state = _until_notified(world, start_case, "conv-n1")

    (sent,) = world.emulator.notifications("conv-n1")
    session_id = state["initiate"]["session_id"]
    assert sent["recipient"] == {"type": "customer", "id": "cust-conv-n1"}
    assert sent["message"]["actionUrl"] == f"https://gcs.genesys.cloud/chat/session/{session_id}"
    assert sent["message"]["title"] == "We are ready to help you faster via Chat"
    assert state["notify"]["deep_link"] == sent["message"]["actionUrl"]


@pytest.mark.parametrize(
    ("status", "error", "marked"),
    [
        (200, OutcomeUnknown, True),
        (502, OutcomeUnknown, True),
        (503, ServerError, False),
        (400, BadRequest, False),
    ],
)
def test_notify_marks_the_cooldown_claim_unless_the_push_certainly_did_not_go_out(
    world: World, start_case: StartCase, status: int, error: type[Exception], marked: bool
) -> None:
    """200 (garbled) and 502: the push may have reached the customer, so the workflow waits for them
    (OutcomeUnknown -> AwaitAnswer); 503: not taken; 400: refused."""
    state = _until_initiated(world, start_case, f"conv-n2-{status}")
    if status == 200:
        world.emulator.set_fault("push_notification", malformed_rate=1.0)
    else:
        world.emulator.set_fault("push_notification", error_rate=1.0, error_status=status)

    with pytest.raises(error):
        notify(state, world.runtime)

    claim = world.runtime.cooldown.current_claim(state["case"]["customer_key"])
    assert claim is not None
    assert claim.owner == state["case"]["email_key"]
    assert (claim.prompting_at is not None) == marked


def test_a_retried_notify_keeps_the_mark_of_an_earlier_try_whose_push_went_out(
    world: World, start_case: StartCase
) -> None:
    state = _until_notified(world, start_case, "conv-n3")  # pushed; its answer to Step Functions was lost
    world.emulator.set_fault("push_notification", error_rate=1.0, error_status=503)

    with pytest.raises(ServerError):
        notify(state, world.runtime)  # the state machine's retry of the Lambda

    claim = world.runtime.cooldown.current_claim(state["case"]["customer_key"])
    assert claim is not None
    assert claim.prompting_at is not None


def test_the_customer_joining_ends_the_wait_at_once(world: World, start_case: StartCase) -> None:
    sfn = RecordingSfn(world.sfn)
    world.runtime.sfn = sfn
    state = _until_notified(world, start_case, "conv-w1", customer_action="accept", answer_after_s=2)

    assert await_answer(dict(state, task_token="tok-1"), world.runtime) == {"waiting": True}
    world.clock.advance(2)
    world.emulator.tick()
    results = _deliver_events(world)

    assert sfn.completed == [
        ("tok-1", {"event": "joined", "at": pytest.approx(world.clock.now()), "source": "event"})
    ]
    assert results[0]["completed"] is True
    state["check"] = check_status(state, world.runtime)
    assert state["check"]["status"] == "connected"


def test_an_event_before_the_token_still_ends_the_wait(world: World, start_case: StartCase) -> None:
    sfn = RecordingSfn(world.sfn)
    world.runtime.sfn = sfn
    state = _until_notified(world, start_case, "conv-w2", customer_action="decline", answer_after_s=1)
    world.clock.advance(1)
    world.emulator.tick()
    assert _deliver_events(world)[0] == {"remembered": "left", "completed": False}

    result = await_answer(dict(state, task_token="tok-2"), world.runtime)

    assert result == {"waiting": False, "completed_with": "left"}
    assert [token for token, _ in sfn.completed] == ["tok-2"]


def test_duplicate_and_late_events_are_harmless(world: World, start_case: StartCase) -> None:
    sfn = RecordingSfn(world.sfn)
    world.runtime.sfn = sfn
    state = _until_notified(world, start_case, "conv-w3", customer_action="accept", answer_after_s=1)
    await_answer(dict(state, task_token="tok-3"), world.runtime)
    world.clock.advance(1)
    world.emulator.tick()
    event = next(e for e in world.events if e["detail-type"].endswith("customer.start"))

    first = handle_status_event(event, world.runtime)
    duplicate = handle_status_event(event, world.runtime)
    # a token stored again (e.g. a retried AwaitAnswer) and then completed late: not an error
    await_answer(dict(state, task_token="tok-3"), world.runtime)

    assert first["completed"] is True
    assert duplicate == {"remembered": "joined", "completed": False}
    assert [token for token, _ in sfn.completed] == ["tok-3"]


def test_agent_assignment_latency_is_measured_from_initiation(world: World, start_case: StartCase) -> None:
    state = _until_notified(world, start_case, "conv-w4", answer_after_s=2, agent_delay_s=3)
    world.runtime.sfn = RecordingSfn(world.sfn)
    await_answer(dict(state, task_token="tok-4"), world.runtime)
    world.clock.advance(2)
    world.emulator.tick()
    world.clock.advance(3)
    world.emulator.tick()
    results = _deliver_events(world)

    latencies = [m.value for m in world.metrics if m.name == "AgentAssignmentLatency"]
    assert latencies == [pytest.approx(5000, abs=50)]
    assert results[-1]["agent_assignment_latency_ms"] == pytest.approx(5000, abs=50)


def test_an_event_without_genesys_time_is_dated_by_eventbridge(world: World, start_case: StartCase) -> None:
    state, stale = _a_joined_copy_of_the_left(world, start_case, "conv-w5")
    del stale["detail"]["eventBody"]["eventTime"], stale["detail"]["timestamp"]
    stale["time"] = "2000-01-01T00:00:00Z"  # EventBridge received it long ago: a redelivery
    world.clock.advance(60)

    assert "older than" in handle_status_event(stale, world.runtime)["ignored"]
    seen = world.runtime.sessions.status_seen("conv-w5", state["initiate"]["participant_id"])
    assert seen is not None
    assert seen.kind == "left"


def test_events_that_are_not_chat_status_are_ignored(world: World) -> None:
    assert "ignored" in handle_status_event({"detail-type": "x", "detail": {"eventBody": {}}}, world.runtime)
    assert "ignored" in handle_status_event({"unexpected": True}, world.runtime)


@pytest.mark.parametrize(
    ("action", "expected"),
    [("accept", "connected"), ("decline", "declined"), ("ignore", "unanswered")],
)
def test_check_status_reads_the_chat_leg(
    world: World, start_case: StartCase, action: str, expected: str
) -> None:
    state = _until_notified(world, start_case, f"conv-s-{action}", customer_action=action, answer_after_s=1)
    world.clock.advance(300)

    assert check_status(state, world.runtime)["status"] == expected


def test_a_customer_who_chatted_and_left_within_the_wait_is_connected_not_declined(
    world: World, start_case: StartCase
) -> None:
    state = _until_notified(world, start_case, "conv-k9", customer_action="accept", answer_after_s=1)
    world.clock.advance(2)
    world.emulator.tick()
    world.emulator.customer_leaves_chat("conv-k9")  # their "joined" event was lost
    world.clock.advance(300)

    check = check_status(state, world.runtime)
    stopped = settle_stopped_execution(_stopped(world, state), world.runtime)

    assert check["status"] == "connected"
    assert stopped["outcome"] == "connected"


@pytest.mark.parametrize(("action", "expected"), [("accept", "connected"), ("decline", "declined")])
def test_a_genesys_read_outage_after_the_wait_leaves_the_verdict_to_the_customers_status_event(
    world: World, start_case: StartCase, action: str, expected: str
) -> None:
    state = _until_notified(world, start_case, f"conv-so-{action}", customer_action=action, answer_after_s=1)
    world.clock.advance(1)
    world.emulator.tick()
    _deliver_events(world)
    world.emulator.set_fault("get_conversation", error_rate=1.0, error_status=503)

    result = check_status(state, world.runtime)

    assert result["status"] == expected
    assert "Genesys could not be read (ServerError)" in result["decided_by"]
    if expected == "declined":
        world.emulator.clear_faults()
        reason = fallback(dict(state, check=result), world.runtime)["reason"]
        assert reason.startswith("customer declined or left the chat (status event (left);")


@pytest.mark.parametrize("delivered_in_order", [True, False])
def test_a_customer_who_joined_and_left_while_genesys_is_unreadable_is_connected_not_declined(
    world: World, start_case: StartCase, delivered_in_order: bool
) -> None:
    state = _until_notified(world, start_case, f"conv-k8-{delivered_in_order}", customer_action="accept")
    world.clock.advance(5)
    world.emulator.tick()
    world.clock.advance(60)
    world.emulator.customer_leaves_chat(state["case"]["conversation_id"])
    events = [e for e in world.events if e["detail"]["eventBody"].get("mediaType") == "CHAT"]
    world.events[:] = events if delivered_in_order else events[::-1]  # the "joined" arrives late
    _deliver_events(world)
    world.emulator.set_fault("get_conversation", error_rate=1.0, error_status=503)

    check = check_status(state, world.runtime)

    assert check["status"] == "connected"
    assert check["decided_by"].startswith("status event (joined, then left)")


def test_the_event_that_ended_the_wait_decides_when_no_status_was_stored(
    world: World, start_case: StartCase
) -> None:
    state = _until_notified(world, start_case, "conv-so-answer", customer_action="ignore")
    state["answer"] = {"event": "left", "at": world.clock.now(), "source": "event"}
    world.emulator.set_fault("get_conversation", error_rate=1.0, error_status=504)

    assert check_status(state, world.runtime)["status"] == "declined"


@pytest.mark.parametrize("step", [check_status, cleanup])
def test_without_a_status_event_an_unreadable_genesys_is_left_to_the_state_machines_retries(
    world: World, start_case: StartCase, step: Callable[..., dict[str, Any]]
) -> None:
    conversation_id = f"conv-so-none-{step.__name__}"
    state = _until_notified(world, start_case, conversation_id, customer_action="ignore")
    world.clock.advance(300)
    world.emulator.set_fault("get_conversation", error_rate=1.0, error_status=503)

    with pytest.raises(ServerError):
        step(state, world.runtime)
    assert world.emulator.emails_sent(conversation_id) == []


def test_a_status_event_redelivered_after_a_newer_one_is_ignored(world: World, start_case: StartCase) -> None:
    state, stale = _a_joined_copy_of_the_left(world, start_case, "conv-so-late")
    stale["detail"]["eventBody"]["eventTime"] -= 3000  # happened before the "left", delivered after it

    result = handle_status_event(stale, world.runtime)

    assert "older than" in result["ignored"]
    participant_id = state["initiate"]["participant_id"]
    seen = world.runtime.sessions.status_seen("conv-so-late", participant_id)
    assert seen is not None
    assert seen.kind == "left"


# --- Fallback, Cleanup, Defer, RecordOutcome --------------------------------------------------------


def test_fallback_email_quotes_the_conversation_and_offers_a_callback(
    world: World, start_case: StartCase
) -> None:
    state = _until_declined(world, start_case, "conv-f1")

    result = fallback(state, world.runtime)

    assert result["outcome"] == "declined_fallback"
    (email,) = world.emulator.emails_sent("conv-f1")
    text = email.get("textBody", "")
    assert "conv-f1" in text
    assert "call you back" in text
    assert [a["email"] for a in email["to"]] == ["conv-f1@customer.example"]
    assert email["subject"].startswith("Re: ")


def test_the_fallback_email_still_goes_out_when_the_message_list_cannot_be_read(
    world: World, start_case: StartCase
) -> None:
    state = _until_declined(world, start_case, "conv-f2")
    world.emulator.set_fault("list_messages", error_rate=1.0, error_status=403)

    assert fallback(state, world.runtime)["outcome"] == "declined_fallback"
    (email,) = world.emulator.emails_sent("conv-f2")
    assert [a["email"] for a in email["to"]] == ["conv-f2@customer.example"]  # the participant's address


@pytest.mark.parametrize("step", [fallback, cleanup])
def test_a_customer_email_whose_answer_was_lost_is_not_sent_again_on_the_retry(
    world: World, start_case: StartCase, step: Callable[..., dict[str, Any]]
) -> None:
    conversation_id = f"conv-f3-{step.__name__}"
    state = _until_declined(world, start_case, conversation_id)
    world.clock.advance(300)
    world.emulator.set_fault("agentless_email", malformed_rate=1.0)  # sent, then a garbled 200

    with pytest.raises(MalformedResponse):
        step(state, world.runtime)
    world.emulator.set_fault("agentless_email")
    retried = step(state, world.runtime)

    (sent,) = world.emulator.emails_sent(conversation_id)
    assert sent["id"] in (retried.get("fallback_message_id"), retried.get("follow_up_message_id"))


def test_each_email_of_a_conversation_gets_its_own_fallback(world: World, start_case: StartCase) -> None:
    state = _until_declined(world, start_case, "conv-f4")
    other_email = {**state, "case": {**state["case"], "email_id": "email-conv-f4-second"}}

    fallback(state, world.runtime)
    fallback(other_email, world.runtime)
    fallback(state, world.runtime)

    assert len(world.emulator.emails_sent("conv-f4")) == 2


def test_no_customer_email_is_sent_while_genesys_cannot_say_whether_it_already_was(
    world: World, start_case: StartCase
) -> None:
    state = _until_declined(world, start_case, "conv-f5")
    world.emulator.set_fault("list_messages", error_rate=1.0, error_status=503)

    with pytest.raises(ServerError):
        fallback(state, world.runtime)
    assert world.emulator.emails_sent("conv-f5") == []


# --- Late customer emails: Genesys unavailable through Fallback's or Cleanup's retries -------------------


def _queued_for_later(world: World, state: dict[str, Any], step: Callable[..., dict[str, Any]]) -> str:
    """Run ``step`` into its Genesys error, then QueueLateEmail and RecordOutcome as the ASL's Catch does;
    returns the late email's intake message body."""
    with pytest.raises(GENESYS_UNAVAILABLE) as failed:
        step(state, world.runtime)
    state["error"] = {"Error": type(failed.value).__name__, "Cause": str(failed.value)}
    state["late"] = {"step": step.__name__}
    state["final"] = queue_late_email(state, world.runtime)
    record_outcome(state, world.runtime)
    return str(world.sqs.sent_to(world.intake_queue_url)[-1]["MessageBody"])


def test_a_fallback_genesys_could_not_take_is_sent_when_it_answers_and_only_once(
    world: World, start_case: StartCase
) -> None:
    state = _until_declined(world, start_case, "conv-l1")
    world.emulator.set_fault("agentless_email", error_rate=1.0, error_status=503)
    late = _queued_for_later(world, state, fallback)
    queued = world.runtime.outcomes.get("email-conv-l1")
    world.emulator.set_fault("agentless_email")
    world.clock.advance(900)

    first = process_record(world.sqs_record(late, message_id="late-1"), world.runtime)
    again = process_record(world.sqs_record(late, message_id="late-1"), world.runtime)  # delivered twice

    assert queued is not None
    assert queued.details["late_email"] == "queued"
    assert "fallback email is queued" in queued.reason
    assert (first, again) == ("sent", "sent")
    (email,) = world.emulator.emails_sent("conv-l1")
    record = world.runtime.outcomes.get("email-conv-l1")
    assert record is not None
    assert record.outcome == Outcome.DECLINED_FALLBACK
    assert record.details["late_email"] == "sent"
    assert record.details["fallback_message_id"] == email["id"]
    assert "call you back" in email["textBody"]


@pytest.mark.parametrize("left_since", [False, True])
def test_a_late_cleanup_finds_the_customer_who_joined_meanwhile_connected(
    world: World, start_case: StartCase, left_since: bool
) -> None:
    """Joined after the wait, while Genesys could not be read: still chatting, or chatted and left before the
    late run (that customer must not be told "now is not a good time")."""
    conversation_id = f"conv-l2-{left_since}"
    state = _until_notified(world, start_case, conversation_id, customer_action="accept", answer_after_s=1500)
    world.clock.advance(300)
    state["check"] = check_status(state, world.runtime)
    world.emulator.set_fault("get_conversation", error_rate=1.0, error_status=503)
    late = _queued_for_later(world, state, cleanup)
    world.emulator.set_fault("get_conversation")
    world.clock.advance(1500)
    if left_since:
        world.emulator.tick()
        world.emulator.customer_leaves_chat(conversation_id)

    assert process_record(world.sqs_record(late), world.runtime) == "sent"
    record = world.runtime.outcomes.get(f"email-{conversation_id}")
    assert record is not None
    assert record.outcome == Outcome.CONNECTED
    assert [h["outcome"] for h in record.history] == ["timeout_cleanup"]
    assert world.emulator.emails_sent(conversation_id) == []


def test_a_late_email_is_re_queued_while_genesys_is_down_and_given_up_to_the_dlq_after_the_window(
    world: World, start_case: StartCase
) -> None:
    state = _until_notified(world, start_case, "conv-l3", customer_action="ignore")
    world.clock.advance(300)
    state["check"] = check_status(state, world.runtime)
    world.emulator.set_fault("agentless_email", error_rate=1.0, error_status=503)
    late = _queued_for_later(world, state, cleanup)
    window = world.runtime.settings.defer_retry_window_s

    world.clock.advance(900)
    retried = process_record(world.sqs_record(late), world.runtime)
    late_again = str(world.sqs.sent_to(world.intake_queue_url)[-1]["MessageBody"])
    world.clock.advance(window)
    gave_up = process_record(world.sqs_record(late_again), world.runtime)

    assert (retried, gave_up) == ("late_email_retry", "given_up")
    assert json.loads(late_again)["attempt"] == 2
    (dead,) = world.drain(world.dlq_url)
    assert "Genesys still unavailable" in dead["MessageAttributes"]["reason"]["StringValue"]
    record = world.runtime.outcomes.get("email-conv-l3")
    assert record is not None
    assert record.outcome == Outcome.TIMEOUT_CLEANUP
    assert "given up: Genesys still unavailable" in record.reason
    assert world.emulator.emails_sent("conv-l3") == []


def test_a_late_email_that_keeps_failing_for_another_reason_says_so_in_its_emails_record(
    world: World, start_case: StartCase
) -> None:
    state = _until_declined(world, start_case, "conv-l5")
    world.emulator.set_fault("agentless_email", error_rate=1.0, error_status=503)
    late = _queued_for_later(world, state, fallback)

    outcome = reject(
        world.sqs_record(late, message_id="late-5"), world.runtime, "gave up after 5 receives: X"
    )

    assert outcome == "invalid"
    (dead,) = world.drain(world.dlq_url)
    assert dead["MessageAttributes"]["email_id"]["StringValue"] == "email-conv-l5"
    record = world.runtime.outcomes.get("email-conv-l5")
    assert record is not None
    assert record.outcome == Outcome.DECLINED_FALLBACK
    assert record.details["late_email"] == "given_up"
    assert record.reason.endswith("given up: gave up after 5 receives: X")
    assert not [r for r in world.runtime.outcomes.scan_all() if r.email_id.startswith("sqs-")]


def test_a_late_email_whose_dlq_copy_cannot_be_written_is_not_marked_given_up(
    world: World, start_case: StartCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _until_declined(world, start_case, "conv-l6")
    world.emulator.set_fault("agentless_email", error_rate=1.0, error_status=503)
    late = _queued_for_later(world, state, fallback)

    def dlq_down(**kwargs: Any) -> None:
        raise RuntimeError("SQS unavailable")

    monkeypatch.setattr(world.runtime.sqs, "send_message", dlq_down)
    with pytest.raises(RuntimeError):
        reject(world.sqs_record(late), world.runtime, "gave up after 5 receives: X")  # SQS redelivers it

    record = world.runtime.outcomes.get("email-conv-l6")
    assert record is not None
    assert record.details["late_email"] == "queued"


def test_a_message_of_ours_that_cannot_be_read_back_does_not_hold_a_customer_email_back(
    world: World, start_case: StartCase
) -> None:
    state = _until_declined(world, start_case, "conv-f6")
    fallback(state, world.runtime)
    world.emulator.set_fault("get_message", error_rate=1.0, error_status=404)

    fallback({**state, "case": {**state["case"], "email_id": "email-conv-f6-second"}}, world.runtime)

    assert len(world.emulator.emails_sent("conv-f6")) == 2


def test_a_late_email_message_for_another_step_is_rejected_with_its_reason(world: World) -> None:
    body = {"kind": "email2chat.late_email", "step": "notify", "state": {}, "queued_at": 0}

    assert process_record(world.sqs_record(body), world.runtime) == "invalid"
    (dead,) = world.drain(world.dlq_url)
    assert "'notify' is not one of fallback, cleanup" in dead["MessageAttributes"]["reason"]["StringValue"]


# --- Executions stopped outside the workflow (console stop, timeout, uncaught failure) ---------------


def _stopped(world: World, state: dict[str, Any], status: str = "ABORTED", **detail: Any) -> dict[str, Any]:
    """The EventBridge event Step Functions sends when the execution of ``state`` stops."""
    name = state["case"]["execution"]
    return {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": world.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}",
            "stateMachineArn": world.state_machine_arn,
            "name": name,
            "status": status,
            "input": json.dumps({"case": state["case"]}),
            **detail,
        },
    }


def test_an_execution_stopped_while_the_customer_is_prompted_frees_the_conversation_and_closes_the_leg(
    world: World, start_case: StartCase
) -> None:
    state = _until_notified(world, start_case, "conv-s1", customer_action="ignore")

    result = settle_stopped_execution(_stopped(world, state), world.runtime)

    assert result == {"lock_released": True, "outcome": "deferred", "recorded": True}
    assert world.runtime.lock.holder("conv-s1") is None
    assert all(leg["state"] == "disconnected" for leg in _legs(world, "conv-s1"))
    record = world.runtime.outcomes.get("email-conv-s1")
    assert record is not None
    assert record.reason == "execution aborted outside the workflow; the chat leg it opened was closed"
    assert record.details["customer_prompted"] is True
    assert not world.runtime.cooldown.claim(state["case"]["customer_key"], "email-conv-s1-other")


def test_an_execution_stopped_before_any_leg_gives_the_cooldown_claim_back(
    world: World, start_case: StartCase
) -> None:
    state = start_case("conv-s2")
    state["collision"] = collision_check(state, world.runtime)
    event = _stopped(world, state, "FAILED", error="States.Runtime", cause="RecordOutcome: table unreachable")

    settle_stopped_execution(event, world.runtime)

    assert world.runtime.lock.holder("conv-s2") is None
    assert world.runtime.cooldown.claim(state["case"]["customer_key"], "email-conv-s2-other")
    record = world.runtime.outcomes.get("email-conv-s2")
    assert record is not None
    assert record.outcome == Outcome.DEFERRED
    assert record.reason == (
        "execution failed outside the workflow (States.Runtime: RecordOutcome: table unreachable);"
        " no chat leg opened"
    )


def test_an_execution_stopped_between_initiate_and_the_push_closes_the_leg_and_frees_the_customer(
    world: World, start_case: StartCase
) -> None:
    state = _until_initiated(world, start_case, "conv-s5")

    settle_stopped_execution(_stopped(world, state), world.runtime)

    assert all(leg["state"] == "disconnected" for leg in _legs(world, "conv-s5"))
    assert world.runtime.cooldown.claim(state["case"]["customer_key"], "email-conv-s5-other")
    record = world.runtime.outcomes.get("email-conv-s5")
    assert record is not None
    assert record.details["customer_prompted"] is False


def test_an_execution_stopped_while_the_customer_chats_leaves_the_chat_open(
    world: World, start_case: StartCase
) -> None:
    state = _until_notified(world, start_case, "conv-s3", customer_action="accept", answer_after_s=1)
    world.clock.advance(2)

    settle_stopped_execution(_stopped(world, state), world.runtime)

    record = world.runtime.outcomes.get("email-conv-s3")
    assert record is not None
    assert record.outcome == Outcome.CONNECTED
    assert any(leg["state"] == "connected" for leg in _legs(world, "conv-s3"))


def test_a_stopped_execution_leaves_the_leg_and_lock_of_its_emails_next_attempt_alone(
    world: World, start_case: StartCase
) -> None:
    state = _until_initiated(world, start_case, "conv-s6")
    world.runtime.lock.release("conv-s6", state["case"]["execution"])
    world.runtime.lock.acquire("conv-s6", f"{state['case']['email_key']}-2")  # its Defer queued attempt 2

    result = settle_stopped_execution(_stopped(world, state, "FAILED"), world.runtime)

    assert result == {"lock_released": False, "outcome": None, "recorded": False}
    assert world.runtime.lock.holder("conv-s6") == f"{state['case']['email_key']}-2"
    assert any(leg["state"] == "alerting" for leg in _legs(world, "conv-s6"))
    assert world.runtime.outcomes.get("email-conv-s6") is None


def test_a_stopped_execution_keeps_the_lock_until_it_has_settled_the_leg(
    world: World, start_case: StartCase
) -> None:
    state = _until_notified(world, start_case, "conv-s7", customer_action="ignore")
    world.emulator.set_fault("get_conversation", error_rate=1.0, error_status=503)

    with pytest.raises(ServerError):
        settle_stopped_execution(_stopped(world, state), world.runtime)  # Lambda retries the event

    assert world.runtime.lock.holder("conv-s7") == state["case"]["execution"]
    assert world.runtime.outcomes.get("email-conv-s7") is None


def test_a_stopped_execution_leaves_a_later_attempts_record_alone(
    world: World, start_case: StartCase
) -> None:
    state = _until_initiated(world, start_case, "conv-s8")
    later = {**state, "case": {**state["case"], "attempt": 2, "execution": f"{state['case']['email_key']}-2"}}
    record_outcome(dict(later, final={"outcome": "deferred", "reason": "x", "final": False}), world.runtime)

    result = settle_stopped_execution(_stopped(world, state), world.runtime)

    assert result["recorded"] is False
    record = world.runtime.outcomes.get("email-conv-s8")
    assert record is not None
    assert record.details["final"] is False
    assert any(leg["state"] == "alerting" for leg in _legs(world, "conv-s8"))


def test_a_stopped_execution_event_without_its_input_is_refused_by_name(world: World) -> None:
    event = {"detail": {"name": "email-x-1", "status": "ABORTED", "input": "[]"}}

    with pytest.raises(InvalidEmailEvent, match="without a JSON object 'input'"):
        settle_stopped_execution(event, world.runtime)


def test_a_stopped_execution_whose_outcome_is_recorded_keeps_it(world: World, start_case: StartCase) -> None:
    state = _until_declined(world, start_case, "conv-s4")
    state["final"] = fallback(state, world.runtime)
    record_outcome(state, world.runtime)
    world.runtime.lock.acquire("conv-s4", state["case"]["execution"])  # held again: the event still frees it

    first = settle_stopped_execution(_stopped(world, state, "TIMED_OUT"), world.runtime)
    succeeded = settle_stopped_execution(_stopped(world, state, "SUCCEEDED"), world.runtime)

    assert first == {"lock_released": True, "outcome": "declined_fallback", "recorded": False}
    assert "SUCCEEDED" in succeeded["ignored"]
    record = world.runtime.outcomes.get("email-conv-s4")
    assert record is not None
    assert record.outcome == Outcome.DECLINED_FALLBACK


def test_cleanup_disconnects_the_leg_and_follows_up_by_email(world: World, start_case: StartCase) -> None:
    state = _until_notified(world, start_case, "conv-x1", customer_action="ignore")
    world.clock.advance(300)

    result = cleanup(state, world.runtime)
    again = cleanup(state, world.runtime)  # already disconnected counts as done; already sent too

    assert result["outcome"] == "timeout_cleanup"
    assert again["outcome"] == "timeout_cleanup"
    assert again["follow_up_message_id"] == result["follow_up_message_id"]
    assert all(leg["state"] == "disconnected" for leg in _legs(world, "conv-x1"))
    (follow_up,) = world.emulator.emails_sent("conv-x1")
    assert "conv-x1" in follow_up["textBody"]


def test_cleanup_after_a_failed_push_does_not_mention_an_invitation_the_customer_never_saw(
    world: World, start_case: StartCase
) -> None:
    state = _until_initiated(world, start_case, "conv-x3")
    state["check"] = {"status": "notify_failed"}  # NotifyFailed: the push never went out

    result = cleanup(state, world.runtime)

    assert result["reason"].startswith("push notification failed")
    (follow_up,) = world.emulator.emails_sent("conv-x3")
    assert "could not reach you" in follow_up["textBody"]
    assert "not a good time" not in follow_up["textBody"]
    assert "call you back" in follow_up["textBody"]


def test_a_leg_genesys_refuses_to_close_does_not_hold_back_the_follow_up_email(
    world: World, start_case: StartCase
) -> None:
    state = _until_notified(world, start_case, "conv-x4", customer_action="ignore")
    world.clock.advance(300)
    world.emulator.set_fault("disconnect_participant", error_rate=1.0, error_status=403)

    result = cleanup(state, world.runtime)

    assert result["reason"] == (
        "no answer within the wait; chat leg could not be closed (Forbidden; Genesys times it out),"
        " follow-up email sent"
    )
    assert len(world.emulator.emails_sent("conv-x4")) == 1


def test_cleanup_keeps_a_chat_the_customer_joined_at_the_last_moment(
    world: World, start_case: StartCase
) -> None:
    state = _until_notified(world, start_case, "conv-x2", customer_action="accept", answer_after_s=299)
    world.clock.advance(300)

    assert cleanup(state, world.runtime)["outcome"] == "connected"
    assert world.emulator.emails_sent("conv-x2") == []


@pytest.mark.parametrize("genesys_readable", [True, False])
def test_a_customer_who_declines_while_cleanup_retries_gets_the_callback_offer(
    world: World, start_case: StartCase, genesys_readable: bool
) -> None:
    conversation_id = f"conv-x7-{genesys_readable}"
    state = _until_notified(world, start_case, conversation_id, customer_action="decline", answer_after_s=320)
    world.clock.advance(300)
    state["check"] = check_status(state, world.runtime)
    assert state["check"]["status"] == "unanswered"
    if not genesys_readable:  # then only the customer's "left" event can tell
        world.emulator.set_fault("get_conversation", error_rate=1.0, error_status=503)
    world.clock.advance(20)
    world.emulator.tick()  # declined while Cleanup was being retried
    _deliver_events(world)

    result = cleanup(state, world.runtime)

    assert result["outcome"] == "declined_fallback"
    assert result["reason"].startswith("customer declined")
    (email,) = world.emulator.emails_sent(conversation_id)
    assert "call you back" in email["textBody"]


def test_cleanup_that_cannot_read_genesys_keeps_a_chat_whose_customer_joined(
    world: World, start_case: StartCase
) -> None:
    state = _until_notified(world, start_case, "conv-x5", customer_action="accept", answer_after_s=290)
    world.emulator.set_fault("get_conversation", error_rate=1.0, error_status=503)
    with pytest.raises(ServerError):  # CheckStatus at the timeout: no event yet, so the ASL cleans up
        check_status(state, world.runtime)
    world.clock.advance(300)
    world.emulator.tick()
    _deliver_events(world)  # the "joined" arrives while Cleanup retries

    result = cleanup(state, world.runtime)

    assert result["outcome"] == "connected"
    assert "status event (joined)" in result["reason"]
    assert world.emulator.emails_sent("conv-x5") == []
    assert all(leg["state"] != "disconnected" for leg in _legs(world, "conv-x5"))


def test_defer_requeues_the_next_attempt_with_a_delay(world: World, start_case: StartCase) -> None:
    state = start_case("conv-d1")
    state["error"] = {"Error": "BreakerOpen", "Cause": "{}"}

    result = defer(state, world.runtime)

    assert result["final"] is False
    assert result["next_execution"] == "email-conv-d1-2"
    (sent,) = world.sqs.sent_to(world.intake_queue_url)
    assert sent["DelaySeconds"] == 60
    assert '"attempt": 2' in sent["MessageBody"]
    assert "BreakerOpen" in result["reason"]


def test_defer_is_final_after_the_retry_window(world: World, start_case: StartCase) -> None:
    state = start_case("conv-d2")
    world.clock.advance(3600)

    result = defer(state, world.runtime)

    assert result["final"] is True
    assert result["outcome"] == "deferred"
    assert world.sqs.sent_to(world.intake_queue_url) == []


def test_a_wait_trigger_upgrade_gets_the_whole_retry_window_from_its_re_check(
    world: World, start_case: StartCase
) -> None:
    state = start_case("conv-d13")
    # received an hour ago, upgraded by the wait trigger's re-check 15 minutes later, deferred since then
    state["case"] |= {"received_at": world.clock.now() - 3600, "decided_at": world.clock.now() - 2700}
    state["error"] = {"Error": "BreakerOpen", "Cause": "{}"}

    result = defer(state, world.runtime)

    assert result["final"] is False  # 45 minutes into its own 60
    assert result["next_execution"] == "email-conv-d13-2"


def test_a_final_deferral_closes_the_chat_leg_its_email_opened(world: World, start_case: StartCase) -> None:
    # A 201 landed, then the attribute patch kept failing until the retry window was spent: nobody was
    # notified, so the leg must not outlive the workflow (an agent would wait in an empty chat).
    state = _until_initiated(world, start_case, "conv-d3")
    del state["initiate"]  # the failing Initiate was caught into $.error
    state["error"] = {"Error": "ServerError", "Cause": "attribute patch failed"}
    world.clock.advance(3600)

    result = defer(state, world.runtime)

    assert result["final"] is True
    assert result["reason"].endswith("the chat leg it opened was closed")
    assert [leg["state"] for leg in _legs(world, "conv-d3")] == ["disconnected"]


def test_a_non_retryable_initiate_failure_gives_up_without_requeueing(
    world: World, start_case: StartCase
) -> None:
    state = _until_initiated(world, start_case, "conv-d4")
    del state["initiate"]
    state["error"] = {"Error": "BadRequest", "Cause": "attribute rejected"}
    state["give_up"] = {"reason": "initiateChat failed with a non-retryable error"}

    result = defer(state, world.runtime)

    assert result["final"] is True
    assert result["reason"].startswith("initiateChat failed with a non-retryable error (BadRequest)")
    assert world.sqs.sent_to(world.intake_queue_url) == []
    assert [leg["state"] for leg in _legs(world, "conv-d4")] == ["disconnected"]


def test_a_final_deferral_of_a_conversation_genesys_no_longer_has_is_recorded_not_raised(
    world: World, start_case: StartCase
) -> None:
    state = start_case("conv-d6")
    state["case"]["conversation_id"] = "conv-deleted-meanwhile"  # Genesys answers 404 for it
    state["error"] = {"Error": "NotFound", "Cause": "conversation not found"}
    state["give_up"] = {"reason": "initiateChat failed with a non-retryable error"}

    result = defer(state, world.runtime)

    assert result == {
        "outcome": "deferred",
        "final": True,
        "reason": "initiateChat failed with a non-retryable error (NotFound)",
    }


@pytest.mark.parametrize(
    ("status", "raised"), [(503, ServerError), (500, OutcomeUnknown), (502, OutcomeUnknown)]
)
def test_only_a_push_that_was_not_taken_may_be_repeated(
    world: World, start_case: StartCase, status: int, raised: type[Exception]
) -> None:
    state = _until_initiated(world, start_case, f"conv-n{status}")
    world.emulator.set_fault("push_notification", error_rate=1.0, error_status=status)
    with pytest.raises(raised):
        notify(state, world.runtime)


def test_a_push_service_outage_defers_and_the_next_attempt_pushes_on_the_same_leg(
    world: World, start_case: StartCase
) -> None:
    state = _until_initiated(world, start_case, "conv-d7")
    world.emulator.set_fault("push_notification", error_rate=1.0, error_status=503)
    with pytest.raises(ServerError):
        notify(state, world.runtime)
    # the ASL: Notify's retries spent -> NotifyUnavailable ($.check) -> Defer
    state |= PUSH_SERVICE_DOWN
    deferred = defer(state, world.runtime)
    assert deferred["final"] is False
    assert deferred["reason"] == "push notification blocked (ServerError); re-queued as attempt 2"
    record_outcome(state | {"final": deferred}, world.runtime)
    customer_key = state["case"]["customer_key"]
    assert not world.runtime.cooldown.claim(customer_key, "another-email")  # kept for the next attempt
    world.emulator.clear_faults()

    (requeued,) = world.sqs.sent_to(world.intake_queue_url)
    next_attempt = world.sqs_record(requeued["MessageBody"], message_id="m-2")
    assert process_record(next_attempt, world.runtime) == "started"
    retry = world.execution_input(deferred["next_execution"])
    assert collision_check(retry, world.runtime)["status"] == "clear"  # its own leg is not a collision
    retry["initiate"] = initiate(retry, world.runtime)
    notify(retry, world.runtime)

    assert retry["initiate"]["adopted"] is True
    assert [leg["state"] for leg in _legs(world, "conv-d7")] == ["alerting"]
    assert len(world.emulator.notifications("conv-d7")) == 1


def test_a_deferred_wait_trigger_upgrade_whose_email_an_agent_answered_meanwhile_ends_not_urgent(
    world: World,
) -> None:
    world.seed("conv-d12")
    calm = world.direct_message(
        "email-d12", "conv-d12", subject="Address", body="How do I change my address?", queue_wait_minutes=16
    )
    assert process_record(world.sqs_record(calm), world.runtime) == "started"
    state = world.execution_input("email-d12-1")
    assert state["case"]["urgent_by"] == "wait_trigger"
    state["collision"] = collision_check(state, world.runtime)
    state["initiate"] = initiate(state, world.runtime)
    state |= PUSH_SERVICE_DOWN
    deferred = defer(state, world.runtime)  # the push service was down
    record_outcome(state | {"final": deferred}, world.runtime)
    (requeued,) = world.sqs.sent_to(world.intake_queue_url)
    assert (
        process_record(world.sqs_record(requeued["MessageBody"], message_id="m-2"), world.runtime)
        == "started"
    )
    retry = world.execution_input(deferred["next_execution"])
    world.emulator.answer_email("conv-d12")  # an agent replied by email during the deferral

    retry["collision"] = collision_check(retry, world.runtime)

    assert retry["collision"]["status"] == "answered"
    assert retry["collision"]["reason"].endswith("; the chat leg it opened was closed")
    assert [leg["state"] for leg in _legs(world, "conv-d12")] == ["disconnected"]
    record_outcome(
        retry | {"final": {"outcome": "not_urgent", "reason": "answered", "final": True}}, world.runtime
    )
    assert world.runtime.cooldown.claim(retry["case"]["customer_key"], "another-email")  # never prompted
    assert world.emulator.notifications("conv-d12") == []


def test_a_leg_that_vanishes_before_its_disconnect_is_not_a_missing_conversation(
    world: World, start_case: StartCase
) -> None:
    state = _until_initiated(world, start_case, "conv-d14")
    state |= PUSH_SERVICE_DOWN
    world.clock.advance(3600)
    world.emulator.set_fault("disconnect_participant", error_rate=1.0, error_status=404)

    result = defer(state, world.runtime)

    assert result["final"] is True
    assert result["reason"].endswith("still blocked after the 3600 s retry window")  # nothing left to close


def test_a_final_deferral_after_failed_pushes_closes_the_leg_and_gives_the_claim_back(
    world: World, start_case: StartCase
) -> None:
    state = _until_initiated(world, start_case, "conv-d8")
    state |= PUSH_SERVICE_DOWN
    world.clock.advance(3600)

    final = defer(state, world.runtime)
    record_outcome(state | {"final": final}, world.runtime)

    assert final["final"] is True
    assert final["reason"].endswith("the chat leg it opened was closed")
    assert [leg["state"] for leg in _legs(world, "conv-d8")] == ["disconnected"]
    assert world.runtime.cooldown.claim(state["case"]["customer_key"], "another-email")  # never prompted


def test_a_final_deferral_is_recorded_even_when_its_chat_leg_cannot_be_checked(
    world: World, start_case: StartCase
) -> None:
    state = start_case("conv-d9")
    world.clock.advance(3600)
    world.emulator.set_fault("get_conversation", error_rate=1.0, error_status=403)

    result = defer(state, world.runtime)

    assert result["final"] is True
    assert result["reason"].endswith("; its chat leg could not be checked or closed (Forbidden)")


def test_a_final_deferral_whose_leg_genesys_fails_to_close_is_retried_not_recorded(
    world: World, start_case: StartCase
) -> None:
    state = _until_initiated(world, start_case, "conv-d10")
    state |= PUSH_SERVICE_DOWN
    world.clock.advance(3600)
    world.emulator.set_fault("disconnect_participant", error_rate=1.0, error_status=503)

    with pytest.raises(ServerError):  # the ASL retries Defer
        defer(state, world.runtime)
    world.emulator.clear_faults()
    retried = defer(state, world.runtime)

    assert retried["reason"].endswith("the chat leg it opened was closed")
    assert [leg["state"] for leg in _legs(world, "conv-d10")] == ["disconnected"]


def test_a_final_deferral_leaves_another_emails_chat_alone(world: World, start_case: StartCase) -> None:
    state = start_case("conv-d5", manual_chat=True)  # the customer's own chat, not ours
    world.clock.advance(3600)

    defer(state, world.runtime)

    legs = _legs(world, "conv-d5")
    assert legs
    assert all(leg["state"] != "disconnected" for leg in legs)


def test_record_outcome_releases_the_lock_and_the_unused_cooldown(
    world: World, start_case: StartCase
) -> None:
    state = start_case("conv-r1", manual_chat=True)
    state["collision"] = collision_check(state, world.runtime)
    state["final"] = {
        "outcome": "collision_skipped",
        "reason": "Chat session already in progress",
        "final": True,
    }

    assert record_outcome(state, world.runtime) == {"outcome": "collision_skipped", "final": True}

    assert world.runtime.lock.holder("conv-r1") is None
    record = world.runtime.outcomes.get("email-conv-r1")
    assert record is not None
    assert record.outcome == Outcome.COLLISION_SKIPPED
    assert record.execution == "email-conv-r1-1"
    assert record.timings["finished"] == world.clock.now()
    assert world.runtime.cooldown.claim(state["case"]["customer_key"], "another-email")
    assert [m.dimensions for m in world.metrics if m.name == "Outcome"] == [{"outcome": "collision_skipped"}]


def test_record_outcome_keeps_the_cooldown_of_a_notified_customer(
    world: World, start_case: StartCase
) -> None:
    state = _until_notified(world, start_case, "conv-r2")
    state["check"] = {"status": "connected", "checked_at": world.clock.now()}
    state["final"] = {"outcome": "connected", "reason": "customer joined the chat", "final": True}

    record_outcome(state, world.runtime)

    record = world.runtime.outcomes.get("email-conv-r2")
    assert record is not None
    assert record.outcome == Outcome.CONNECTED
    assert {"initiated", "notified", "connected", "finished"} <= set(record.timings)
    assert record.details["session_id"] == state["initiate"]["session_id"]
    assert not world.runtime.cooldown.claim(state["case"]["customer_key"], "another-email")
    assert world.runtime.lock.holder("conv-r2") is None


@pytest.mark.parametrize("outcome", ["connected", "declined_fallback", "timeout_cleanup"])
def test_a_push_whose_answer_timed_out_keeps_the_cooldown(
    world: World, start_case: StartCase, outcome: str
) -> None:
    # Notify's Timeout is caught straight into AwaitAnswer: the push may have landed, so ``$.notify`` is
    # absent but the customer may well have been prompted (a connect or decline proves it).
    state = _until_initiated(world, start_case, "conv-r4")
    state["error"] = {"Error": "Timeout", "Cause": "push notification timed out"}
    state["check"] = {"status": "connected" if outcome == "connected" else "declined"}
    state["final"] = {"outcome": outcome, "reason": "x", "final": True}

    record_outcome(state, world.runtime)

    assert not world.runtime.cooldown.claim(state["case"]["customer_key"], "another-email")
    record = world.runtime.outcomes.get("email-conv-r4")
    assert record is not None
    assert record.details["customer_prompted"] is True  # a late duplicate delivery must not release it


def test_a_failed_push_gives_the_cooldown_back(world: World, start_case: StartCase) -> None:
    state = _until_initiated(world, start_case, "conv-r5")
    state["error"] = {"Error": "BadRequest", "Cause": "no device"}
    state["check"] = {"status": "notify_failed"}
    state["final"] = {"outcome": "timeout_cleanup", "reason": "push notification failed", "final": True}

    record_outcome(state, world.runtime)

    assert world.runtime.cooldown.claim(state["case"]["customer_key"], "another-email")


def test_a_deferred_attempt_is_not_final_and_keeps_the_claim(world: World, start_case: StartCase) -> None:
    state = start_case("conv-r3")
    state["collision"] = collision_check(state, world.runtime)
    state["final"] = {"outcome": "deferred", "reason": "breaker open", "final": False}

    assert record_outcome(state, world.runtime) == {"outcome": "deferred", "final": False}
    assert not [m for m in world.metrics if m.name == "Outcome"]
    assert not world.runtime.cooldown.claim(state["case"]["customer_key"], "another-email")


def test_an_event_for_another_chat_leg_does_not_end_our_wait(world: World, start_case: StartCase) -> None:
    sfn = RecordingSfn(world.sfn)
    world.runtime.sfn = sfn
    state = _until_notified(world, start_case, "conv-w5", customer_action="ignore")
    await_answer(dict(state, task_token="tok-5"), world.runtime)
    world.emulator.open_manual_chat("conv-w5")  # the customer opens a chat by hand: a different leg

    results = _deliver_events(world)

    assert results
    assert all(r.get("completed") is False for r in results)
    assert sfn.completed == []


def test_scaled_time_shortens_real_delays_not_clock_decisions(world: World, start_case: StartCase) -> None:
    world.runtime.settings = world.runtime.settings.model_copy(update={"time_scale": 0.01})
    state = start_case("conv-d3")
    state["error"] = {"Error": "BreakerOpen"}

    result = defer(state, world.runtime)

    (sent,) = world.sqs.sent_to(world.intake_queue_url)
    assert sent["DelaySeconds"] == 1  # 60 clock seconds at 0.01 real seconds each, at least 1
    assert result["retry_at"] == world.clock.now() + 60  # decisions stay in clock time
