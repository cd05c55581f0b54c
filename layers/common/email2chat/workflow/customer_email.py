"""Who to write back to, and about what: read from Genesys, never carried in the workflow state."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from email2chat import observability
from email2chat.errors import GENESYS_UNAVAILABLE, GenesysError, InvalidEmailEvent
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
    return _split_by_sender(genesys.list_email_messages(conversation_id), own_address)[0]


def _split_by_sender(
    messages: list[EmailMessage], own_address: str
) -> tuple[list[EmailMessage], list[EmailMessage]]:
    """(the customer's messages, our own), each oldest first; a message without a sender is neither."""
    own = own_address.casefold()
    theirs = [m for m in messages if m.from_address and m.from_address.casefold() != own]
    ours = [m for m in messages if m.from_address and m.from_address.casefold() == own]
    return theirs, ours


def message_reference(email_id: str, purpose: str) -> str:
    """The line that makes one email's ``purpose`` message recognisable on its conversation: the same email
    and purpose give the same reference, so a retried step can see that its message already went out."""
    digest = hashlib.sha256(f"{purpose}\0{email_id}".encode()).hexdigest()[:12]
    return f"Message reference: {purpose}-{digest}"


def reply_to_customer(
    genesys: GenesysPort, conversation_id: str, own_address: str, text_body: str, *, reference: str
) -> str:
    """Send an agentless email stitched to the conversation, answering the customer's newest message, once.

    The fallback and the cleanup follow-up both go this way; returns the sent message's id. Genesys has no
    idempotency key for this POST, so ``reference`` (``message_reference``) is written into the body and
    the conversation is read back first: when a message of ours already carries it (an earlier attempt
    landed although its answer was lost: a 5xx, a timeout, a garbled 200), that message's id is returned
    and nothing is sent again. While the message list cannot be read for a while (429, 5xx, timeout) the
    error is raised for the state machine's retries; when it cannot be read for good (403, 404), the email
    goes to the customer participant unchecked, since an email sent twice is better than none.
    """
    try:
        inbound, ours = _split_by_sender(genesys.list_email_messages(conversation_id), own_address)
    except GENESYS_UNAVAILABLE:
        raise
    except GenesysError as unreadable:  # for good: no read-back possible
        original = _to_customer_participant(genesys, conversation_id, otherwise=unreadable)
    else:
        already = _carrying(genesys, conversation_id, ours, reference)
        if already is not None:
            observability.logger.info(
                "customer email already sent; not sent again",
                extra={"conversation_id": conversation_id, "message_id": already.id},
            )
            return already.id
        original = _newest_inbound(genesys, conversation_id, inbound)
    return genesys.send_agentless_email(
        AgentlessEmail(
            conversation_id=conversation_id,
            from_address=own_address,
            to_addresses=(original.customer_address,),
            subject=reply_subject(original.subject, DEFAULT_SUBJECT),
            text_body=f"{text_body}\n{reference}\n",
            reply_to_address=own_address,
        )
    )


def _carrying(
    genesys: GenesysPort, conversation_id: str, ours: list[EmailMessage], reference: str
) -> EmailMessage | None:
    """Our message whose body carries ``reference``, newest first. A listing may leave the bodies out (they
    come from the message itself): only our own messages, a few per conversation, are read one by one."""
    for message in reversed(ours):
        body = message.text_body
        if not body:
            try:
                body = genesys.get_email_message(conversation_id, message.id).text_body
            except GENESYS_UNAVAILABLE:
                raise
            except GenesysError:  # that message cannot be read for good (gone, not ours to read): not it
                continue
        if reference in body:
            return message
    return None


def _newest_inbound(genesys: GenesysPort, conversation_id: str, inbound: list[EmailMessage]) -> OriginalEmail:
    """The newest inbound message's sender and subject; the customer participant's address when there is
    no message to answer (the reply then has the default subject)."""
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
