"""Intake: SQS batch -> parse, fetch, classify, decide; start one workflow per urgent email.

Guarantees:
- A batch reports partial failures (``batchItemFailures``): only transient failures are retried.
- A message we cannot accept goes to the DLQ with its reason (message attribute ``reason``) and the
  email gets the ``invalid`` outcome; a message that keeps failing does the same after
  ``intake_max_receive_count`` receives (the queue's redrive policy is the backstop).
- Duplicates never start a second workflow: the execution name is ``<email-key>-<attempt>``, and
  ``ExecutionAlreadyExists`` (or the same name and input) means the email is already in hand. The
  not-urgent path, which starts nothing, uses the intake ledger instead.
- Not urgent: ``not_urgent`` is recorded (not final) and a delayed re-check is queued for the moment the
  queue-wait trigger would fire; then, if the email is still unanswered, the upgrade starts. An email that
  reaches intake after the trigger's moment gets the same check at once: an agent may have taken it.
- Urgent, but the customer was prompted within the cooldown window (24 h): ``cooldown_skipped``, nothing
  starts. The claim is taken here, in arrival order (CollisionCheck re-enters it as a second line).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from email2chat import observability
from email2chat.errors import (
    GENESYS_UNAVAILABLE,
    BadRequest,
    InvalidEmailEvent,
    NotFound,
    RateLimited,
    describe_error,
)
from email2chat.state.cooldown import skip_reason
from email2chat.state.outcomes import Outcome, OutcomeRecord
from email2chat.workflow.case import UpgradeCase, email_key
from email2chat.workflow.classify import classify
from email2chat.workflow.customer_email import inbound_messages
from email2chat.workflow.dead_letters import dead_letter
from email2chat.workflow.intake_messages import (
    RECHECK_COOLDOWN,
    RECHECK_WAIT_TRIGGER,
    DirectEmail,
    GenesysEmailEvent,
    LateEmail,
    MessageIds,
    RecheckRequest,
    RetryWrapper,
    ids_hint,
    parse_intake_message,
    parse_iso_time,
    recheck_message,
    retry_message,
    unwrap_retry,
)
from email2chat.workflow.late_email import late_email_queued, record_late_email_given_up, send_late_email

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

logger = observability.logger

# What the intake did with one message (returned for tests and logs).
STARTED = "started"
DUPLICATE = "duplicate"
NOT_URGENT = "not_urgent"
RECHECK_REQUEUED = "recheck_requeued"
ANSWERED = "answered"
INVALID = "invalid"
COOLDOWN_SKIPPED = "cooldown_skipped"
COOLDOWN_WAIT = "cooldown_wait"
RETRY_LATER = "retry_later"


@dataclass(frozen=True)
class InboundEmail:
    """An email ready to classify, whatever form it arrived in. Content stays in memory only."""

    email_id: str
    conversation_id: str
    subject: str
    text: str
    html: str
    customer_id: str
    customer_key: str
    queue_wait_minutes: float
    attributes: Mapping[str, str] = field(default_factory=dict)
    source: str = "direct"


def handle_batch(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    """The SQS event source handler body: returns ``{"batchItemFailures": [...]}``."""
    failures: list[dict[str, str]] = []
    for record in event.get("Records") or ():
        message_id = str(record.get("messageId", ""))
        observability.clear_correlation()  # each record is another email
        try:
            process_record(record, runtime)
        except Exception as exc:
            if _receive_count(record) >= runtime.settings.intake_max_receive_count:
                try:
                    reject(
                        record, runtime, f"gave up after {_receive_count(record)} receives: {_describe(exc)}"
                    )
                    continue
                except Exception:
                    logger.exception(
                        "could not move a poison message to the DLQ", extra={"sqs_id": message_id}
                    )
            logger.warning(
                "intake message failed; SQS will redeliver it",
                extra={"sqs_id": message_id, "error": _describe(exc)},
            )
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def process_record(record: Mapping[str, Any], runtime: Runtime) -> str:
    """Handle one SQS record. Raises on transient failures (the batch reports them)."""
    body = record.get("body")
    wrapper = unwrap_retry(body if isinstance(body, str) else "")
    try:
        message = parse_intake_message(wrapper.body)
    except InvalidEmailEvent as exc:
        return reject(record, runtime, str(exc))
    try:
        if isinstance(message, DirectEmail):
            if _already_taken(message.email_id, runtime):
                return DUPLICATE
            return intake_email(_from_direct(message, runtime), runtime)
        if isinstance(message, GenesysEmailEvent):
            # Its email id is its conversation id: a redelivery is known before Genesys is read (which
            # may be down: the copy would wait out the retry window and end in the DLQ for nothing).
            if _already_taken(message.conversation_id, runtime):
                return DUPLICATE
            return intake_email(_from_genesys_event(message, runtime), runtime)
        if isinstance(message, RecheckRequest):
            return recheck(message, runtime)
        if isinstance(message, LateEmail):
            return send_late_email(message, runtime)
        return start_upgrade(message.case, runtime)
    except InvalidEmailEvent as exc:
        return reject(record, runtime, str(exc))
    except (NotFound, BadRequest) as exc:
        return reject(record, runtime, describe_error(exc))
    except GENESYS_UNAVAILABLE as exc:
        return retry_later(record, wrapper, exc, runtime)


def retry_later(record: Mapping[str, Any], wrapper: RetryWrapper, error: Exception, runtime: Runtime) -> str:
    """Genesys is rate limiting or unavailable: put the message back with a delay, not into the DLQ.

    A 429 is backpressure, not a poison message: it feeds the fleet limiter and the message returns after
    ``Retry-After`` (spread, so a storm does not come back all at once). A 5xx or timeout returns after the
    deferral delay. Only a message still failing after the retry window goes to the DLQ.
    """
    settings = runtime.settings
    now = runtime.clock.now()
    first_seen = wrapper.first_seen_at if wrapper.first_seen_at is not None else now
    if now - first_seen >= settings.defer_retry_window_s:
        return reject(
            record, runtime, f"Genesys unavailable for {now - first_seen:.0f} s: {_describe(error)}"
        )
    if isinstance(error, RateLimited):
        runtime.limiter.record_rate_limited(error.retry_after)
        observability.emit(observability.RATE_LIMITED_429, 1, "Count")
        delay = error.retry_after * (1.0 + random.random())
    else:
        delay = float(settings.defer_delay_s)
    retried = RetryWrapper(body=wrapper.body, retries=wrapper.retries + 1, first_seen_at=first_seen)
    runtime.sqs.send_message(
        QueueUrl=settings.required("intake_queue_url"),
        MessageBody=retry_message(retried),
        DelaySeconds=runtime.sqs_delay_seconds(delay),
    )
    logger.info(
        "Genesys unavailable: intake message re-queued",
        extra={"error": type(error).__name__, "retries": retried.retries, "delay_s": round(delay, 1)},
    )
    return RETRY_LATER


def _already_taken(email_id: str, runtime: Runtime) -> bool:
    """A re-check is already scheduled, or the email is settled: a duplicate (Genesys redelivers for days)."""
    if runtime.ledger.get(email_key(email_id)) is None and not _has_final_outcome(email_id, runtime):
        return False
    observability.emit(observability.DUPLICATE_DELIVERY, 1, "Count")
    logger.info("duplicate intake message ignored")
    return True


def intake_email(email: InboundEmail, runtime: Runtime) -> str:
    """Classify a new email (``process_record`` has ruled out a duplicate) and start or schedule it."""
    now = runtime.clock.now()
    observability.correlate(email_id=email.email_id, conversation_id=email.conversation_id, execution=None)
    verdict = classify(
        runtime,
        subject=email.subject,
        text=email.text,
        html=email.html,
        queue_wait_minutes=email.queue_wait_minutes,
    )
    case = UpgradeCase(
        email_id=email.email_id,
        conversation_id=email.conversation_id,
        customer_id=email.customer_id,
        customer_key=email.customer_key,
        received_at=now,
        decided_at=now,
        score=verdict.score,
        urgent_by=verdict.urgent_by or "none",
        attributes=dict(email.attributes),
        source=email.source,
    )
    logger.info("email classified", extra={"urgent": verdict.urgent, "score": round(verdict.score, 4)})
    if verdict.urgent_by == "wait_trigger" and _answered(case, runtime):
        # The email sat so long before intake that the trigger fired here, and an agent took it meanwhile.
        return ANSWERED
    if verdict.urgent:
        return start_upgrade(case, runtime)
    return _schedule_recheck(case, email.queue_wait_minutes, verdict.reason, runtime)


def _schedule_recheck(case: UpgradeCase, queue_wait_minutes: float, reason: str, runtime: Runtime) -> str:
    settings = runtime.settings
    now = runtime.clock.now()
    due_at = now + max(0.0, settings.wait_trigger_minutes - queue_wait_minutes) * 60.0 + 1.0
    runtime.outcomes.record(
        OutcomeRecord(
            email_id=case.email_id,
            outcome=Outcome.NOT_URGENT,
            reason=f"{reason}; re-check when the {settings.wait_trigger_minutes:g}-minute wait trigger fires",
            conversation_id=case.conversation_id,
            timings={"received": case.received_at, "decided": now},
            details={"final": False, "score": case.score, "recheck_due_at": due_at},
        )
    )
    _send_recheck(case, due_at, runtime)
    runtime.ledger.claim(case.key, "recheck")
    return NOT_URGENT


def _send_recheck(
    case: UpgradeCase, due_at: float, runtime: Runtime, purpose: str = RECHECK_WAIT_TRIGGER
) -> None:
    delay = runtime.sqs_delay_seconds(due_at - runtime.clock.now())
    runtime.sqs.send_message(
        QueueUrl=runtime.settings.required("intake_queue_url"),
        MessageBody=recheck_message(case, due_at, purpose),
        DelaySeconds=delay,
    )


def recheck(request: RecheckRequest, runtime: Runtime) -> str:
    """The wait trigger's moment: upgrade if the email is still unanswered, else ``not_urgent`` is final.
    A cooldown re-check: try the customer's claim again (``start_upgrade``)."""
    case = request.case
    now = runtime.clock.now()
    observability.correlate(email_id=case.email_id, conversation_id=case.conversation_id, execution=None)
    if now < request.due_at:
        # SQS delays are capped at 15 minutes (and the clock may be scaled): wait again for the rest.
        _send_recheck(case, request.due_at, runtime, request.purpose)
        return RECHECK_REQUEUED
    if request.purpose == RECHECK_COOLDOWN:
        return start_upgrade(case, runtime)
    if _answered(case, runtime):
        return ANSWERED
    upgraded = UpgradeCase.from_dict({**case.to_dict(), "urgent_by": "wait_trigger", "decided_at": now})
    return start_upgrade(upgraded, runtime)


