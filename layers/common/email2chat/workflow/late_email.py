"""Late customer emails: Genesys stayed unavailable through the ~20 minutes of retries after the push.

The fallback or follow-up email is not given up with the workflow: QueueLateEmail puts the failed step
(Fallback or Cleanup) and the workflow state on the intake queue with a delay, and the intake runs that step
again when the message comes back, until Genesys answers or the retry window (``defer_retry_window_s`` from
the queueing) is spent. The step is the same code as in the workflow, so a customer who joined meanwhile is
``connected`` and one who declined gets the fallback; its emails are sent once (``customer_email``), so a
message delivered twice sends nothing twice. The email's outcome record says the email is queued, and is
amended when it is sent or given up (given up: the message also goes to the DLQ with its reason).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.errors import GENESYS_UNAVAILABLE, GenesysError, InvalidEmailEvent, describe_error
from email2chat.state.outcomes import Outcome, OutcomeRecord
from email2chat.workflow.case import case_of
from email2chat.workflow.cleanup import cleanup
from email2chat.workflow.dead_letters import MAX_REASON_CHARS, dead_letter
from email2chat.workflow.fallback import fallback
from email2chat.workflow.intake_messages import LATE_EMAIL_STEPS, LateEmail, late_email_message

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

LATE_EMAIL_QUEUED = "queued"
LATE_EMAIL_SENT = "sent"
LATE_EMAIL_GIVEN_UP = "given_up"
LATE_EMAIL_RETRY = "late_email_retry"
_STEPS: dict[str, Callable[[Mapping[str, Any], Runtime], dict[str, Any]]] = {
    "fallback": fallback,
    "cleanup": cleanup,
}
_WHAT = {"fallback": "fallback email", "cleanup": "follow-up"}
_WORKFLOW_ONLY = ("late", "final", "error", "recorded")  # what the step does not read, or redoes


def queue_late_email(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    """The QueueLateEmail state: ``$.late.step`` failed with Genesys unavailable (``$.error``)."""
    case = case_of(event)
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    late = event.get("late")
    step = late.get("step") if isinstance(late, Mapping) else None
    if step not in LATE_EMAIL_STEPS:
        raise InvalidEmailEvent(f"$.late.step {step!r} is not one of {', '.join(LATE_EMAIL_STEPS)}")
    state = {k: v for k, v in event.items() if k not in _WORKFLOW_ONLY}
    _queue(LateEmail(step=str(step), state=state, case=case, queued_at=runtime.clock.now()), runtime)
    error = event.get("error")
    error_name = error.get("Error", "error") if isinstance(error, Mapping) else "error"
    observability.logger.warning("Genesys unavailable: customer email queued for later", extra={"step": step})
    return {
        "outcome": _queued_outcome(str(step)).value,
        "reason": f"Genesys unavailable after the push ({error_name}): the {_WHAT[str(step)]} is queued "
        "to be sent when it answers",
        "final": True,
        "late_email": LATE_EMAIL_QUEUED,
    }


def send_late_email(message: LateEmail, runtime: Runtime) -> str:
    """At intake: run the step again; amend the outcome record with what it did."""
    case = message.case
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    record = runtime.outcomes.get(case.email_id)
    if record is not None and record.details.get("late_email") in (LATE_EMAIL_SENT, LATE_EMAIL_GIVEN_UP):
        observability.logger.info("late customer email already settled; duplicate delivery ignored")
        return str(record.details["late_email"])
    settings = runtime.settings
    try:
        result = _STEPS[message.step](message.state, runtime)
    except GENESYS_UNAVAILABLE as unavailable:
        waited = runtime.clock.now() - message.queued_at
        if waited + settings.defer_delay_s <= settings.defer_retry_window_s:
            _queue(replace(message, attempt=message.attempt + 1), runtime)
            observability.logger.info("Genesys still unavailable: late customer email re-queued")
            return LATE_EMAIL_RETRY
        reason = f"Genesys still unavailable {waited:.0f} s after queueing ({type(unavailable).__name__})"
        return _give_up(message, record, reason, runtime)
    except (GenesysError, InvalidEmailEvent) as refused:  # for good: trying again cannot help
        return _give_up(message, record, describe_error(refused), runtime)
    _amend(
        record or _queued_record(message),
        Outcome(str(result["outcome"])),
        f"{result['reason']} (late: Genesys was unavailable for the workflow's retries)",
        {k: v for k, v in result.items() if k.endswith("_message_id")},
        runtime,
        LATE_EMAIL_SENT,
        message.attempt,
    )
    observability.logger.info("late customer email step done", extra={"outcome": result["outcome"]})
    return LATE_EMAIL_SENT


def _queue(message: LateEmail, runtime: Runtime) -> None:
    runtime.sqs.send_message(
        QueueUrl=runtime.settings.required("intake_queue_url"),
        MessageBody=late_email_message(message),
        DelaySeconds=runtime.sqs_delay_seconds(runtime.settings.defer_delay_s),
    )


def _give_up(message: LateEmail, record: OutcomeRecord | None, reason: str, runtime: Runtime) -> str:
    """The message goes to the DLQ with its reason (an operator can send it again) and the record says so."""
    case = message.case
    reason = dead_letter(
        runtime,
        late_email_message(message),
        reason,
        email_id=case.email_id,
        source_message_id=f"late-email-{message.attempt}",
    )
    _record_given_up(record or _queued_record(message), reason, runtime, attempts=message.attempt)
    observability.logger.warning("late customer email given up", extra={"reason": reason})
    return LATE_EMAIL_GIVEN_UP


def late_email_queued(email_id: str, runtime: Runtime) -> bool:
    record = runtime.outcomes.get(email_id)
    return record is not None and record.details.get("late_email") == LATE_EMAIL_QUEUED


def record_late_email_given_up(email_id: str, reason: str, runtime: Runtime) -> None:
    """For the intake's poison path: a late-email message that failed for another reason (DynamoDB, a bug)
    is in the DLQ; the email's record, still "queued", says it was given up."""
    record = runtime.outcomes.get(email_id)
    if record is not None and record.details.get("late_email") == LATE_EMAIL_QUEUED:
        _record_given_up(record, reason[:MAX_REASON_CHARS], runtime, attempts=None)


