"""CheckStatus: the authoritative read after the wait (events can be lost, late or duplicated).

Maps the chat leg this workflow created to the guide's ChatSession states (through
``Conversation.chat_status``, the one place that mapping lives):
connected -> ``connected``; declined or closed -> ``declined`` (fallback email); still waiting ->
``unanswered`` (cleanup). A leg that has vanished counts as closed; one that connected and has ended since
counts as connected (the customer chatted: no "you would rather not chat" email).

When Genesys cannot be read (5xx, timeout, 429, garbled answer after the client's retries) and the customer's
own status event for this leg was seen (joined or left), that event decides: it is Genesys's word too, and a
customer who joined must not be cleaned up and told "now is not a good time" because of a read outage.
Without an event the error is raised, the state machine retries the read, and then cleans up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.errors import GENESYS_UNAVAILABLE
from email2chat.genesys.models import ChatStatus
from email2chat.workflow.case import case_of
from email2chat.workflow.intake_messages import parse_iso_time

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

CONNECTED = "connected"
DECLINED = "declined"
UNANSWERED = "unanswered"

_VERDICT = {
    ChatStatus.CONNECTED: CONNECTED,
    ChatStatus.DECLINED: DECLINED,
    ChatStatus.CLOSED: DECLINED,
    ChatStatus.NONE: DECLINED,
    ChatStatus.WAITING: UNANSWERED,
}
# The customer's status events (``status_events``) as the chat status they report.
_EVENT_STATUS = {
    "joined": ChatStatus.CONNECTED,
    "joined, then left": ChatStatus.CONNECTED,
    "left": ChatStatus.CLOSED,
}


def check_status(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    case = case_of(event)
    participant_id = str(event["initiate"]["participant_id"])
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    try:
        conversation = runtime.genesys.get_conversation(case.conversation_id)
    except GENESYS_UNAVAILABLE as unreadable:
        return verdict_from_status_event(event, case.conversation_id, participant_id, runtime, unreadable)
    chat_status = conversation.chat_status(participant_id)
    if chat_status == ChatStatus.CLOSED and conversation.customer_joined(participant_id):
        chat_status = ChatStatus.CONNECTED  # joined (its event lost) and left within the wait: not a decline
    result = chat_verdict(chat_status, runtime)
    agent_at = parse_iso_time(conversation.agent_connected_time())
    if agent_at is not None:
        result["agent_assigned_at"] = agent_at
    observability.logger.info("chat status checked", extra={"chat_status": chat_status.value})
    return result


def chat_verdict(chat_status: ChatStatus, runtime: Runtime, **extra: Any) -> dict[str, Any]:
    """``$.check``: the guide's verdict on a chat status, the status itself and when it was read."""
    return {
        "status": _VERDICT[chat_status],
        "chat_status": chat_status.value,
        "checked_at": runtime.clock.now(),
    } | extra


def verdict_from_status_event(
    event: Mapping[str, Any],
    conversation_id: str,
    participant_id: str,
    runtime: Runtime,
    unreadable: Exception,
) -> dict[str, Any]:
    """The leg's latest status event (stored, or the one that ended the wait) decides; none: re-raise."""
    seen = runtime.sessions.status_seen(conversation_id, participant_id)
    answer = event.get("answer")
    kind = seen.kind if seen is not None else answer.get("event") if isinstance(answer, Mapping) else None
    if kind == "left" and seen is not None and seen.joined_at is not None:
        kind = "joined, then left"  # the customer chatted: not a decline
    chat_status = _EVENT_STATUS.get(str(kind))
    if chat_status is None:
        raise unreadable
    decided_by = f"status event ({kind}); Genesys could not be read ({type(unreadable).__name__})"
    observability.logger.warning("chat status taken from the status event", extra={"decided_by": decided_by})
    return chat_verdict(chat_status, runtime, decided_by=decided_by)
