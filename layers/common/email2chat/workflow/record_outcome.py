"""RecordOutcome: every path of the state machine ends here, exactly once.

Releases the session lock (only if this execution holds it), gives the cooldown claim back when the
customer was never notified (so a skipped or deferred upgrade does not silence the next email), and
writes the one outcome record with its reason and timings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.state.outcomes import Outcome, OutcomeRecord
from email2chat.workflow.case import case_of, push_failed

if TYPE_CHECKING:
    from email2chat.runtime import Runtime


def record_outcome(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    case = case_of(event)
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    final = _section(event, "final")
    try:
        outcome = Outcome(str(final.get("outcome")))
    except ValueError:
        outcome = Outcome.DEFERRED  # a path without an outcome is a bug: keep the email visible, not lost
        final = {"reason": "workflow ended without an outcome", "final": True}
    is_final = bool(final.get("final", True))
    now = runtime.clock.now()

    runtime.lock.release(case.conversation_id, case.execution)
    # The claim stays when the customer may have been prompted, when it is another email's claim
    # (cooldown_skipped), and while a deferred retry is still to come (the next attempt re-enters it).
    prompted = _customer_may_have_been_prompted(event)
    keeps_claim = (
        prompted or outcome == Outcome.COOLDOWN_SKIPPED or (outcome == Outcome.DEFERRED and not is_final)
    )
    if not keeps_claim:
        runtime.cooldown.release(case.customer_key, case.key)

    record = OutcomeRecord(
        email_id=case.email_id,
        outcome=outcome,
        reason=str(final.get("reason", "")),
        conversation_id=case.conversation_id,
        execution=case.execution,
        timings=_timings(event, now),
        details={
            **_details(event, case.attempt, case.score, case.urgent_by, is_final),
            "customer_prompted": prompted,  # a late duplicate delivery reads it (intake)
        },
    )
    runtime.outcomes.record(record)
    if is_final:
        observability.emit(observability.OUTCOME, 1, "Count", outcome=outcome.value)
    observability.logger.info(
        "outcome recorded", extra={"outcome": outcome.value, "final": is_final, "reason": record.reason}
    )
    return {"outcome": outcome.value, "final": is_final}


def _customer_may_have_been_prompted(event: Mapping[str, Any]) -> bool:
    """True once a push was sent, or may have been: after a 201 the only ways past Notify are its success
    (``$.notify``), its failure (``notify_failed``) and its Timeout, caught into AwaitAnswer with the push
    perhaps delivered. Giving the claim back then could prompt the customer twice within the window."""
    if _section(event, "notify"):
        return True
    if _section(event, "initiate").get("status") != "initiated":
        return False
    return not push_failed(event)


def _section(event: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = event.get(key)
    return value if isinstance(value, Mapping) else {}


def _timings(event: Mapping[str, Any], now: float) -> dict[str, float]:
    case = _section(event, "case")
    sources = {
        "received": case.get("received_at"),
        "decided": case.get("decided_at"),
        "checked_collision": _section(event, "collision").get("checked_at"),
        "initiated": _section(event, "initiate").get("initiated_at"),
        "notified": _section(event, "notify").get("notified_at"),
        "checked_status": _section(event, "check").get("checked_at"),
        "agent_assigned": _section(event, "check").get("agent_assigned_at"),
    }
    timings = {k: float(v) for k, v in sources.items() if isinstance(v, int | float) and v}
    if _section(event, "check").get("status") == "connected":
        timings["connected"] = float(_section(event, "check").get("checked_at") or now)
    timings["finished"] = now
    return timings


def _details(
    event: Mapping[str, Any], attempt: int, score: float | None, urgent_by: str, is_final: bool
) -> dict[str, Any]:
    initiate = _section(event, "initiate")
    details: dict[str, Any] = {"final": is_final, "attempt": attempt, "score": score, "urgent_by": urgent_by}
    for key in ("session_id", "participant_id", "adopted"):
        if key in initiate:
            details[key] = initiate[key]
    for section, keys in (
        (
            "final",
            ("next_execution", "retry_at", "fallback_message_id", "follow_up_message_id", "late_email"),
        ),
        ("notify", ("notification_id", "deep_link")),
        ("check", ("chat_status", "decided_by")),
        ("answer", ("event", "source")),
    ):
        values = _section(event, section)
        for key in keys:
            if key in values:
                details[key] = values[key]
    error = _section(event, "error")
    if error.get("Error"):
        details["error"] = str(error["Error"])
    return details
