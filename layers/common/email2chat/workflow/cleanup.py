"""Cleanup (guide, section 4: orphaned sessions): nobody joined within the wait, so close the chat leg
(already disconnected counts as done) and follow up by email; a leg Genesys refuses for good to close does
not hold the email back (a transient failure is retried by the state machine first). If the customer joined
at the last moment (or joined and has left since), nothing is closed and the outcome is ``connected`` (when
Genesys cannot be read, their "joined" status event says so); one who declined meanwhile gets the fallback
email (also when only their status event says so)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.errors import GENESYS_UNAVAILABLE, BadRequest, Conflict, Forbidden, NotFound
from email2chat.genesys.models import ChatStatus
from email2chat.workflow.case import case_of, push_failed
from email2chat.workflow.check_status import DECLINED, chat_verdict, verdict_from_status_event
from email2chat.workflow.customer_email import message_reference, reply_to_customer
from email2chat.workflow.fallback import fallback

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

TIMEOUT_CLEANUP = "timeout_cleanup"
CONNECTED = "connected"


def follow_up_text(conversation_id: str, *, invited: bool = True) -> str:
    """The email after a chat that did not happen. ``invited``: the push went out; when it failed, the
    customer never saw an invitation, so the email must not thank them for ignoring one."""
    opening = (
        "We invited you to a chat to resolve your request faster, but it looks like now is not a good time. "
        "No problem: we will continue by email and reply to you here."
        if invited
        else "We tried to invite you to a chat to resolve your request faster, but could not reach you. "
        "We will continue by email and reply to you here. If a phone call suits you better, reply with a "
        "number and a good time, and we will call you back."
    )
    return f"Hello,\n\n{opening}\n\nYour reference: conversation {conversation_id}.\n"


def cleanup(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    case = case_of(event)
    participant_id = str(event["initiate"]["participant_id"])
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    genesys = runtime.genesys
    try:
        conversation = genesys.get_conversation(case.conversation_id)
    except GENESYS_UNAVAILABLE as unreadable:
        # Reached after CheckStatus could not read either: a status event that arrived since decides
        # (no event: ``unreadable`` is raised again, for the state machine's retries).
        verdict = verdict_from_status_event(event, case.conversation_id, participant_id, runtime, unreadable)
        if verdict["status"] == DECLINED:
            return fallback({**event, "check": verdict}, runtime)  # raises while Genesys cannot send it
        return {
            "outcome": CONNECTED,
            "reason": f"customer joined the chat ({verdict['decided_by']})",
            "final": True,
        }
    chat_status = conversation.chat_status(participant_id)
    if chat_status == ChatStatus.CONNECTED:
        return {"outcome": CONNECTED, "reason": "customer joined the chat as the wait ended", "final": True}
    if chat_status == ChatStatus.CLOSED and conversation.customer_joined(participant_id):
        # Joined after the wait (while Cleanup retried, or before a late run) and the chat has ended since.
        return {
            "outcome": CONNECTED,
            "reason": "customer joined the chat after the wait; it has ended",
            "final": True,
        }
    if chat_status == ChatStatus.DECLINED and not push_failed(event):
        # They declined while Cleanup was retrying: they get the callback offer, not "not a good time".
        return fallback({**event, "check": chat_verdict(chat_status, runtime)}, runtime)
    leg = "chat leg closed"
    try:
        genesys.disconnect_participant(case.conversation_id, participant_id)
    except (BadRequest, Forbidden, NotFound, Conflict) as refused:  # for good: retrying cannot close it
        leg = f"chat leg could not be closed ({type(refused).__name__}; Genesys times it out)"
    notify_failed = push_failed(event)
    message_id = reply_to_customer(
        genesys,
        case.conversation_id,
        runtime.settings.fallback_from_address,
        follow_up_text(case.conversation_id, invited=not notify_failed),
        reference=message_reference(case.email_id, "follow-up"),
    )
    why = "push notification failed" if notify_failed else "no answer within the wait"
    return {
        "outcome": TIMEOUT_CLEANUP,
        "reason": f"{why}; {leg}, follow-up email sent",
        "final": True,
        "follow_up_message_id": message_id,
    }
