"""Notify (guide, section 4): the push notification with a deep link into the new chat session.

Sent only after initiateChat answered 201 (the state machine reaches Notify only from ``initiated``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.genesys.models import PushNotification
from email2chat.workflow.case import case_of

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

TITLE = "We are ready to help you faster via Chat"
BODY = "Tap here to start a chat with an agent now."


def deep_link(base: str, session_id: str) -> str:
    return f"{base.rstrip('/')}/{session_id}"


def notify(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    case = case_of(event)
    initiated = event["initiate"]
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    url = deep_link(runtime.settings.chat_deep_link_base, str(initiated["session_id"]))
    notification_id = runtime.genesys.send_push_notification(
        PushNotification(
            customer_id=case.customer_id,
            title=TITLE,
            body=BODY,
            action_url=url,
            conversation_id=case.conversation_id,
        )
    )
    observability.logger.info("customer notified", extra={"notification_id": notification_id})
    return {"notification_id": notification_id, "deep_link": url, "notified_at": runtime.clock.now()}
