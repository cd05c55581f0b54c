"""Fallback (guide, edge case 3: context loss on rejection): the customer declined or closed the chat.

An email stitched to the original conversation acknowledges their preference, quotes the original
conversation id (so nobody asks for it again) and offers a callback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.workflow.case import case_of
from email2chat.workflow.customer_email import message_reference, reply_to_customer

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

DECLINED_FALLBACK = "declined_fallback"


def fallback_text(conversation_id: str) -> str:
    return (
        "Hello,\n\n"
        "We noticed you would rather not continue on chat right now, and that is fine: we will keep helping "
        "you by email.\n\n"
        "If a phone call suits you better, reply to this email with a number and a good time, and we will "
        "call you back.\n\n"
        f"Your reference: conversation {conversation_id}. Our agents can see everything you have already "
        "told us, so you will not need to repeat it.\n"
    )


def fallback(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    case = case_of(event)
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    message_id = reply_to_customer(
        runtime.genesys,
        case.conversation_id,
        runtime.settings.fallback_from_address,
        fallback_text(case.conversation_id),
        reference=message_reference(case.email_id, "fallback"),
    )
    check = event.get("check")
    check = check if isinstance(check, Mapping) else {}
    if check.get("decided_by"):  # Genesys could not be read: a "left" event cannot tell declined from closed
        what = f"declined or left the chat ({check['decided_by']})"
    elif check.get("chat_status", "declined") == "declined":
        what = "declined the chat"
    else:
        what = "closed the chat"
    return {
        "outcome": DECLINED_FALLBACK,
        "reason": f"customer {what}; fallback email sent with a callback offer",
        "final": True,
        "fallback_message_id": message_id,
    }