def _answered(case: UpgradeCase, runtime: Runtime) -> bool:
    """The wait trigger fired: if an agent has taken the email (or it is closed), ``not_urgent`` is final."""
    conversation = runtime.genesys.get_conversation(case.conversation_id)
    if conversation.end_time is None and not conversation.email_answered():
        return False
    finished = runtime.clock.now()
    runtime.outcomes.record(
        OutcomeRecord(
            email_id=case.email_id,
            outcome=Outcome.NOT_URGENT,
            reason="answered by email before the wait trigger fired",
            conversation_id=case.conversation_id,
            timings={"received": case.received_at, "decided": case.decided_at, "finished": finished},
            details={"final": True, "score": case.score},
        )
    )
    observability.emit(observability.OUTCOME, 1, "Count", outcome=Outcome.NOT_URGENT.value)
    return True


def start_upgrade(case: UpgradeCase, runtime: Runtime) -> str:
    """Claim the customer's cooldown, then StartExecution named after the email (and attempt).

    The claim is taken here, in arrival order, so the first of two emails from one customer is the one that
    prompts; the owner is the email (not the execution), so a deferred retry or a duplicate re-enters it.
    A second delivery cannot start a second workflow: the name is taken.
    """
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    claimed_before = runtime.cooldown.holder(case.customer_key) == case.key  # a duplicate or a retry
    if not runtime.cooldown.claim(case.customer_key, case.key):
        return _cooldown_skipped(case, runtime)
    try:
        runtime.sfn.start_execution(
            stateMachineArn=runtime.settings.required("state_machine_arn"),
            name=case.execution,
            input=json.dumps({"case": case.to_dict()}, sort_keys=True),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            _settle_duplicate(case, runtime)
            return DUPLICATE
        # A claim this message took must not outlive it: the redelivery claims again, and a message that
        # ends in the DLQ must not silence the customer's next email for the whole window. A claim held
        # before (an earlier delivery's workflow may have prompted the customer) stays.
        if not claimed_before:
            runtime.cooldown.release(case.customer_key, case.key)
        raise
    logger.info("upgrade workflow started", extra={"attempt": case.attempt, "urgent_by": case.urgent_by})
    return STARTED


def _cooldown_skipped(case: UpgradeCase, runtime: Runtime) -> str:
    """Another email holds the customer's claim. If its upgrade has not prompted them yet, it may still end
    without prompting (deferred for good, a collision) and give the claim back: this email is looked at
    again every ``defer_delay_s`` within ``defer_retry_window_s`` of its decision. Else the skip is final."""
    now = runtime.clock.now()
    settings = runtime.settings
    claim = runtime.cooldown.current_claim(case.customer_key)
    holder_prompted = claim is not None and claim.prompting_at is not None
    within_window = now - case.decided_at + settings.defer_delay_s <= settings.defer_retry_window_s
    if within_window and not holder_prompted:
        due_at = now + settings.defer_delay_s
        runtime.outcomes.record(
            OutcomeRecord(
                email_id=case.email_id,
                outcome=Outcome.COOLDOWN_SKIPPED,
                reason="another email's upgrade holds the customer's cooldown claim and has not prompted "
                f"them yet; this email is looked at again in {settings.defer_delay_s:g} s",
                conversation_id=case.conversation_id,
                timings={"received": case.received_at, "decided": case.decided_at},
                details={
                    "final": False,
                    "score": case.score,
                    "urgent_by": case.urgent_by,
                    "recheck_due_at": due_at,
                },
            )
        )
        _send_recheck(case, due_at, runtime, RECHECK_COOLDOWN)
        runtime.ledger.claim(case.key, "recheck")  # a duplicate delivery meanwhile is ignored
        logger.info("customer's cooldown claim held by an upgrade that has not prompted: re-check scheduled")
        return COOLDOWN_WAIT
    runtime.outcomes.record(
        OutcomeRecord(
            email_id=case.email_id,
            outcome=Outcome.COOLDOWN_SKIPPED,
            reason=skip_reason(runtime.settings.cooldown_hours)
            if holder_prompted or claim is None
            else "another email's upgrade held the customer's cooldown claim without prompting them for "
            f"the whole {settings.defer_retry_window_s:g} s retry window",
            conversation_id=case.conversation_id,
            timings={"received": case.received_at, "decided": case.decided_at, "finished": now},
            details={"final": True, "score": case.score, "urgent_by": case.urgent_by},
        )
    )
    observability.emit(observability.OUTCOME, 1, "Count", outcome=Outcome.COOLDOWN_SKIPPED.value)
    logger.info("customer on cooldown: not prompted again")
    return COOLDOWN_SKIPPED


def _settle_duplicate(case: UpgradeCase, runtime: Runtime) -> None:
    """A duplicate re-entered the cooldown claim; if the workflow already ended without prompting the
    customer (its RecordOutcome gave the claim back), give it back again rather than silence them."""
    observability.emit(observability.DUPLICATE_DELIVERY, 1, "Count")
    logger.info("duplicate intake message: the upgrade workflow already exists")
    record = runtime.outcomes.get(case.email_id)
    if record is None or not record.details.get("final", True):
        return
    prompted = record.details.get("customer_prompted", "notification_id" in record.details)
    if not prompted:
        runtime.cooldown.release(case.customer_key, case.key)


def _has_final_outcome(email_id: str, runtime: Runtime) -> bool:
    record = runtime.outcomes.get(email_id)
    return record is not None and bool(record.details.get("final", True))


def _parses(body: str) -> bool:
    """The message reads as an email, a re-check or a deferred attempt (whatever failed after that)."""
    try:
        parse_intake_message(body)
    except InvalidEmailEvent:
        return False
    return True


def _ends_the_email(ids: MessageIds, runtime: Runtime, *, readable: bool) -> bool:
    """Whether a rejected message's ``invalid`` is its email's own outcome (else: ``sqs-<message id>``).

    - A re-check or deferred attempt is the email's own next step: it ends the email unless already settled.
    - A message that could not be read as an email may be a broken copy of a good one: recorded under the
      email's id it would settle it, and the good delivery would be ignored as a duplicate.
    - An email read in full that fails for good (Genesys has no such conversation) ends, unless another
      delivery already has an outcome ("connected" must not become "invalid").
    """
    if not ids.email_id:
        return False
    existing = runtime.outcomes.get(ids.email_id)
    if ids.continuation:
        return existing is None or not existing.details.get("final", True)
    return readable and existing is None


def reject(record: Mapping[str, Any], runtime: Runtime, reason: str) -> str:
    """Send the message to the DLQ with its reason and record the ``invalid`` outcome."""
    body = record.get("body")
    body_text = unwrap_retry(body).body if isinstance(body, str) and body else "<empty>"
    message_id = str(record.get("messageId", "unknown"))
    ids = ids_hint(body_text)
    if ids.late_email and ids.email_id and late_email_queued(ids.email_id, runtime):
        # A late customer email that keeps failing: the DLQ keeps it (first: if that fails, SQS redelivers
        # the message), then the email's own record says it was given up.
        dead_letter(runtime, body_text, reason, email_id=ids.email_id, source_message_id=message_id)
        record_late_email_given_up(ids.email_id, reason, runtime)
        logger.warning("late customer email rejected to the DLQ", extra={"sqs_id": message_id})
        return INVALID
    own = _ends_the_email(ids, runtime, readable=_parses(body_text))
    email_id = ids.email_id if own and ids.email_id else f"sqs-{message_id}"
    reason = dead_letter(runtime, body_text, reason, email_id=email_id, source_message_id=message_id)
    now = runtime.clock.now()
    runtime.outcomes.record(
        OutcomeRecord(
            email_id=email_id,
            outcome=Outcome.INVALID,
            reason=reason,
            conversation_id=ids.conversation_id,
            timings={"received": now, "finished": now},
            details={
                "final": True,
                "sqs_message_id": message_id,
                **({"email_id_hint": ids.email_id} if ids.email_id and not own else {}),
            },
        )
    )
    observability.emit(observability.OUTCOME, 1, "Count", outcome=Outcome.INVALID.value)
    logger.warning("intake message rejected to the DLQ", extra={"sqs_id": message_id, "reason": reason})
    return INVALID


# --- the two inbound forms, normalised --------------------------------------------------------------


def _from_direct(message: DirectEmail, runtime: Runtime) -> InboundEmail:
    customer_ref = message.customer_email or message.customer_id or ""
    return InboundEmail(
        email_id=message.email_id,
        conversation_id=message.conversation_id,
        subject=message.subject,
        text=message.text,
        html=message.html,
        customer_id=message.customer_id or runtime.cooldown.key_for(customer_ref),
        customer_key=runtime.cooldown.key_for(customer_ref),
        queue_wait_minutes=message.queue_wait_minutes,
        attributes=dict(message.attributes),
        source="direct",
    )


def _from_genesys_event(event: GenesysEmailEvent, runtime: Runtime) -> InboundEmail:
    """The event carries no body: read the conversation and its newest inbound message from the API."""
    genesys = runtime.genesys
    conversation = genesys.get_conversation(event.conversation_id)
    inbound = inbound_messages(genesys, event.conversation_id, runtime.settings.fallback_from_address)
    chosen = next((m for m in inbound if m.id == event.message_id), None) or (
        inbound[-1] if inbound else None
    )
    if chosen is None:
        raise InvalidEmailEvent(f"conversation {event.conversation_id} has no inbound email message")
    if not (chosen.text_body or chosen.html_body):
        chosen = genesys.get_email_message(event.conversation_id, chosen.id)
    customer = conversation.customer()
    if customer is None:
        raise InvalidEmailEvent(f"conversation {event.conversation_id} has no customer participant")
    started = parse_iso_time(conversation.start_time)
    now = runtime.clock.now()
    queue_wait_minutes = max(0.0, (now - started) / 60.0) if started is not None else 0.0
    customer_ref = chosen.from_address or customer.address or customer.id
    return InboundEmail(
        # One customer.start per email conversation: its id is the email's id, stable across redeliveries.
        email_id=event.conversation_id,
        conversation_id=event.conversation_id,
        subject=chosen.subject,
        text=chosen.text_body,
        html=chosen.html_body,
        customer_id=customer.id,
        customer_key=runtime.cooldown.key_for(customer_ref),
        queue_wait_minutes=queue_wait_minutes,
        attributes=dict(customer.attributes),
        source="genesys_event",
    )


def _receive_count(record: Mapping[str, Any]) -> int:
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        return 1


def _describe(exc: BaseException) -> str:
    return describe_error(exc)[:300]
