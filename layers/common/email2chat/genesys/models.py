"""Genesys Cloud models, parsed from the real API's JSON (see docs/genesys-facts.md).

Frozen dataclasses rather than pydantic: they are built on every call in the hot path and cost nothing
to import. ``from_api`` constructors accept the real wire shape; unknown fields are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Per-media states of the real API; "active" = a leg that still holds (or is about to hold) a customer.
ACTIVE_MEDIA_STATES = frozenset({"alerting", "contacting", "offering", "dialing", "connected"})
WAITING_MEDIA_STATES = frozenset({"alerting", "contacting", "offering", "dialing"})
ENDED_MEDIA_STATES = frozenset({"disconnected", "terminated"})
# A customer who ended a leg that never connected, from their side, declined it.
CUSTOMER_DISCONNECT_TYPES = frozenset({"client", "endpoint", "peer"})
MEDIA_KEYS = ("emails", "chats", "messages", "callbacks", "calls")


class ChatStatus(StrEnum):
    """The guide's "ChatSession" states, mapped from per-participant media states in ONE place."""

    NONE = "none"  # no chat leg on the conversation
    WAITING = "waiting"  # a leg exists, the customer has not joined yet
    CONNECTED = "connected"
    DECLINED = "declined"  # the customer ended the leg before ever connecting
    CLOSED = "closed"  # the leg ended after connecting, or was ended by the system


@dataclass(frozen=True)
class MediaEntry:
    """One entry of a participant's per-media list (``emails[]``, ``chats[]``, ...)."""

    id: str
    media_type: str  # "email", "chat", "message", "callback", "call"
    state: str
    disconnect_type: str | None = None
    connected_time: str | None = None
    disconnected_time: str | None = None

    @classmethod
    def from_api(cls, media_type: str, data: Mapping[str, Any]) -> MediaEntry:
        return cls(
            id=str(data.get("id", "")),
            media_type=media_type,
            state=str(data.get("state", "none")).lower(),
            disconnect_type=data.get("disconnectType"),
            connected_time=data.get("connectedTime"),
            disconnected_time=data.get("disconnectedTime"),
        )

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_MEDIA_STATES


@dataclass(frozen=True)
class Participant:
    id: str
    purpose: str  # customer, agent, acd, workflow, ...
    attributes: Mapping[str, str] = field(default_factory=dict)
    media: tuple[MediaEntry, ...] = ()
    user_id: str | None = None
    queue_id: str | None = None
    name: str | None = None
    address: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    connected_time: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Participant:
        media: list[MediaEntry] = []
        for key in MEDIA_KEYS:
            for entry in data.get(key) or ():
                media.append(MediaEntry.from_api(key[:-1], entry))
        attributes = data.get("attributes") or {}
        return cls(
            id=str(data.get("id", "")),
            purpose=str(data.get("purpose", "")),
            attributes={str(k): str(v) for k, v in attributes.items()},
            media=tuple(media),
            user_id=data.get("userId"),
            queue_id=data.get("queueId"),
            name=data.get("name"),
            address=data.get("address"),
            start_time=data.get("startTime"),
            end_time=data.get("endTime"),
            connected_time=data.get("connectedTime"),
        )

    def legs(self, media_type: str) -> tuple[MediaEntry, ...]:
        return tuple(m for m in self.media if m.media_type == media_type)


@dataclass(frozen=True)
class Conversation:
    id: str
    participants: tuple[Participant, ...] = ()
    start_time: str | None = None
    end_time: str | None = None  # None while the conversation is active

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Conversation:
        return cls(
            id=str(data["id"]),
            participants=tuple(Participant.from_api(p) for p in data.get("participants") or ()),
            start_time=data.get("startTime"),
            end_time=data.get("endTime"),
        )

    def customer(self) -> Participant | None:
        """The customer participant of the email leg (the first customer, whatever media)."""
        for participant in self.participants:
            if participant.purpose == "customer" and participant.legs("email"):
                return participant
        return next((p for p in self.participants if p.purpose == "customer"), None)

    def chat_legs(self, purpose: str = "customer") -> list[tuple[Participant, MediaEntry]]:
        return [(p, leg) for p in self.participants if p.purpose == purpose for leg in p.legs("chat")]

    def active_chat_legs(self) -> list[tuple[Participant, MediaEntry]]:
        return [(p, leg) for p, leg in self.chat_legs() if leg.is_active]

    def chat_leg(self, participant_id: str) -> MediaEntry | None:
        for participant in self.participants:
            if participant.id == participant_id:
                legs = participant.legs("chat")
                return legs[-1] if legs else None
        return None

    def chat_status(self, participant_id: str | None = None) -> ChatStatus:
        """Map per-media states to the guide's ChatSession status (Connected / Declined / Closed).

        With ``participant_id``, only that customer chat leg counts (the one this workflow created).
        """
        legs = [leg for p, leg in self.chat_legs() if participant_id is None or p.id == participant_id]
        if not legs:
            return ChatStatus.NONE
        if any(leg.state == "connected" for leg in legs):
            return ChatStatus.CONNECTED
        if any(leg.state in WAITING_MEDIA_STATES for leg in legs):
            return ChatStatus.WAITING
        last = legs[-1]
        if last.connected_time is None and (last.disconnect_type or "") in CUSTOMER_DISCONNECT_TYPES:
            return ChatStatus.DECLINED
        return ChatStatus.CLOSED

    def customer_joined(self, participant_id: str) -> bool:
        """The customer's chat leg is connected, or connected before it ended (they chatted and left)."""
        leg = self.chat_leg(participant_id)
        return leg is not None and (leg.state == "connected" or bool(leg.connected_time))

    def agent_connected_time(self) -> str | None:
        """When an agent's chat leg connected (agent assigned), if one has."""
        for participant, leg in self.chat_legs("agent"):
            if leg.state == "connected" or leg.connected_time:
                return leg.connected_time or participant.connected_time
        return None

    def email_answered(self) -> bool:
        """An agent has connected on the email (the customer is no longer waiting in queue)."""
        return any(
            leg.state == "connected" or leg.connected_time
            for p in self.participants
            if p.purpose == "agent"
            for leg in p.legs("email")
        )