def _record_given_up(record: OutcomeRecord, reason: str, runtime: Runtime, *, attempts: int | None) -> None:
    _amend(
        record,
        record.outcome,
        f"{record.reason}; given up: {reason}",
        {},
        runtime,
        LATE_EMAIL_GIVEN_UP,
        attempts,
    )


def _amend(
    record: OutcomeRecord,
    outcome: Outcome,
    reason: str,
    details: Mapping[str, Any],
    runtime: Runtime,
    late_email: str,
    attempts: int | None,
) -> None:
    """Rewrite the email's record with what the late step did (the earlier outcome stays in its history)."""
    runtime.outcomes.record(
        OutcomeRecord(
            email_id=record.email_id,
            outcome=outcome,
            reason=reason,
            conversation_id=record.conversation_id,
            execution=record.execution,
            timings={**record.timings, "late_email": runtime.clock.now()},
            details={
                **record.details,
                **details,
                "late_email": late_email,
                **({"late_email_attempts": attempts} if attempts is not None else {}),
            },
        )
    )


def _queued_record(message: LateEmail) -> OutcomeRecord:
    """What QueueLateEmail's RecordOutcome wrote, for a record that has gone missing since."""
    case = message.case
    return OutcomeRecord(
        email_id=case.email_id,
        outcome=_queued_outcome(message.step),
        reason=f"the {_WHAT[message.step]} was queued",
        conversation_id=case.conversation_id,
        execution=case.execution,
        details={"final": True},
    )


def _queued_outcome(step: str) -> Outcome:
    return Outcome.DECLINED_FALLBACK if step == "fallback" else Outcome.TIMEOUT_CLEANUP
