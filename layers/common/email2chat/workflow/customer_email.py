"""Who to write back to, and about what: read from Genesys, never carried in the workflow state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from email2chat.errors import InvalidEmailEvent

if TYPE_CHECKING:
    from email2chat.genesys.port import GenesysPort


@dataclass(frozen=True)
class OriginalEmail:
    customer_address: str
    subject: str


def original_email(genesys: GenesysPort, conversation_id: str, own_address: str) -> OriginalEmail:
    """The newest inbound message's sender and subject (our own outbound emails are skipped)."""
    own = own_address.casefold()
    inbound = [
        m
        for m in genesys.list_email_messages(conversation_id)
        if m.from_address and m.from_address.casefold() != own
    ]
    if inbound:
        return OriginalEmail(customer_address=inbound[-1].from_address, subject=inbound[-1].subject)
    customer = genesys.get_conversation(conversation_id).customer()
    if customer is not None and customer.address:
        return OriginalEmail(customer_address=customer.address, subject="")
    raise InvalidEmailEvent(f"no customer address on conversation {conversation_id}")


def reply_subject(subject: str, fallback: str) -> str:
    if not subject:
        return fallback
    return subject if subject.casefold().startswith("re:") else f"Re: {subject}"
