"""Genesys Cloud: the port the workflow talks to, its models, and the requests-based adapter (``client``)."""

from email2chat.genesys.models import (
    AgentlessEmail,
    CallbackRequest,
    ChatSession,
    ChatStatus,
    Conversation,
    EmailMessage,
    InitiateChatRequest,
    MediaEntry,
    Participant,
    PushNotification,
    RateLimitInfo,
)
from email2chat.genesys.port import GenesysPort

__all__ = [
    "AgentlessEmail",
    "CallbackRequest",
    "ChatSession",
    "ChatStatus",
    "Conversation",
    "EmailMessage",
    "GenesysPort",
    "InitiateChatRequest",
    "MediaEntry",
    "Participant",
    "PushNotification",
    "RateLimitInfo",
]
