"""The intake's dead-letter queue: a message nothing more can be done with, kept with its reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

MAX_REASON_CHARS = 900  # a message attribute and a record field: short and free of content


def dead_letter(runtime: Runtime, body: str, reason: str, *, email_id: str, source_message_id: str) -> str:
    """Put ``body`` on the DLQ with its reason and ids as message attributes; returns the reason as kept."""
    reason = reason[:MAX_REASON_CHARS]
    runtime.sqs.send_message(
        QueueUrl=runtime.settings.required("dead_letter_queue_url"),
        MessageBody=body,
        MessageAttributes={
            "reason": {"DataType": "String", "StringValue": reason},
            "source_message_id": {"DataType": "String", "StringValue": source_message_id},
            "email_id": {"DataType": "String", "StringValue": email_id},
        },
    )
    return reason
