"""An upgrade execution that stopped outside the workflow: stopped from the Step Functions console (or
``StopExecution``), timed out, or failed where the ASL could not catch it (RecordOutcome itself failing).

Step Functions sends "Step Functions Execution Status Change" to EventBridge; for FAILED, TIMED_OUT and
ABORTED this step does what RecordOutcome would have done, from the execution's input:

- releases the execution's session lock, so the conversation's next email need not wait out the lease;
- closes the chat leg this email opened, unless the customer is in it (then the outcome is ``connected``);
- gives the cooldown claim back unless Notify marked it (the push went out, or may have);
- writes the email's outcome, ``deferred`` (final) with the status and its cause, unless an outcome of this
  or a later execution is already there (RecordOutcome ran, or the email went on without it).

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
from email2chat.workflow.collision import own_active_leg

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

STOPPED_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
MAX_CAUSE_CHARS = 300


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
    lock_released = runtime.lock.release(case.conversation_id, name)
    record = runtime.outcomes.get(case.email_id)
    if record is not None and (record.execution == name or bool(record.details.get("final", True))):
        observability.logger.info("stopped execution: its email's outcome is already recorded")
        return {"lock_released": lock_released, "outcome": record.outcome.value, "recorded": False}

    if _opened_a_leg(case, runtime):
        outcome, leg = _settle_chat_leg(case, runtime)
    else:
        outcome, leg = Outcome.DEFERRED, "no chat leg opened"
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
    observability.emit(observability.OUTCOME, 1, "Count", outcome=outcome.value)
    observability.logger.warning("stopped execution settled", extra={"status": status, "reason": reason})
    return {"lock_released": lock_released, "outcome": outcome.value, "recorded": True}


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


def _opened_a_leg(case: UpgradeCase, runtime: Runtime) -> bool:
    record = runtime.sessions.session(case.conversation_id)
    return (record is not None and record.email_key == case.key) or runtime.sessions.was_initiating(case.key)


def _settle_chat_leg(case: UpgradeCase, runtime: Runtime) -> tuple[Outcome, str]:
    """Close this email's active leg, unless the customer is in it. A transient Genesys failure is raised
    (EventBridge retries the invocation); a refusal for good is said in the reason."""
    try:
        conversation = runtime.genesys.get_conversation(case.conversation_id)
        own = own_active_leg(case, conversation, runtime)
        if own is None:
            return Outcome.DEFERRED, "its chat leg had already ended"
        participant, leg = own
        if leg.state == "connected":
            return Outcome.CONNECTED, "the customer is in the chat: the leg is left open"
        runtime.genesys.disconnect_participant(case.conversation_id, participant.id)
    except GENESYS_UNAVAILABLE:
        raise
    except NotFound:
        return Outcome.DEFERRED, "its chat leg had already ended"
    except GenesysError as refused:
        return Outcome.DEFERRED, f"its chat leg could not be checked or closed ({type(refused).__name__})"
    runtime.sessions.clear_initiating(case.key)
    return Outcome.DEFERRED, "the chat leg it opened was closed"


def _cause(detail: Mapping[str, Any]) -> str:
    error, cause = detail.get("error"), detail.get("cause")
    parts = [str(p) for p in (error, cause) if p]
    return f" ({': '.join(parts)[:MAX_CAUSE_CHARS]})" if parts else ""
