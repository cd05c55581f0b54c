"""Intake: message forms, invalid messages to the DLQ with a reason, duplicates, not-urgent re-checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from email2chat.state.outcomes import Outcome, OutcomeRecord
from email2chat.workflow.case import email_key, execution_name
from email2chat.workflow.intake import handle_batch, process_record, reject
from email2chat.workflow.intake_messages import DEFERRED_KIND
from hypothesis import given
from hypothesis import strategies as st

from .conftest import World


def test_urgent_direct_email_starts_one_workflow_named_after_the_email(world: World) -> None:
    world.seed("conv-1")
    result = handle_batch(
        {"Records": [world.sqs_record(world.direct_message("email-1", "conv-1"))]}, world.runtime
    )

    assert result == {"batchItemFailures": []}
    assert [e["name"] for e in world.executions()] == ["email-1-1"]
    case = world.execution_input("email-1-1")["case"]
    assert case["conversation_id"] == "conv-1"
    assert case["urgent_by"] == "score"
    assert case["execution"] == "email-1-1"
    assert case["attributes"] == {"Account_ID": "A-1", "Product_Type": "card"}
    # no body and no customer address in the execution input (it is visible in the console)
    serialized = json.dumps(case)
    assert "blocked" not in serialized
    assert "@customer.example" not in serialized


def test_genesys_event_fetches_the_email_and_uses_the_conversation_id(world: World) -> None:
    world.seed("conv-2", queue_wait_s=60)
    event = world.emulator.email_started_event("conv-2")

    assert process_record(world.sqs_record(event), world.runtime) == "started"

    case = world.execution_input("conv-2-1")["case"]
    assert case["email_id"] == "conv-2"
    assert case["source"] == "genesys_event"
    assert case["attributes"] == {"Account_ID": "A-1", "Product_Type": "card"}
    fetched = {r["endpoint"] for r in world.emulator.request_log()}
    assert {"get_conversation", "list_messages"} <= fetched


def test_the_same_message_three_times_starts_one_workflow(world: World) -> None:
    world.seed("conv-3")
    body = world.direct_message("email-3", "conv-3")
    results = [process_record(world.sqs_record(body, message_id=f"m{i}"), world.runtime) for i in range(3)]
    world.clock.advance(5)  # a later redelivery has a different received time: still the same workflow
    results.append(process_record(world.sqs_record(body, message_id="m4"), world.runtime))

    # Same name and same input: StartExecution is idempotent and answers the existing execution (as AWS
    # does); a different input under the same name is ExecutionAlreadyExists. Either way, one workflow.
    assert results[0] == "started"
    assert results[-1] == "duplicate"
    assert len(world.executions()) == 1


@pytest.mark.parametrize(
    ("body", "reason_part"),
    [
        ("not json {", "not JSON"),
        ("[1, 2]", "expected an object"),
        ({"hello": "world"}, "unknown message form"),
        ({"email_id": "e-9", "conversation_id": "c-9", "subject": "hi"}, "customer"),
        (
            {"email_id": "e-9", "conversation_id": "", "subject": "hi", "customer": {"id": "x"}},
            "conversation_id",
        ),
        (
            {
                "detail-type": "v2.detail.events.conversation.{id}.customer.start",
                "detail": {"eventBody": {"conversationId": "c", "mediaType": "CHAT"}},
            },
            "mediaType CHAT",
        ),
    ],
)
def test_malformed_messages_go_to_the_dlq_with_their_reason(
    world: World, body: object, reason_part: str
) -> None:
    result = handle_batch({"Records": [world.sqs_record(body, message_id="bad-1")]}, world.runtime)

    assert result == {"batchItemFailures": []}  # not retried: it will never get better
    dead = world.drain(world.dlq_url)
    assert len(dead) == 1
    reason = dead[0]["MessageAttributes"]["reason"]["StringValue"]
    assert reason_part in reason
    assert dead[0]["MessageAttributes"]["source_message_id"]["StringValue"] == "bad-1"
    records = world.runtime.outcomes.scan_all()
    assert [r.outcome for r in records] == [Outcome.INVALID]
    assert records[0].reason == reason
    assert world.executions() == []


def test_a_settled_emails_event_redelivered_during_a_genesys_outage_is_a_duplicate_at_once(
    world: World,
) -> None:
    from email2chat.workflow.record_outcome import record_outcome

    world.seed("conv-4r")
    event = world.emulator.email_started_event("conv-4r")
    assert process_record(world.sqs_record(event), world.runtime) == "started"
    state = world.execution_input("conv-4r-1")
    record_outcome(dict(state, final={"outcome": "connected", "reason": "x", "final": True}), world.runtime)
    world.emulator.set_fault("list_messages", error_rate=1.0, error_status=503)
    world.emulator.set_fault("get_conversation", error_rate=1.0, error_status=503)

    assert process_record(world.sqs_record(event, message_id="again"), world.runtime) == "duplicate"
    assert world.sqs.sent_to(world.intake_queue_url) == []  # not re-queued to wait out the outage


def test_an_event_for_an_unknown_conversation_is_invalid(world: World) -> None:
    world.seed("conv-4")
    event = world.emulator.email_started_event("conv-4")
    event["detail"]["eventBody"]["conversationId"] = "conv-missing"

    assert process_record(world.sqs_record(event), world.runtime) == "invalid"
    record = world.runtime.outcomes.get("conv-missing")  # an event's email id is its conversation id
    assert record is not None
    assert record.outcome is Outcome.INVALID
    assert record.conversation_id == "conv-missing"
    assert world.runtime.outcomes.get("sqs-m-1") is None


@pytest.mark.parametrize(
    ("broken", "ends_the_email"),
    [
        ({"kind": DEFERRED_KIND, "case": {"email_id": "email-6", "conversation_id": "conv-6"}}, True),
        ({"email_id": "email-6", "conversation_id": "conv-6"}, False),  # a copy: no subject, body or customer
    ],
)
def test_a_rejected_message_ends_a_pending_email_only_as_its_own_next_step(
    world: World, broken: dict[str, Any], ends_the_email: bool
) -> None:
    world.runtime.outcomes.record(
        OutcomeRecord(
            email_id="email-6",
            outcome=Outcome.DEFERRED,
            reason="initiate blocked (BreakerOpen); re-queued as attempt 2",
            details={"final": False},
        )
    )

    assert process_record(world.sqs_record(broken, message_id="bad-6"), world.runtime) == "invalid"
    record = world.runtime.outcomes.get("email-6")
    assert record is not None
    assert record.outcome is (Outcome.INVALID if ends_the_email else Outcome.DEFERRED)
    assert record.conversation_id == ("conv-6" if ends_the_email else None)
    assert (world.runtime.outcomes.get("sqs-bad-6") is None) is ends_the_email


def test_a_broken_copy_that_arrives_first_does_not_block_the_good_delivery(world: World) -> None:
    world.seed("conv-8")
    world.seed("conv-9")
    broken_direct = {"email_id": "email-8", "conversation_id": "conv-8", "subject": "hi"}  # no customer
    broken_event = world.emulator.email_started_event("conv-9")
    broken_event["detail"]["eventBody"]["mediaType"] = "CHAT"

    assert process_record(world.sqs_record(broken_direct, message_id="bad-8"), world.runtime) == "invalid"
    assert process_record(world.sqs_record(broken_event, message_id="bad-9"), world.runtime) == "invalid"
    good_direct = world.sqs_record(world.direct_message("email-8", "conv-8"), message_id="ok-8")
    good_event = world.sqs_record(world.emulator.email_started_event("conv-9"), message_id="ok-9")

    assert process_record(good_direct, world.runtime) == "started"
    assert process_record(good_event, world.runtime) == "started"
    rejected = world.runtime.outcomes.get("sqs-bad-8")
    assert rejected is not None
    assert rejected.details["email_id_hint"] == "email-8"  # findable from the email, without settling it


def test_a_broken_copy_given_up_on_as_a_poison_message_does_not_settle_its_email(world: World) -> None:
    broken = world.sqs_record({"email_id": "email-p", "conversation_id": "conv-p"}, message_id="bad-p")

    assert reject(broken, world.runtime, "gave up after 5 receives: RuntimeError") == "invalid"
    assert world.runtime.outcomes.get("email-p") is None
    assert world.runtime.outcomes.get("sqs-bad-p") is not None


def test_a_broken_copy_of_a_settled_email_does_not_overwrite_its_outcome(world: World) -> None:
    world.seed("conv-5")
    process_record(world.sqs_record(world.direct_message("email-5", "conv-5")), world.runtime)
    world.runtime.outcomes.record(
        OutcomeRecord(email_id="email-5", outcome=Outcome.CONNECTED, reason="customer joined the chat")
    )
    broken = {"email_id": "email-5", "conversation_id": "conv-5"}  # no subject, body or customer

    assert process_record(world.sqs_record(broken, message_id="bad-5"), world.runtime) == "invalid"
    settled = world.runtime.outcomes.get("email-5")
    assert settled is not None
    assert settled.outcome is Outcome.CONNECTED
    rejected = world.runtime.outcomes.get("sqs-bad-5")
    assert rejected is not None
    assert rejected.outcome is Outcome.INVALID


class BrokenClassifier:
    def decide(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("model artifact missing")


def test_unexpected_failures_are_reported_per_item_then_dead_lettered(world: World) -> None:
    world.seed("conv-5")
    good = world.sqs_record(world.direct_message("email-ok", "conv-5"), message_id="ok")
    assert handle_batch({"Records": [good]}, world.runtime) == {"batchItemFailures": []}
    world.runtime._classifier = BrokenClassifier()
    failing = world.sqs_record(world.direct_message("email-x", "conv-5"), message_id="failing")

    assert handle_batch({"Records": [failing]}, world.runtime) == {
        "batchItemFailures": [{"itemIdentifier": "failing"}]
    }
    assert world.drain(world.dlq_url) == []

    limit = world.runtime.settings.intake_max_receive_count
    poison = world.sqs_record(
        world.direct_message("email-x", "conv-5"), message_id="failing", receive_count=limit
    )
    assert handle_batch({"Records": [poison]}, world.runtime) == {"batchItemFailures": []}
    dead = world.drain(world.dlq_url)
    assert len(dead) == 1
    reason = dead[0]["MessageAttributes"]["reason"]["StringValue"]
    assert reason == "gave up after 5 receives: RuntimeError: model artifact missing"
    assert [e["name"] for e in world.executions()] == ["email-ok-1"]


def test_a_genesys_outage_puts_the_message_back_instead_of_poisoning_it(world: World) -> None:
    world.seed("conv-5b")
    world.emulator.set_fault("get_conversation", outage_until=world.clock.now() + 7200)
    event = world.sqs_record(world.emulator.email_started_event("conv-5b"), message_id="flaky")

    assert process_record(event, world.runtime) == "retry_later"
    (requeued,) = world.sqs.sent_to(world.intake_queue_url)
    assert requeued["DelaySeconds"] == 60
    wrapper = json.loads(requeued["MessageBody"])
    assert wrapper["kind"] == "email2chat.retry"
    assert wrapper["retries"] == 1

    world.clock.advance(3600)  # still down after the retry window: now it is dead-lettered, with the reason
    assert process_record(world.sqs_record(requeued["MessageBody"]), world.runtime) == "invalid"
    (dead,) = world.drain(world.dlq_url)
    assert "Genesys unavailable for 3600 s: ServerError" in dead["MessageAttributes"]["reason"]["StringValue"]
    assert json.loads(dead["Body"])["detail-type"].endswith("customer.start")  # the original message

    world.emulator.clear_faults()


def test_a_429_at_intake_feeds_the_limiter_and_comes_back_after_retry_after(world: World) -> None:
    world.seed("conv-5c")
    world.emulator.set_fault("list_messages", error_rate=1.0, error_status=429)
    event = world.sqs_record(world.emulator.email_started_event("conv-5c"))

    assert process_record(event, world.runtime) == "retry_later"
    (requeued,) = world.sqs.sent_to(world.intake_queue_url)
    assert 1 <= requeued["DelaySeconds"] <= 2  # Retry-After 1 s, spread by up to as much again
    assert world.runtime.limiter.try_acquire("an-initiate") > 0  # the fleet holds back for Retry-After
    assert any(m.name == "RateLimited429" for m in world.metrics)

    world.emulator.clear_faults()
    world.clock.advance(2)
    assert process_record(world.sqs_record(requeued["MessageBody"]), world.runtime) == "started"


def test_not_urgent_records_not_urgent_and_schedules_one_recheck(world: World) -> None:
    world.seed("conv-6", subject="Question", text_body="When do you open?")
    body = world.direct_message("email-6", "conv-6", subject="Question", body="When do you open?")
    body["queue_wait_minutes"] = 5

    assert process_record(world.sqs_record(body), world.runtime) == "not_urgent"
    assert process_record(world.sqs_record(body, message_id="dup"), world.runtime) == "duplicate"

    record = world.runtime.outcomes.get("email-6")
    assert record is not None
    assert record.outcome == Outcome.NOT_URGENT
    assert record.details["final"] is False
    assert world.executions() == []
    rechecks = world.sqs.sent_to(world.intake_queue_url)
    assert len(rechecks) == 1  # the duplicate did not schedule a second one
    assert rechecks[0]["DelaySeconds"] == 601
    recheck = json.loads(rechecks[0]["MessageBody"])
    assert recheck["kind"] == "email2chat.recheck"
    # waited 5 of the 15 minutes: the trigger fires 10 minutes (+1 s) from now
    assert recheck["due_at"] == pytest.approx(world.clock.now() + 601)


def test_recheck_upgrades_an_unanswered_email_when_the_wait_trigger_fires(world: World) -> None:
    world.seed("conv-7", subject="Question", text_body="When do you open?")
    body = world.direct_message("email-7", "conv-7", subject="Question", body="When do you open?")
    process_record(world.sqs_record(body), world.runtime)
    first = world.sqs.sent_to(world.intake_queue_url)[0]
    assert first["DelaySeconds"] == 900  # SQS's maximum; the trigger is 15 min + 1 s away
    recheck_body = first["MessageBody"]

    world.clock.advance(300)  # early (SQS delays cap at 15 minutes; a scaled clock may run ahead or behind)
    assert process_record(world.sqs_record(recheck_body), world.runtime) == "recheck_requeued"
    again = world.sqs.sent_to(world.intake_queue_url)[1]
    assert again["DelaySeconds"] == 601

    world.clock.advance(700)
    assert process_record(world.sqs_record(recheck_body), world.runtime) == "started"
    case = world.execution_input(execution_name(email_key("email-7"), 1))["case"]
    assert case["urgent_by"] == "wait_trigger"


def _assert_final_not_urgent_and_nothing_started(world: World, email_id: str) -> None:
    record = world.runtime.outcomes.get(email_id)
    assert record is not None
    assert record.outcome == Outcome.NOT_URGENT
    assert record.details["final"] is True
    assert world.executions() == []


def test_recheck_of_an_answered_email_is_final_not_urgent(world: World) -> None:
    world.seed("conv-8", subject="Question", text_body="When do you open?")
    body = world.direct_message("email-8", "conv-8", subject="Question", body="When do you open?")
    process_record(world.sqs_record(body), world.runtime)
    recheck_body = world.sqs.sent_to(world.intake_queue_url)[0]["MessageBody"]
    world.emulator.answer_email("conv-8")
    world.clock.advance(15 * 60 + 5)

    assert process_record(world.sqs_record(recheck_body), world.runtime) == "answered"
    _assert_final_not_urgent_and_nothing_started(world, "email-8")


def test_a_long_waiting_customer_is_urgent_by_the_wait_trigger(world: World) -> None:
    world.seed("conv-9", subject="Question", text_body="When do you open?")
    body = world.direct_message("email-9", "conv-9", subject="Question", body="When do you open?")
    body["queue_wait_minutes"] = 16

    assert process_record(world.sqs_record(body), world.runtime) == "started"
    assert world.execution_input("email-9-1")["case"]["urgent_by"] == "wait_trigger"


def test_an_email_answered_before_a_late_intake_is_not_upgraded_by_the_wait_trigger(world: World) -> None:
    # Intake ran after the 15 minutes (a backlog): the trigger fires at once, but an agent has the email.
    world.seed("conv-11", subject="Question", text_body="When do you open?")
    world.emulator.answer_email("conv-11")
    body = world.direct_message("email-11", "conv-11", subject="Question", body="When do you open?")
    body["queue_wait_minutes"] = 16

    assert process_record(world.sqs_record(body), world.runtime) == "answered"
    _assert_final_not_urgent_and_nothing_started(world, "email-11")
    assert world.sqs.sent_to(world.intake_queue_url) == []  # no re-check either


def test_an_urgent_email_is_upgraded_even_if_an_agent_has_it(world: World) -> None:
    # The score decides alone: the answered check belongs to the wait trigger.
    text = "Urgent: my card was stolen an hour ago, please block it now"
    world.seed("conv-12", subject="Stolen card", text_body=text)
    world.emulator.answer_email("conv-12")
    body = world.direct_message("email-12", "conv-12", subject="Stolen card", body=text)
    body["queue_wait_minutes"] = 16

    assert process_record(world.sqs_record(body), world.runtime) == "started"
    assert world.execution_input("email-12-1")["case"]["urgent_by"] == "score"


def test_deferred_message_starts_the_next_attempt(world: World) -> None:
    from email2chat.workflow.case import UpgradeCase
    from email2chat.workflow.intake_messages import deferred_message

    case = UpgradeCase(email_id="email-10", conversation_id="conv-10", customer_id="c", customer_key="k")
    body = deferred_message(case.next_attempt())

    assert process_record(world.sqs_record(body), world.runtime) == "started"
    process_record(world.sqs_record(body), world.runtime)  # redelivered: StartExecution is idempotent
    assert [e["name"] for e in world.executions()] == ["email-10-2"]


def test_long_or_unsafe_email_ids_make_valid_execution_names() -> None:
    key = email_key("<CAF=abc+123@mail.example.com>" * 5)
    name = execution_name(key, 12)
    assert len(name) <= 80
    assert all(c.isalnum() or c in "-_" for c in name)
    assert email_key("<CAF=abc+123@mail.example.com>") != email_key("<CAF=abc+124@mail.example.com>")
    assert email_key("plain-id_1") == "plain-id_1"


@given(st.text(min_size=1, max_size=400), st.integers(min_value=1, max_value=10_000))
def test_every_email_id_makes_a_valid_distinct_execution_name(email_id: str, attempt: int) -> None:
    name = execution_name(email_key(email_id), attempt)
    assert 1 <= len(name) <= 80
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in name)
    assert email_key(email_id) == email_key(email_id)  # stable across redeliveries
    assert email_key(email_id + "x") != email_key(email_id)


def _two_emails_of_one_customer(world: World, n: str) -> tuple[dict[str, Any], dict[str, Any]]:
    world.seed(f"conv-{n}a")
    world.seed(f"conv-{n}b")
    customer = {"id": f"c-{n}", "email": f"same-{n}@x.example"}
    first = world.direct_message(f"email-{n}a", f"conv-{n}a", customer=customer)
    same_address = {**customer, "email": customer["email"].upper()}
    second = world.direct_message(f"email-{n}b", f"conv-{n}b", customer=same_address)
    return first, second


def _cooldown_recheck_of(world: World) -> dict[str, Any]:
    """The re-check the intake scheduled last, delivered once it is due."""
    body = world.sqs.sent_to(world.intake_queue_url)[-1]["MessageBody"]
    world.clock.advance(world.runtime.settings.defer_delay_s)
    return world.sqs_record(body, message_id="recheck")


def test_a_customer_prompted_recently_is_skipped_at_intake_in_arrival_order(world: World) -> None:
    first, second = _two_emails_of_one_customer(world, "11")

    assert process_record(world.sqs_record(first), world.runtime) == "started"
    state = world.execution_input("email-11a-1")
    world.runtime.cooldown.mark_prompting(state["case"]["customer_key"], state["case"]["email_key"])  # Notify
    assert process_record(world.sqs_record(second), world.runtime) == "cooldown_skipped"

    assert [e["name"] for e in world.executions()] == ["email-11a-1"]
    record = world.runtime.outcomes.get("email-11b")
    assert record is not None
    assert record.outcome == Outcome.COOLDOWN_SKIPPED
    assert record.details["final"] is True
    assert process_record(world.sqs_record(second), world.runtime) == "duplicate"  # settled: not re-decided


def test_an_email_whose_customer_is_claimed_but_not_yet_prompted_is_looked_at_again(world: World) -> None:
    first, second = _two_emails_of_one_customer(world, "14")
    process_record(world.sqs_record(first), world.runtime)

    waiting = process_record(world.sqs_record(second), world.runtime)
    duplicate = process_record(world.sqs_record(second, message_id="again"), world.runtime)
    state = world.execution_input("email-14a-1")
    world.runtime.cooldown.mark_prompting(state["case"]["customer_key"], state["case"]["email_key"])  # Notify
    rechecked = process_record(_cooldown_recheck_of(world), world.runtime)

    assert (waiting, duplicate, rechecked) == ("cooldown_wait", "duplicate", "cooldown_skipped")
    record = world.runtime.outcomes.get("email-14b")
    assert record is not None
    assert record.details["final"] is True
    assert [h["outcome"] for h in record.history] == ["cooldown_skipped"]  # the waiting one, not final
    assert [e["name"] for e in world.executions()] == ["email-14a-1"]


def test_an_email_waiting_on_the_cooldown_is_upgraded_when_the_holder_ends_without_prompting(
    world: World,
) -> None:
    from email2chat.workflow.record_outcome import record_outcome

    first, second = _two_emails_of_one_customer(world, "15")
    process_record(world.sqs_record(first), world.runtime)
    process_record(world.sqs_record(second), world.runtime)
    state = world.execution_input("email-15a-1")
    record_outcome(  # the first upgrade met a chat already in progress: nobody was prompted
        dict(state, final={"outcome": "collision_skipped", "reason": "x", "final": True}), world.runtime
    )

    assert process_record(_cooldown_recheck_of(world), world.runtime) == "started"
    assert sorted(e["name"] for e in world.executions()) == ["email-15a-1", "email-15b-1"]


def test_the_wait_for_a_cooldown_claim_ends_with_the_retry_window(world: World) -> None:
    first, second = _two_emails_of_one_customer(world, "16")
    process_record(world.sqs_record(first), world.runtime)
    process_record(world.sqs_record(second), world.runtime)

    outcomes = []
    for _ in range(200):  # the holder never prompts and never ends (a long deferral)
        outcomes.append(process_record(_cooldown_recheck_of(world), world.runtime))
        if outcomes[-1] != "cooldown_wait":
            break

    window, delay = world.runtime.settings.defer_retry_window_s, world.runtime.settings.defer_delay_s
    assert outcomes == ["cooldown_wait"] * (window // delay - 1) + ["cooldown_skipped"]
    record = world.runtime.outcomes.get("email-16b")
    assert record is not None
    assert record.reason.endswith(f"without prompting them for the whole {window} s retry window")


def test_a_late_duplicate_of_a_skipped_upgrade_does_not_silence_the_customer(world: World) -> None:
    from email2chat.workflow.record_outcome import record_outcome

    world.seed("conv-12")
    body = world.direct_message("email-12", "conv-12")
    process_record(world.sqs_record(body), world.runtime)
    state = world.execution_input("email-12-1")
    # the workflow ended without prompting (a collision): RecordOutcome gives the cooldown claim back
    record_outcome(
        dict(state, final={"outcome": "collision_skipped", "reason": "x", "final": True}), world.runtime
    )
    world.clock.advance(3600)

    assert process_record(world.sqs_record(body, message_id="late"), world.runtime) == "duplicate"
    assert world.runtime.cooldown.claim(state["case"]["customer_key"], "the-next-email")


@pytest.mark.parametrize("settings_overrides", [{"customer_key_salt": "deployment-secret"}])
def test_the_cooldown_key_is_salted_with_the_deployments_salt(world: World) -> None:
    from email2chat.state.cooldown import CustomerCooldown

    world.seed("conv-13")
    message = world.direct_message("email-13", "conv-13", customer={"id": "c-13", "email": "Ada@x.example"})

    assert process_record(world.sqs_record(message), world.runtime) == "started"

    key = world.execution_input("email-13-1")["case"]["customer_key"]
    assert key == CustomerCooldown.customer_key("ada@x.example", salt="deployment-secret")
    assert key != CustomerCooldown.customer_key("ada@x.example")
    assert "deployment-secret" not in repr(world.runtime.settings)


def test_a_workflow_that_could_not_start_does_not_hold_the_customers_cooldown(world: World) -> None:
    from botocore.exceptions import ClientError

    class ThrottledSfn:
        def start_execution(self, **kwargs: object) -> None:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Start")

    world.seed("conv-14")
    message = world.direct_message("email-14", "conv-14", customer={"id": "c-14", "email": "b@x.example"})
    world.runtime.sfn = ThrottledSfn()

    with pytest.raises(ClientError):
        process_record(world.sqs_record(message), world.runtime)

    # SQS redelivers it (or, after the last receive, it goes to the DLQ): meanwhile nobody was prompted
    assert world.runtime.cooldown.claim(world.runtime.cooldown.key_for("b@x.example"), "another-email")


def test_a_duplicate_that_could_not_start_keeps_the_claim_its_original_holds(world: World) -> None:
    from botocore.exceptions import ClientError

    class ThrottledSfn:
        def start_execution(self, **kwargs: object) -> None:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Start")

    world.seed("conv-15")
    message = world.direct_message("email-15", "conv-15", customer={"id": "c-15", "email": "d@x.example"})
    assert process_record(world.sqs_record(message), world.runtime) == "started"
    world.runtime.sfn = ThrottledSfn()

    with pytest.raises(ClientError):
        process_record(world.sqs_record(message, message_id="dup"), world.runtime)

    assert not world.runtime.cooldown.claim(world.runtime.cooldown.key_for("d@x.example"), "another-email")
