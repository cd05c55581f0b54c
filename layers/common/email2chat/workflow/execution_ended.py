"""An upgrade execution that stopped outside the workflow: stopped from the Step Functions console (or
``StopExecution``), timed out, or failed where the ASL could not catch it (RecordOutcome itself failing).

Step Functions sends "Step Functions Execution Status Change" to EventBridge; for FAILED, TIMED_OUT and
ABORTED this step does what RecordOutcome would have done, from the execution's input:

- closes the chat leg this email opened, unless the customer is in it (then the outcome is ``connected``);
- gives the cooldown claim back unless Notify marked it (the push went out, or may have);
- writes the email's outcome, ``deferred`` (final) with the status and its cause, unless an outcome of this
  or a later attempt is already there (RecordOutcome ran, or a Defer that ran before it failed queued the
  next attempt);
- releases the lock last, so no other upgrade can open a leg on the conversation while this runs.

Every part is idempotent: EventBridge may deliver the event twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.errors import GENESYS_UNAVAILABLE, GenesysError, InvalidEmailEvent, NotFound
from email2chat.state.outcomes import Outcome, OutcomeRecord
from email2chat.workflow.case import UpgradeCase, case_of
from email2chat.workflow.collision import close_own_leg, opened_a_leg, own_active_leg

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

STOPPED_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
MAX_CAUSE_CHARS = 300
_NO_LEG = (Outcome.DEFERRED, "no chat leg opened")
_ENDED = (Outcome.DEFERRED, "its chat leg had already ended")


def settle_stopped_execution(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidEmailEvent("execution status event without a 'detail' object")
    status = detail.get("status")
    name = detail.get("name")
    if status not in STOPPED_STATUSES:
        return {"ignored": f"execution status {status!r} is not one of {', '.join(sorted(STOPPED_STATUSES))}"}
    if not isinstance(name, str) or not name:
        raise InvalidEmailEvent("execution status event without the execution 'name'")
    case = case_of(_execution_input(detail))
    observability.correlate(email_id=case.email_id, conversation_id=case.conversation_id, execution=name)
    record = runtime.outcomes.get(case.email_id)
    if _settled_elsewhere(case, name, record, runtime):
        # This execution recorded its outcome, the email has a final one, or a later attempt (its Defer ran
        # before RecordOutcome failed) is under way: its leg and record are not ours to touch.
        lock_released = runtime.lock.release(case.conversation_id, name)
        observability.logger.info("stopped execution: its email is settled elsewhere")
        outcome = record.outcome.value if record is not None else None
        return {"lock_released": lock_released, "outcome": outcome, "recorded": False}

    # The lock is released last: until then no other email's upgrade can open a leg this step might take
    # for its own (a transient Genesys failure raises here, and Lambda retries the whole step).
    outcome, leg = _settle_chat_leg(case, runtime) if opened_a_leg(case, runtime) else _NO_LEG
    claim = runtime.cooldown.current_claim(case.customer_key)
    prompted = claim is not None and claim.owner == case.key and claim.prompting_at is not None
    if not prompted:
        runtime.cooldown.release(case.customer_key, case.key)
    now = runtime.clock.now()
    reason = f"execution {str(status).lower()} outside the workflow{_cause(detail)}; {leg}"
    runtime.outcomes.record(
        OutcomeRecord(
            email_id=case.email_id,
            outcome=outcome,
            reason=reason,
            conversation_id=case.conversation_id,
            execution=name,
            timings={
                k: v
                for k, v in (("received", case.received_at), ("decided", case.decided_at), ("finished", now))
                if v
            },
            details={
                "final": True,
                "attempt": case.attempt,
                "score": case.score,
                "urgent_by": case.urgent_by,
                "execution_status": status,
                "customer_prompted": prompted,
            },
        )
    )
    lock_released = runtime.lock.release(case.conversation_id, name)
    observability.emit(observability.OUTCOME, 1, "Count", outcome=outcome.value)
    observability.logger.warning("stopped execution settled", extra={"status": status, "reason": reason})
    return {"lock_released": lock_released, "outcome": outcome.value, "recorded": True}


def _settled_elsewhere(case: UpgradeCase, name: str, record: OutcomeRecord | None, runtime: Runtime) -> bool:
    if record is not None and (
        record.execution == name
        or bool(record.details.get("final", True))
        or int(record.details.get("attempt") or 0) > case.attempt
    ):
        return True
    holder = runtime.lock.holder(case.conversation_id)
    key, _, attempt = (holder or "").rpartition("-")
    return key == case.key and attempt.isdigit() and int(attempt) > case.attempt


def _execution_input(detail: Mapping[str, Any]) -> Mapping[str, Any]:
    """The input the event carries (an upgrade's input is a few ids, far below the size at which Step
    Functions would leave it out)."""
    raw = detail.get("input")
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        data = None
    if not isinstance(data, Mapping):
        raise InvalidEmailEvent("execution status event without a JSON object 'input'")
    return data


def _settle_chat_leg(case: UpgradeCase, runtime: Runtime) -> tuple[Outcome, str]:
    """Close this email's active leg, unless the customer is in it. A transient Genesys failure is raised
    (Lambda retries the invocation); a refusal for good is said in the reason."""
    try:
        conversation = runtime.genesys.get_conversation(case.conversation_id)
        own = own_active_leg(case, conversation, runtime)
        if own is not None and own[1].state == "connected":
            return Outcome.CONNECTED, "the customer is in the chat: the leg is left open"
        session = runtime.sessions.session(case.conversation_id)
        if (
            own is None
            and session is not None
            and session.email_key == case.key
            and conversation.customer_joined(session.participant_id)
        ):
            return Outcome.CONNECTED, "the customer joined the chat; it has ended"
        closed = close_own_leg(case, conversation, runtime)
    except GENESYS_UNAVAILABLE:
        raise
    except NotFound:
        return _ENDED
    except GenesysError as refused:
        return Outcome.DEFERRED, f"its chat leg could not be checked or closed ({type(refused).__name__})"
    return (Outcome.DEFERRED, "the chat leg it opened was closed") if closed else _ENDED


def _cause(detail: Mapping[str, Any]) -> str:
    error, cause = detail.get("error"), detail.get("cause")
    parts = [str(p) for p in (error, cause) if p]
    return f" ({': '.join(parts)[:MAX_CAUSE_CHARS]})" if parts else ""
