"""Genesys chat status events (EventBridge): end the AwaitAnswer wait early; measure agent assignment.

Events can arrive late, twice or out of order (Genesys retries EventBridge delivery for days), so:
the latest status is remembered per chat participant (an event that beats the task token still ends the
wait; one redelivered after a newer one is ignored),
a stale or reused token is not an error, and CheckStatus always re-reads the conversation.
- ``customer.start`` (CHAT): the customer joined the chat leg -> ``joined``
- ``customer.end``   (CHAT): the customer declined or left     -> ``left``
- ``user.start``     (CHAT): an agent was assigned -> ``AgentAssignmentLatency`` (guide, edge case 4)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.workflow.chat_sessions import StatusSeen
from email2chat.workflow.intake_messages import parse_iso_time
from email2chat.workflow.task_tokens import complete_wait

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

CUSTOMER_STATUS = {"customer.start": "joined", "customer.end": "left"}
AGENT_ASSIGNED = "user.start"


def handle_status_event(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    detail = event.get("detail")
    detail_type = event.get("detail-type")
    if not isinstance(detail, Mapping) or not isinstance(detail_type, str):
        return {"ignored": "not an EventBridge event"}
    body = detail.get("eventBody")
    if not isinstance(body, Mapping):
        return {"ignored": "no eventBody"}
    if str(body.get("mediaType", "")).upper() != "CHAT":
        return {"ignored": f"mediaType {body.get('mediaType')!r}"}
    conversation_id = body.get("conversationId")
    if not isinstance(conversation_id, str) or not conversation_id:
        return {"ignored": "no conversationId"}
    observability.correlate(email_id=None, conversation_id=conversation_id, execution=None)
    topic = detail_type.rsplit("}.", 1)[-1] if "}." in detail_type else detail_type.split(".", 5)[-1]
    at = _event_time(event, body, runtime)

    if topic == AGENT_ASSIGNED:
        return _agent_assigned(conversation_id, at, runtime)
    kind = CUSTOMER_STATUS.get(topic)
    if kind is None:
        return {"ignored": f"topic {topic}"}
    participant_id = str(body.get("participantId") or "")
    if not participant_id:
        return {"ignored": "no participantId"}
    status = StatusSeen(conversation_id=conversation_id, participant_id=participant_id, kind=kind, at=at)
    if not runtime.sessions.remember_status(status):
        # A newer status of this leg is remembered; whoever stored it ended (or will end) the wait.
        return {"ignored": f"{kind} is older than the leg's remembered status"}
    waiter = runtime.sessions.waiter(conversation_id)
    if waiter is None or waiter.participant_id != participant_id:
        # No wait yet (the token is stored later and will find this status), or another leg's event.
        return {"remembered": kind, "completed": False}
    completed = complete_wait(runtime, waiter.task_token, {"event": kind, "at": at, "source": "event"})
    runtime.sessions.delete_waiter(conversation_id, waiter.task_token)
    observability.logger.info(
        "customer answered the chat prompt", extra={"status": kind, "completed": completed}
    )
    return {"remembered": kind, "completed": completed, "execution": waiter.execution}


def _agent_assigned(conversation_id: str, at: float, runtime: Runtime) -> dict[str, Any]:
    session = runtime.sessions.session(conversation_id)
    if session is None:
        return {"ignored": "agent assigned on a chat this workflow did not initiate"}
    latency_ms = max(0.0, (at - session.initiated_at) * 1000.0)
    observability.emit(observability.AGENT_ASSIGNMENT_LATENCY, latency_ms, "Milliseconds")
    observability.logger.info("agent assigned", extra={"agent_assignment_latency_ms": round(latency_ms)})
    return {"agent_assignment_latency_ms": latency_ms, "execution": session.execution}


def _event_time(event: Mapping[str, Any], body: Mapping[str, Any], runtime: Runtime) -> float:
    """When Genesys says it happened (epoch ms or ISO 8601), else when EventBridge received it (``time``); our
    clock only when neither says (a redelivery then looks newer than it is)."""
    raw = body.get("eventTime")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw) / 1000.0
    detail = event.get("detail")
    candidates = [raw, detail.get("timestamp") if isinstance(detail, Mapping) else None, event.get("time")]
    for candidate in candidates:
        parsed = parse_iso_time(candidate) if isinstance(candidate, str) else None
        if parsed is not None:
            return parsed
    return runtime.clock.now()
