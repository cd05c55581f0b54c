"""Notify (guide, section 4): the push notification with a deep link into the new chat session.

Sent only after initiateChat answered 201 (the state machine reaches Notify only from ``initiated``). A push
is not idempotent: only a 503 or a 429 (not taken) is retried or deferred; a timeout or another 5xx may have
reached the customer (and so may a garbled 200), so the workflow waits for them (``Timeout`` /
``OutcomeUnknown`` -> AwaitAnswer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.errors import GenesysError, MalformedResponse, OutcomeUnknown, ServerError, Timeout
from email2chat.genesys.models import PushNotification
from email2chat.workflow.case import case_of

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

SERVICE_UNAVAILABLE = 503
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
    push = PushNotification(
        customer_id=case.customer_id,
        title=TITLE,
        body=BODY,
        action_url=url,
        conversation_id=case.conversation_id,
    )
    # Before the POST: another email of this customer must not prompt them too, whatever the POST's fate.
    marked_now = runtime.cooldown.mark_prompting(case.customer_key, case.key)
    try:
        notification_id = runtime.genesys.send_push_notification(push)
    except GenesysError as error:
        if marked_now and _not_delivered(error):  # an earlier try's mark stays: its push may have gone out
            runtime.cooldown.unmark_prompting(case.customer_key, case.key)
        if isinstance(error, MalformedResponse) or (
            isinstance(error, ServerError) and error.status != SERVICE_UNAVAILABLE
        ):
            # A garbled 200, a 500, 502, 504: the push may have gone out, and it has no idempotency key
            raise OutcomeUnknown(
                f"push notification outcome unknown ({type(error).__name__}, status={error.status})",
                status=error.status,
                correlation_id=error.correlation_id,
            ) from error
        raise  # not taken (503, 429), refused (4xx) or timed out: the ASL retries, defers, cleans up or waits
    observability.logger.info("customer notified", extra={"notification_id": notification_id})
    return {"notification_id": notification_id, "deep_link": url, "notified_at": runtime.clock.now()}


def _not_delivered(error: GenesysError) -> bool:
    """The push certainly did not go out: refused (4xx), rate limited (429) or not taken (503). A timeout,
    a garbled 200 and a 500/502/504 may have delivered it."""
    if isinstance(error, Timeout | MalformedResponse):
        return False
    return not isinstance(error, ServerError) or error.status == SERVICE_UNAVAILABLE
