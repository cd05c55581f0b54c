"""The emulator's simulated Genesys Cloud org: conversations, participants, customers, agents, outbox.

Plain classes behind ONE lock. Conversations are kept in the real API's wire shape (participants with
per-media lists, each entry with its own ``state``), so ``Conversation.from_api`` and its ``chat_status()``
read them exactly as they would read Genesys. Every method that mutates returns the events it produced;
the caller publishes them after the lock is released.
"""

from __future__ import annotations

import heapq
import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from email2chat.clock import Clock

from simulator.emulator.events import (
    CUSTOMER_END,
    CUSTOMER_START,
    USER_START,
    eventbridge_envelope,
    iso_time,
)

CUSTOMER_ACTIONS = frozenset({"accept", "decline", "ignore"})
MEDIA_LISTS = ("calls", "callbacks", "chats", "emails", "messages")
ENDED = frozenset({"disconnected", "terminated"})
ACTIVE = frozenset({"alerting", "contacting", "offering", "dialing", "connected"})


class ApiError(Exception):
    """An error the emulator answers with the real Genesys error body."""

    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def not_found(what: str) -> ApiError:
    return ApiError(404, "not.found", f"The requested {what} was not found.")


def bad_request(message: str, code: str = "bad.request") -> ApiError:
    return ApiError(400, code, message)


