"""CheckStatus: the authoritative read after the wait (events can be lost, late or duplicated).

Maps the chat leg this workflow created to the guide's ChatSession states (through
``Conversation.chat_status``, the one place that mapping lives):
connected -> ``connected``; declined or closed -> ``declined`` (fallback email); still waiting ->
``unanswered`` (cleanup). A leg that has vanished counts as closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
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


def check_status(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    case = case_of(event)
    participant_id = str(event["initiate"]["participant_id"])
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    conversation = runtime.genesys.get_conversation(case.conversation_id)
    chat_status = conversation.chat_status(participant_id)
    result: dict[str, Any] = {
        "status": _VERDICT[chat_status],
        "chat_status": chat_status.value,
        "checked_at": runtime.clock.now(),
    }
    agent_at = parse_iso_time(conversation.agent_connected_time())
    if agent_at is not None:
        result["agent_assigned_at"] = agent_at
    observability.logger.info("chat status checked", extra={"chat_status": chat_status.value})
    return result