@dataclass(frozen=True)
class EmailMessage:
    id: str
    subject: str = ""
    text_body: str = ""
    html_body: str = ""
    from_address: str = ""
    to_addresses: tuple[str, ...] = ()
    time: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> EmailMessage:
        def address(value: Any) -> str:
            if isinstance(value, Mapping):
                return str(value.get("email", ""))
            return str(value or "")

        return cls(
            id=str(data.get("id", "")),
            subject=str(data.get("subject") or ""),
            text_body=str(data.get("textBody") or ""),
            html_body=str(data.get("htmlBody") or ""),
            from_address=address(data.get("from")),
            to_addresses=tuple(address(a) for a in data.get("to") or ()),
            time=data.get("time"),
        )


@dataclass(frozen=True)
class InitiateChatRequest:
    """The guide's initiateChat contract. ``email_id`` (path) must equal ``conversation_id`` (body)."""

    email_id: str
    conversation_id: str
    external_conversation_id: str | None = None
    agent_id: str | None = None
    initiation_method: str = "workflow"

    def body(self) -> dict[str, Any]:
        return {
            "conversationId": self.conversation_id,
            "externalConversationId": self.external_conversation_id,
            "channelType": "chat",
            "initiationMethod": self.initiation_method,
            "agentId": self.agent_id,
        }


@dataclass(frozen=True)
class ChatSession:
    """201 answer of initiateChat: the new chat leg linked to the email conversation."""

    id: str  # chat session id: the deep link uses it
    conversation_id: str
    participant_id: str  # the customer's chat participant on the conversation
    state: str = "alerting"

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ChatSession:
        return cls(
            id=str(data["id"]),
            conversation_id=str(data["conversationId"]),
            participant_id=str(data.get("participantId", "")),
            state=str(data.get("state", "alerting")),
        )


@dataclass(frozen=True)
class PushNotification:
    """The guide's push payload (no public Genesys equivalent: a port contract)."""

    customer_id: str
    title: str
    body: str
    action_url: str
    conversation_id: str

    def payload(self) -> dict[str, Any]:
        return {
            "recipient": {"type": "customer", "id": self.customer_id},
            "message": {"title": self.title, "body": self.body, "actionUrl": self.action_url},
            "conversationId": self.conversation_id,
        }


@dataclass(frozen=True)
class AgentlessEmail:
    conversation_id: str
    from_address: str
    to_addresses: tuple[str, ...]
    subject: str
    text_body: str
    html_body: str | None = None
    reply_to_address: str | None = None

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "senderType": "Outbound",
            "conversationId": self.conversation_id,
            "fromAddress": {"email": self.from_address},
            "toAddresses": [{"email": a} for a in self.to_addresses],
            "subject": self.subject,
            "textBody": self.text_body,
        }
        if self.html_body is not None:
            body["htmlBody"] = self.html_body
        if self.reply_to_address:
            body["replyToAddress"] = {"email": self.reply_to_address}
        return body


@dataclass(frozen=True)
class CallbackRequest:
    queue_id: str
    callback_numbers: tuple[str, ...]
    callback_user_name: str
    data: Mapping[str, str] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {
            "queueId": self.queue_id,
            "callbackNumbers": list(self.callback_numbers),
            "callbackUserName": self.callback_user_name,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class RateLimitInfo:
    """The ``inin-ratelimit-*`` headers of one response."""

    allowed: int | None
    count: int | None
    reset_seconds: float | None

    @property
    def remaining(self) -> int | None:
        if self.allowed is None or self.count is None:
            return None
        return max(0, self.allowed - self.count)