@dataclass
class EmailConversation:
    """One conversation and what the simulated customer will do."""

    id: str
    start_time: float
    participants: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    customer_id: str
    customer_email: str
    inbox_address: str
    queue_id: str
    customer_action: str = "accept"
    answer_after_s: float = 2.0
    agent_delay_s: float = 3.0
    disjointed: bool = False
    answered_sessions: set[str] = field(default_factory=set)  # chat legs the customer will answer / answered

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "startTime": iso_time(self.start_time),
            "endTime": None,
            "participants": [_copy(p) for p in self.participants],
            "selfUri": f"/api/v2/conversations/{self.id}",
        }

    def participant(self, participant_id: str) -> dict[str, Any]:
        for participant in self.participants:
            if participant["id"] == participant_id:
                return participant
        raise not_found("participant")

    def email_customer(self) -> dict[str, Any]:
        return next(p for p in self.participants if p["purpose"] == "customer" and p["emails"])

    def customer_chat_legs(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [(p, leg) for p in self.participants if p["purpose"] == "customer" for leg in p["chats"]]


def _copy(participant: dict[str, Any]) -> dict[str, Any]:
    copied = dict(participant)
    copied["attributes"] = dict(participant["attributes"])
    for key in MEDIA_LISTS:
        copied[key] = [dict(entry) for entry in participant[key]]
    return copied


def _participant(participant_id: str, purpose: str, now: float, **fields: Any) -> dict[str, Any]:
    participant: dict[str, Any] = {
        "id": participant_id,
        "purpose": purpose,
        "startTime": iso_time(now),
        "endTime": None,
        "connectedTime": None,
        "name": None,
        "address": None,
        "queueId": None,
        "userId": None,
        "attributes": {},
    }
    participant.update({key: [] for key in MEDIA_LISTS})
    participant.update(fields)
    return participant


@dataclass(order=True)
class _Scheduled:
    due: float
    seq: int
    kind: str = field(compare=False)  # "customer_answer" | "agent_join"
    conversation_id: str = field(compare=False)
    participant_id: str = field(compare=False)


class World:
    """The simulated org. Thread-safe: every public method takes ``lock``."""

    def __init__(self, clock: Clock, *, org_id: str = "local-org", seed: int = 0) -> None:
        self.clock = clock
        self.org_id = org_id
        self.lock = threading.Lock()
        self._ids = random.Random(seed)
        self._seq = 0
        self.conversations: dict[str, EmailConversation] = {}
        self._session_index: dict[str, str] = {}  # chat session id -> conversation id
        self._schedule: list[_Scheduled] = []
        self.notifications: list[dict[str, Any]] = []
        self.emails_sent: list[dict[str, Any]] = []
        self.callbacks: list[dict[str, Any]] = []
        self.disjointed: list[str] = []
        self._agents = 0

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    # --- seeding and the simulated people (called by tests and the runner) -----------------------

    def seed_email_conversation(
        self,
        conversation_id: str,
        *,
        subject: str,
        text_body: str,
        html_body: str,
        customer_id: str,
        customer_email: str,
        customer_name: str,
        attributes: Mapping[str, str] | None,
        queue_wait_s: float,
        customer_action: str,
        answer_after_s: float,
        agent_delay_s: float,
        inbox_address: str = "support@example.com",
    ) -> str:
        if customer_action not in CUSTOMER_ACTIONS:
            raise ValueError(f"customer_action must be one of {sorted(CUSTOMER_ACTIONS)}")
        with self.lock:
            if conversation_id in self.conversations:
                raise ValueError(f"conversation {conversation_id} already seeded")
            now = self.clock.now()
            start = now - queue_wait_s
            message_id = self.new_id()
            queue_id = "queue-email-support"
            customer = _participant(
                self.new_id(),
                "customer",
                start,
                connectedTime=iso_time(start),
                name=customer_name or None,
                address=customer_email,
                attributes={str(k): str(v) for k, v in (attributes or {}).items()},
                emails=[
                    {
                        "id": self.new_id(),
                        "state": "connected",
                        "direction": "inbound",
                        "subject": subject,
                        "connectedTime": iso_time(start),
                        "messagesSent": 1,
                    }
                ],
            )
            acd = _participant(
                self.new_id(),
                "acd",
                start,
                connectedTime=iso_time(start),
                name="Email Support",
                queueId=queue_id,
                emails=[{"id": self.new_id(), "state": "connected", "connectedTime": iso_time(start)}],
            )
            message = {
                "id": message_id,
                "from": {"email": customer_email, "name": customer_name},
                "to": [{"email": inbox_address}],
                "cc": [],
                "bcc": [],
                "subject": subject,
                "textBody": text_body,
                "htmlBody": html_body,
                "time": iso_time(start),
                "attachments": [],
            }
            self.conversations[conversation_id] = EmailConversation(
                id=conversation_id,
                start_time=start,
                participants=[customer, acd],
                messages=[message],
                customer_id=customer_id,
                customer_email=customer_email,
                inbox_address=inbox_address,
                queue_id=queue_id,
                customer_action=customer_action,
                answer_after_s=answer_after_s,
                agent_delay_s=agent_delay_s,
            )
            return message_id

    def email_started_event(self, conversation_id: str) -> dict[str, Any]:
        with self.lock:
            conversation = self._conversation(conversation_id)
            customer = conversation.email_customer()
            message = conversation.messages[0]
            return self._event(
                CUSTOMER_START,
                conversation,
                {
                    "participantId": customer["id"],
                    "sessionId": customer["emails"][0]["id"],
                    "mediaType": "EMAIL",
                    "direction": "INBOUND",
                    "subject": message["subject"],
                    "addressFrom": conversation.customer_email,
                    "addressTo": conversation.inbox_address,
                    "queueId": conversation.queue_id,
                    "messageId": message["id"],
                },
                at=conversation.start_time,
            )

    def open_manual_chat(self, conversation_id: str) -> list[dict[str, Any]]:
        """The customer starts a chat by hand from the web portal: a second, customer-initiated chat leg."""
        with self.lock:
            conversation = self._conversation(conversation_id)
            now = self.clock.now()
            session_id = self.new_id()
            participant = _participant(
                self.new_id(),
                "customer",
                now,
                connectedTime=iso_time(now),
                name=conversation.email_customer().get("name"),
                chats=[
                    {
                        "id": session_id,
                        "state": "connected",
                        "direction": "inbound",
                        "initiationMethod": "customer",
                        "connectedTime": iso_time(now),
                    }
                ],
            )
            conversation.participants.append(participant)
            self._session_index[session_id] = conversation.id
            conversation.answered_sessions.add(session_id)
            self._at(now + conversation.agent_delay_s, "agent_join", conversation.id, participant["id"])
            return [self._chat_event(CUSTOMER_START, conversation, participant, session_id)]

    def customer_leaves_chat(self, conversation_id: str) -> list[dict[str, Any]]:
        """The customer closes every chat leg they are connected on (ChatSession "Closed")."""
        with self.lock:
            conversation = self._conversation(conversation_id)
            events = []
            for participant, leg in conversation.customer_chat_legs():
                if leg["state"] == "connected":
                    self._end_leg(participant, leg, "client")
                    events.append(
                        self._chat_event(CUSTOMER_END, conversation, participant, leg["id"], "client")
                    )
            return events

    def answer_email(self, conversation_id: str) -> None:
        """An agent connects on the email: the queue (acd) leg ends, an agent email leg connects."""
        with self.lock:
            conversation = self._conversation(conversation_id)
            now = self.clock.now()
            for participant in conversation.participants:
                if participant["purpose"] == "acd":
                    for leg in participant["emails"]:
                        if leg["state"] not in ENDED:
                            self._end_leg(participant, leg, "transfer")
            conversation.participants.append(
                _participant(
                    self.new_id(),
                    "agent",
                    now,
                    connectedTime=iso_time(now),
                    userId=self._next_agent(),
                    queueId=conversation.queue_id,
                    emails=[{"id": self.new_id(), "state": "connected", "connectedTime": iso_time(now)}],
                )
            )

    def apply_due(self) -> list[dict[str, Any]]:
        """Apply every scheduled customer/agent action due at ``clock.now()``; return the events produced."""
        with self.lock:
            events: list[dict[str, Any]] = []
            while self._schedule and self._schedule[0].due <= self.clock.now():
                action = heapq.heappop(self._schedule)
                conversation = self.conversations.get(action.conversation_id)
                if conversation is None:
                    continue
                if action.kind == "customer_answer":
                    events += self._customer_answers(conversation, action.participant_id)
                elif action.kind == "agent_join":
                    events += self._agent_joins(conversation, action.participant_id)
            return events

    def pending_agent_assignments(self) -> int:
        """Agents still to join chats whose customer is connected (a run waits for them before it ends)."""
        with self.lock:
            return sum(1 for action in self._schedule if self._is_agent_join_for_a_connected_chat(action))

    def _is_agent_join_for_a_connected_chat(self, action: _Scheduled) -> bool:
        conversation = self.conversations.get(action.conversation_id)
        if action.kind != "agent_join" or conversation is None:
            return False
        chats = conversation.participant(action.participant_id)["chats"]
        return bool(chats) and chats[-1]["state"] == "connected"

    def next_due(self) -> float | None:
        with self.lock:
            return self._schedule[0].due if self._schedule else None

    # --- API operations (called by the HTTP layer; raise ApiError) -----------------------------------

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        with self.lock:
            return self._conversation(conversation_id).wire()

    def list_messages(self, conversation_id: str) -> dict[str, Any]:
        with self.lock:
            messages = self._conversation(conversation_id).messages
            # The listing carries summaries; the bodies come from GET .../messages/{id}.
            summaries = [{k: v for k, v in m.items() if k not in ("textBody", "htmlBody")} for m in messages]
            return {"entities": summaries, "pageSize": 25, "pageNumber": 1, "total": len(summaries)}

    def get_message(self, conversation_id: str, message_id: str) -> dict[str, Any]:
        with self.lock:
            for message in self._conversation(conversation_id).messages:
                if message["id"] == message_id:
                    return dict(message)
            raise not_found("email message")

    def initiate_chat(self, email_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The guide's initiateChat, with its failure modes reproduced on purpose."""
        with self.lock:
            conversation = self._conversation(email_id)
            if body.get("channelType", "chat") != "chat":
                raise bad_request("channelType must be chat", "invalid.value")
            body_id = body.get("conversationId")
            now = self.clock.now()
            if not body_id:
                # The guide's trap: no usable conversationId -> a new, disjointed conversation, history lost.
                return self._disjointed_chat(conversation, body, now)
            if body_id != email_id:
                raise bad_request(
                    f"The emailId in the path ({email_id}) does not match the conversationId in the body.",
                    "invalid.value",
                )
            # No check for an active chat, on purpose: the guide says a second leg is created (duplicates);
            # the workflow's collision check and lock are what must prevent it.
            participant, session_id = self._initiated_chat_participant(
                body, now, name=conversation.email_customer().get("name")
            )
            conversation.participants.append(participant)
            self._session_index[session_id] = conversation.id
            return _initiated_answer(session_id, conversation.id, participant["id"])

    def push_notification(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        recipient = payload.get("recipient")
        message = payload.get("message")
        if (
            not isinstance(recipient, Mapping)
            or recipient.get("type") != "customer"
            or not recipient.get("id")
        ):
            raise bad_request("recipient must be {type: customer, id}", "invalid.value")
        if not isinstance(message, Mapping) or not message.get("actionUrl"):
            raise bad_request("message.actionUrl is required", "invalid.value")
        with self.lock:
            now = self.clock.now()
            notification_id = self.new_id()
            session_id = str(message["actionUrl"]).rstrip("/").rsplit("/", 1)[-1]
            conversation_id = payload.get("conversationId") or self._session_index.get(session_id)
            self.notifications.append(
                {
                    "id": notification_id,
                    "conversationId": conversation_id,
                    "sessionId": session_id,
                    "recipient": dict(recipient),
                    "message": dict(message),
                    "at": now,
                }
            )
            conversation = self.conversations.get(str(conversation_id)) if conversation_id else None
            if conversation is not None:
                self._customer_sees_push(conversation, session_id, now)
            return {"id": notification_id}

    def patch_attributes(self, conversation_id: str, participant_id: str, body: Any) -> None:
        with self.lock:
            participant = self._conversation(conversation_id).participant(participant_id)
            attributes = body.get("attributes") if isinstance(body, Mapping) else None
            if not isinstance(attributes, Mapping):
                raise bad_request("body must be {attributes: {...}}")
            wrong = sorted(str(k) for k, v in attributes.items() if not isinstance(v, str))
            if wrong:
                raise bad_request(f"attribute values must be strings: {', '.join(wrong)}", "invalid.value")
            participant["attributes"].update(attributes)

    def disconnect_participant(self, conversation_id: str, participant_id: str, body: Any) -> None:
        with self.lock:
            participant = self._conversation(conversation_id).participant(participant_id)
            if not isinstance(body, Mapping) or body.get("state") != "disconnected":
                raise bad_request("only {state: disconnected} is supported", "invalid.value")
            live = [leg for key in MEDIA_LISTS for leg in participant[key] if leg["state"] not in ENDED]
            if not live:
                # Assumption: Genesys refuses to disconnect an ended participant with a 400.
                raise bad_request("The participant is already disconnected.")
            for leg in live:
                self._end_leg(participant, leg, "system")

    def agentless_email(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping) or body.get("senderType") != "Outbound":
            raise bad_request("senderType must be Outbound", "invalid.value")
        to = body.get("toAddresses")
        if not isinstance(to, list) or not to:
            raise bad_request("toAddresses is required", "invalid.value")
        if not body.get("fromAddress") or not body.get("subject"):
            raise bad_request("fromAddress and subject are required", "invalid.value")
        with self.lock:
            conversation_id = body.get("conversationId")
            conversation = self._conversation(str(conversation_id)) if conversation_id else None
            now = self.clock.now()
            message_id = self.new_id()
            sent = {
                "id": message_id,
                "conversationId": conversation_id,
                "from": body.get("fromAddress"),
                "to": list(to),
                "replyTo": body.get("replyToAddress"),
                "subject": body.get("subject"),
                "textBody": body.get("textBody", ""),
                "htmlBody": body.get("htmlBody", ""),
                "time": iso_time(now),
                "at": now,
            }
            self.emails_sent.append(sent)
            if conversation is not None:
                conversation.messages.append(
                    {k: v for k, v in sent.items() if k not in ("at", "conversationId")}
                )
            return {"id": message_id, "conversationId": conversation_id or self.new_id()}

    def create_callback(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, Mapping) or not body.get("queueId"):
            raise bad_request("queueId is required", "invalid.value")
        numbers = body.get("callbackNumbers")
        if not isinstance(numbers, list) or not numbers:
            raise bad_request("callbackNumbers is required", "invalid.value")
        with self.lock:
            callback_conversation_id = self.new_id()
            self.callbacks.append(
                {
                    "conversationId": callback_conversation_id,
                    "queueId": body["queueId"],
                    "callbackNumbers": list(numbers),
                    "callbackUserName": body.get("callbackUserName"),
                    "data": dict(body.get("data") or {}),
                    "at": self.clock.now(),
                }
            )
            return {
                "conversation": {
                    "id": callback_conversation_id,
                    "selfUri": f"/api/v2/conversations/{callback_conversation_id}",
                },
                "callbackIdentifiers": [{"type": "EXTERNAL", "id": self.new_id()}],
            }

    # --- inspection ---------------------------------------------------------------------------------

    def chat_legs(self, conversation_id: str) -> list[dict[str, Any]]:
        with self.lock:
            conversation = self._conversation(conversation_id)
            return [
                {
                    "participant_id": participant["id"],
                    "session_id": leg["id"],
                    "state": leg["state"],
                    "initiation_method": leg.get("initiationMethod"),
                    "connected_time": leg.get("connectedTime"),
                    "disconnect_type": leg.get("disconnectType"),
                    "external_conversation_id": leg.get("externalConversationId"),
                }
                for participant, leg in conversation.customer_chat_legs()
            ]

    def participant_attributes(self, conversation_id: str, participant_id: str) -> dict[str, str]:
        with self.lock:
            return dict(self._conversation(conversation_id).participant(participant_id)["attributes"])

    # --- internals (lock held) ----------------------------------------------------------------------

    def _conversation(self, conversation_id: str) -> EmailConversation:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            raise not_found("conversation")
        return conversation

    def _at(self, due: float, kind: str, conversation_id: str, participant_id: str) -> None:
        self._seq += 1
        heapq.heappush(self._schedule, _Scheduled(due, self._seq, kind, conversation_id, participant_id))

    def _next_agent(self) -> str:
        self._agents += 1
        return f"agent-{self._agents:04d}"

    def _customer_sees_push(self, conversation: EmailConversation, session_id: str, now: float) -> None:
        """Start the customer's behaviour for the leg the deep link points at (once per leg)."""
        target = None
        for participant, leg in conversation.customer_chat_legs():
            if leg["id"] == session_id or (target is None and leg["state"] == "alerting"):
                target = (participant, leg)
                if leg["id"] == session_id:
                    break
        if target is None or conversation.customer_action == "ignore":
            return
        participant, leg = target
        if leg["id"] in conversation.answered_sessions:
            return
        conversation.answered_sessions.add(leg["id"])
        self._at(now + conversation.answer_after_s, "customer_answer", conversation.id, participant["id"])

    def _customer_answers(self, conversation: EmailConversation, participant_id: str) -> list[dict[str, Any]]:
        participant = conversation.participant(participant_id)
        leg = participant["chats"][-1]
        if leg["state"] != "alerting":  # cleaned up (or ended) before the customer answered
            return []
        now = self.clock.now()
        if conversation.customer_action == "accept":
            leg["state"] = "connected"
            leg["connectedTime"] = participant["connectedTime"] = iso_time(now)
            self._at(now + conversation.agent_delay_s, "agent_join", conversation.id, participant_id)
            return [self._chat_event(CUSTOMER_START, conversation, participant, leg["id"])]
        # Declined: the customer ends a leg that never connected (no connectedTime), disconnectType client.
        self._end_leg(participant, leg, "client")
        return [self._chat_event(CUSTOMER_END, conversation, participant, leg["id"], "client")]

    def _agent_joins(
        self, conversation: EmailConversation, customer_participant_id: str
    ) -> list[dict[str, Any]]:
        customer = conversation.participant(customer_participant_id)
        customer_leg = customer["chats"][-1]
        if customer_leg["state"] != "connected":  # the customer left before an agent was assigned
            return []
        now = self.clock.now()
        user_id = customer_leg.get("agentId") or self._next_agent()
        session_id = self.new_id()
        agent = _participant(
            self.new_id(),
            "agent",
            now,
            connectedTime=iso_time(now),
            userId=user_id,
            queueId=conversation.queue_id,
            chats=[{"id": session_id, "state": "connected", "connectedTime": iso_time(now)}],
        )
        conversation.participants.append(agent)
        event = self._chat_event(USER_START, conversation, agent, session_id)
        event["detail"]["eventBody"]["userId"] = user_id
        return [event]

    def _end_leg(self, participant: dict[str, Any], leg: dict[str, Any], disconnect_type: str) -> None:
        now = iso_time(self.clock.now())
        leg["state"] = "disconnected"
        leg["disconnectType"] = disconnect_type
        leg["disconnectedTime"] = now
        if all(entry["state"] in ENDED for key in MEDIA_LISTS for entry in participant[key]):
            participant["endTime"] = now

    def _disjointed_chat(
        self, source: EmailConversation, body: Mapping[str, Any], now: float
    ) -> dict[str, Any]:
        conversation_id = self.new_id()
        participant, session_id = self._initiated_chat_participant(body, now)
        self.conversations[conversation_id] = EmailConversation(
            id=conversation_id,
            start_time=now,
            participants=[participant],
            messages=[],  # history lost: that is the trap
            customer_id=source.customer_id,
            customer_email=source.customer_email,
            inbox_address=source.inbox_address,
            queue_id=source.queue_id,
            customer_action=source.customer_action,
            answer_after_s=source.answer_after_s,
            agent_delay_s=source.agent_delay_s,
            disjointed=True,
        )
        self._session_index[session_id] = conversation_id
        self.disjointed.append(conversation_id)
        return _initiated_answer(session_id, conversation_id, participant["id"])

    def _initiated_chat_participant(
        self, body: Mapping[str, Any], now: float, **fields: Any
    ) -> tuple[dict[str, Any], str]:
        """The customer participant an initiateChat adds: one outbound chat leg, alerting until answered."""
        session_id = self.new_id()
        chat = {
            "id": session_id,
            "state": "alerting",
            "direction": "outbound",
            "initiationMethod": str(body.get("initiationMethod") or "workflow"),
            "externalConversationId": body.get("externalConversationId"),
            "agentId": body.get("agentId"),
        }
        return _participant(self.new_id(), "customer", now, chats=[chat], **fields), session_id

    def _chat_event(
        self,
        suffix: str,
        conversation: EmailConversation,
        participant: dict[str, Any],
        session_id: str,
        disconnect_type: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "participantId": participant["id"],
            "sessionId": session_id,
            "mediaType": "CHAT",
            "direction": "OUTBOUND" if participant["purpose"] == "customer" else "INBOUND",
            "queueId": conversation.queue_id,
        }
        if disconnect_type is not None:
            body["disconnectType"] = disconnect_type
        return self._event(suffix, conversation, body)

    def _event(
        self, suffix: str, conversation: EmailConversation, body: dict[str, Any], at: float | None = None
    ) -> dict[str, Any]:
        return eventbridge_envelope(
            org_id=self.org_id,
            topic_suffix=suffix,
            conversation_id=conversation.id,
            event_body=body,
            now=self.clock.now() if at is None else at,
            event_id=self.new_id(),
            correlation_id=self.new_id(),
        )


def _initiated_answer(session_id: str, conversation_id: str, participant_id: str) -> dict[str, Any]:
    """initiateChat's 201 body."""
    return {
        "id": session_id,
        "conversationId": conversation_id,
        "participantId": participant_id,
        "channelType": "chat",
        "state": "alerting",
        "selfUri": f"/api/v2/conversations/chats/{session_id}",
    }
