"""Who to write back to, and about what: read from Genesys, never carried in the workflow state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from email2chat.errors import GenesysError, InvalidEmailEvent
from email2chat.genesys.models import AgentlessEmail

if TYPE_CHECKING:
    from email2chat.genesys.models import EmailMessage
    from email2chat.genesys.port import GenesysPort

DEFAULT_SUBJECT = "Your request"


@dataclass(frozen=True)
class OriginalEmail:
    customer_address: str
    subject: str


def inbound_messages(genesys: GenesysPort, conversation_id: str, own_address: str) -> list[EmailMessage]:
    """The customer's messages on the conversation, oldest first (our own outbound emails are skipped)."""
    own = own_address.casefold()
    return [
        m
        for m in genesys.list_email_messages(conversation_id)
        if m.from_address and m.from_address.casefold() != own
    ]


def original_email(genesys: GenesysPort, conversation_id: str, own_address: str) -> OriginalEmail:
    """The newest inbound message's sender and subject; the customer participant's address when there is
    no message to answer or the message list cannot be read (the reply then has the default subject)."""
    try:
        inbound = inbound_messages(genesys, conversation_id, own_address)
    except GenesysError as unreadable:
        return _to_customer_participant(genesys, conversation_id, otherwise=unreadable)
    if inbound:
        return OriginalEmail(customer_address=inbound[-1].from_address, subject=inbound[-1].subject)
    missing = InvalidEmailEvent(f"no customer address on conversation {conversation_id}")
    return _to_customer_participant(genesys, conversation_id, otherwise=missing)


def _to_customer_participant(
    genesys: GenesysPort, conversation_id: str, *, otherwise: Exception
) -> OriginalEmail:
    customer = genesys.get_conversation(conversation_id).customer()
    if customer is None or not customer.address:
        raise otherwise
    return OriginalEmail(customer_address=customer.address, subject="")


def reply_subject(subject: str, fallback: str) -> str:
    if not subject:
        return fallback
    return subject if subject.casefold().startswith("re:") else f"Re: {subject}"


def reply_to_customer(genesys: GenesysPort, conversation_id: str, own_address: str, text_body: str) -> str:
    """Send an agentless email stitched to the conversation, answering the customer's newest message.

    The fallback and the cleanup follow-up both go this way; returns the sent message's id.
    """
    original = original_email(genesys, conversation_id, own_address)
    return genesys.send_agentless_email(
        AgentlessEmail(
            conversation_id=conversation_id,
            from_address=own_address,
            to_addresses=(original.customer_address,),
            subject=reply_subject(original.subject, DEFAULT_SUBJECT),
            text_body=text_body,
            reply_to_address=own_address,
        )
    )
