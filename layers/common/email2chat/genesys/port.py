"""The Genesys Cloud port: everything the workflow asks of Genesys. ``client.GenesysClient`` implements it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from email2chat.genesys.models import (
    AgentlessEmail,
    CallbackRequest,
    ChatSession,
    Conversation,
    EmailMessage,
    InitiateChatRequest,
    PushNotification,
    RateLimitInfo,
)

RateLimitObserver = Callable[[RateLimitInfo], None]


class GenesysPort(Protocol):
    def get_conversation(self, conversation_id: str) -> Conversation: ...

    def list_email_messages(self, conversation_id: str) -> list[EmailMessage]:
        """Message summaries of the email conversation, oldest first (bodies may be empty)."""
        ...

    def get_email_message(self, conversation_id: str, message_id: str) -> EmailMessage: ...

    def initiate_chat(self, request: InitiateChatRequest) -> ChatSession:
        """POST initiateChat. Raises ``ConversationIdMismatch``/``MissingConversationId`` before sending."""
        ...

    def send_push_notification(self, notification: PushNotification) -> str:
        """Returns the notification id."""
        ...

    def patch_participant_attributes(
        self, conversation_id: str, participant_id: str, attributes: Mapping[str, str]
    ) -> None: ...

    def disconnect_participant(self, conversation_id: str, participant_id: str) -> None:
        """Already disconnected counts as done."""
        ...

    def send_agentless_email(self, email: AgentlessEmail) -> str:
        """Returns the id of the sent message."""
        ...

    def create_callback(self, callback: CallbackRequest) -> str:
        """Returns the callback conversation id."""
        ...

    @property
    def last_rate_limit(self) -> RateLimitInfo | None:
        """The rate-limit headers of the most recent response (the limiter reads them)."""
        ...
