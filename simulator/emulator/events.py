"""Genesys Cloud events in the shape Amazon EventBridge delivers them from the Genesys partner event source.

``detail-type`` is the topic template with a literal ``{id}``; ``detail.topicName`` carries the concrete id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

CONVERSATION_TOPIC = "v2.detail.events.conversation.{id}"
CUSTOMER_START = "customer.start"
CUSTOMER_END = "customer.end"
USER_START = "user.start"
USER_END = "user.end"


def iso_time(seconds: float) -> str:
    """Genesys timestamps: ISO 8601, milliseconds, UTC ``Z``."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def eventbridge_envelope(
    *,
    org_id: str,
    topic_suffix: str,
    conversation_id: str,
    event_body: dict[str, Any],
    now: float,
    event_id: str,
    correlation_id: str,
    region: str = "us-east-1",
    account: str = "000000000000",
) -> dict[str, Any]:
    template = f"{CONVERSATION_TOPIC}.{topic_suffix}"
    return {
        "version": "0",
        "id": event_id,
        "detail-type": template,
        "source": f"aws.partner/genesys.com/cloud/{org_id}/email2chat",
        "account": account,
        "time": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": {
            "topicName": template.replace("{id}", conversation_id),
            "version": "2",
            "eventBody": {"conversationId": conversation_id, "eventTime": int(now * 1000), **event_body},
            "metadata": {"CorrelationId": correlation_id},
            "timestamp": iso_time(now),
        },
    }
