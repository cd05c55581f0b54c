"""The intake queue's message forms, parsed into types; anything else is ``InvalidEmailEvent`` with a reason.

1. The Genesys EventBridge envelope of ``v2.detail.events.conversation.{id}.customer.start`` with
   ``eventBody.mediaType == "EMAIL"`` (the body is NOT in the event: the intake fetches it).
2. The compact direct form ``{"email_id", "conversation_id", "subject", "body" | "html",
   "customer": {"id", "email", "name"}, "attributes": {...}, "queue_wait_minutes": 0}``.
3. Internal forms written by this workflow: the wait-trigger re-check, the deferred retry and the late
   customer email (a fallback or follow-up Genesys could not take within the workflow's retries).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from email2chat.errors import InvalidEmailEvent
from email2chat.workflow.case import UpgradeCase

RECHECK_KIND = "email2chat.recheck"
DEFERRED_KIND = "email2chat.deferred"
RETRY_KIND = "email2chat.retry"
LATE_EMAIL_KIND = "email2chat.late_email"
LATE_EMAIL_STEPS = ("fallback", "cleanup")
CUSTOMER_START_SUFFIX = ".customer.start"
MAX_ID_LENGTH = 256


@dataclass(frozen=True)
class DirectEmail:
    email_id: str
    conversation_id: str
    subject: str
    text: str
    html: str
    customer_id: str | None
    customer_email: str | None
    attributes: Mapping[str, str] = field(default_factory=dict)
    queue_wait_minutes: float = 0.0


@dataclass(frozen=True)
class GenesysEmailEvent:
    conversation_id: str
    participant_id: str | None
    message_id: str | None


RECHECK_WAIT_TRIGGER = "wait_trigger"  # a not-urgent email, when the queue-wait trigger would fire
RECHECK_COOLDOWN = "cooldown"  # an urgent email whose customer's claim an upgrade holds, not yet prompting
RECHECK_PURPOSES = (RECHECK_WAIT_TRIGGER, RECHECK_COOLDOWN)


@dataclass(frozen=True)
class RecheckRequest:
    """Look at an email again at ``due_at`` (clock time), for ``purpose``."""

    case: UpgradeCase
    due_at: float
    purpose: str = RECHECK_WAIT_TRIGGER


@dataclass(frozen=True)
class DeferredUpgrade:
    """An upgrade deferred by the workflow (breaker open, limiter backlog): start attempt ``case.attempt``."""

    case: UpgradeCase


@dataclass(frozen=True)
class LateEmail:
    """The ``step`` (fallback or cleanup) to run again on the workflow ``state`` it failed on, once Genesys
    answers; ``queued_at`` (clock time) bounds how long it keeps trying, ``attempt`` counts the tries."""

    step: str
    state: Mapping[str, Any]
    case: UpgradeCase  # read from ``state`` (refused there when unreadable, not when the step runs)
    queued_at: float
    attempt: int = 1


IntakeMessage = DirectEmail | GenesysEmailEvent | RecheckRequest | DeferredUpgrade | LateEmail


def parse_intake_message(body: str) -> IntakeMessage:
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise InvalidEmailEvent(f"message body is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, Mapping):
        raise InvalidEmailEvent(f"message body is a JSON {type(data).__name__}, expected an object")
    kind = data.get("kind")
    if kind == RECHECK_KIND:
        purpose = data.get("purpose", RECHECK_WAIT_TRIGGER)
        if purpose not in RECHECK_PURPOSES:
            known = ", ".join(RECHECK_PURPOSES)
            raise InvalidEmailEvent(f"re-check purpose {purpose!r} is not one of {known}")
        case = UpgradeCase.from_dict(_mapping(data, "case"))
        return RecheckRequest(case=case, due_at=_number(data, "due_at"), purpose=purpose)
    if kind == DEFERRED_KIND:
        return DeferredUpgrade(case=UpgradeCase.from_dict(_mapping(data, "case")))
    if kind == LATE_EMAIL_KIND:
        return _parse_late_email(data)
    if "detail-type" in data or "detail" in data:
        return _parse_genesys_event(data)
    if "email_id" in data or "conversation_id" in data:
        return _parse_direct(data)
    raise InvalidEmailEvent("unknown message form: neither a Genesys event nor a direct email")


@dataclass(frozen=True)
class MessageIds:
    """What can be read of a message we could not accept, for its ``invalid`` record."""

    email_id: str | None = None
    conversation_id: str | None = None
    continuation: bool = False  # a re-check or deferred attempt: the email's own next step, not a copy
    late_email: bool = False  # a late customer email (its email already has its outcome)


def ids_hint(body: str) -> MessageIds:
    """The email and conversation ids of a message, from any of the forms (a Genesys event's email id is its
    conversation id, as at intake), as far as they can be read."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return MessageIds()
    if not isinstance(data, Mapping):
        return MessageIds()
    if data.get("kind") in (RECHECK_KIND, DEFERRED_KIND, LATE_EMAIL_KIND):
        state = data.get("state")
        case = data.get("case") or (state.get("case") if isinstance(state, Mapping) else None)
        return MessageIds(
            _id_or_none(case, "email_id"),
            _id_or_none(case, "conversation_id"),
            continuation=True,
            late_email=data.get("kind") == LATE_EMAIL_KIND,
        )
    if "detail-type" in data or "detail" in data:
        detail = data.get("detail")
        conversation_id = _id_or_none(
            detail.get("eventBody") if isinstance(detail, Mapping) else None, "conversationId"
        )
        return MessageIds(conversation_id, conversation_id)
    return MessageIds(_id_or_none(data, "email_id"), _id_or_none(data, "conversation_id"))


def _id_or_none(data: object, key: str) -> str | None:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH else None


@dataclass(frozen=True)
class RetryWrapper:
    """A message the intake could not process because Genesys was unavailable, put back with a delay.

    Wrapping (instead of letting SQS redeliver) keeps a rate-limit storm or an outage from counting
    towards the queue's poison-message limit; ``first_seen_at`` bounds how long it keeps trying.
    """

    body: str
    retries: int = 0
    first_seen_at: float | None = None


def unwrap_retry(body: str) -> RetryWrapper:
    """The original message inside a retry wrapper (or the body itself, never retried)."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return RetryWrapper(body)
    if isinstance(data, Mapping) and data.get("kind") == RETRY_KIND and isinstance(data.get("body"), str):
        retries = data.get("retries")
        first_seen = data.get("first_seen_at")
        return RetryWrapper(
            body=data["body"],
            retries=retries if isinstance(retries, int) else 0,
            first_seen_at=float(first_seen) if isinstance(first_seen, int | float) else None,
        )
    return RetryWrapper(body)


def retry_message(wrapper: RetryWrapper) -> str:
    return json.dumps(
        {
            "kind": RETRY_KIND,
            "body": wrapper.body,
            "retries": wrapper.retries,
            "first_seen_at": wrapper.first_seen_at,
        },
        sort_keys=True,
    )


def recheck_message(case: UpgradeCase, due_at: float, purpose: str = RECHECK_WAIT_TRIGGER) -> str:
    return json.dumps(
        {"kind": RECHECK_KIND, "case": case.to_dict(), "due_at": due_at, "purpose": purpose}, sort_keys=True
    )


def deferred_message(case: UpgradeCase) -> str:
    return json.dumps({"kind": DEFERRED_KIND, "case": case.to_dict()}, sort_keys=True)


def late_email_message(late: LateEmail) -> str:
    return json.dumps(
        {
            "kind": LATE_EMAIL_KIND,
            "step": late.step,
            "state": dict(late.state),
            "queued_at": late.queued_at,
            "attempt": late.attempt,
        },
        sort_keys=True,
    )


def _parse_late_email(data: Mapping[str, Any]) -> LateEmail:
    step = data.get("step")
    if step not in LATE_EMAIL_STEPS:
        raise InvalidEmailEvent(f"late email step {step!r} is not one of {', '.join(LATE_EMAIL_STEPS)}")
    attempt = data.get("attempt", 1)
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise InvalidEmailEvent("late email 'attempt' must be an integer >= 1")
    state = _mapping(data, "state")
    if step == "cleanup":
        initiate = state.get("initiate")
        if not isinstance(initiate, Mapping) or not initiate.get("participant_id"):
            raise InvalidEmailEvent("late cleanup's state has no initiate.participant_id (the chat leg)")
    return LateEmail(
        step=str(step),
        state=state,
        case=UpgradeCase.from_dict(_mapping(state, "case")),
        queued_at=_number(data, "queued_at"),
        attempt=attempt,
    )


def _parse_genesys_event(data: Mapping[str, Any]) -> GenesysEmailEvent:
    detail_type = data.get("detail-type")
    if not isinstance(detail_type, str) or not detail_type.endswith(CUSTOMER_START_SUFFIX):
        raise InvalidEmailEvent(f"Genesys event {detail_type!r} is not a customer.start")
    detail = _mapping(data, "detail")
    body = _mapping(detail, "eventBody")
    media_type = str(body.get("mediaType", "")).upper()
    if media_type != "EMAIL":
        raise InvalidEmailEvent(f"customer.start with mediaType {media_type or 'missing'}, expected EMAIL")
    conversation_id = _identifier(body, "conversationId")
    participant_id = body.get("participantId")
    message_id = body.get("messageId")
    return GenesysEmailEvent(
        conversation_id=conversation_id,
        participant_id=str(participant_id) if participant_id else None,
        message_id=str(message_id) if message_id else None,
    )


def _parse_direct(data: Mapping[str, Any]) -> DirectEmail:
    email_id = _identifier(data, "email_id")
    conversation_id = _identifier(data, "conversation_id")
    subject = _text(data, "subject")
    text = _text(data, "body")
    html = _text(data, "html")
    if not (subject.strip() or text.strip() or html.strip()):
        raise InvalidEmailEvent("direct email has no subject, body or html")
    customer = data.get("customer")
    if not isinstance(customer, Mapping):
        raise InvalidEmailEvent("direct email has no 'customer' object")
    customer_id = customer.get("id")
    customer_email = customer.get("email")
    if not (isinstance(customer_id, str) and customer_id) and not (
        isinstance(customer_email, str) and customer_email
    ):
        raise InvalidEmailEvent("direct email's customer has neither 'id' nor 'email'")
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise InvalidEmailEvent("'attributes' must be an object")
    queue_wait = data.get("queue_wait_minutes", 0)
    if isinstance(queue_wait, bool) or not isinstance(queue_wait, int | float) or queue_wait < 0:
        raise InvalidEmailEvent("'queue_wait_minutes' must be a number >= 0")
    return DirectEmail(
        email_id=email_id,
        conversation_id=conversation_id,
        subject=subject,
        text=text,
        html=html,
        customer_id=customer_id if isinstance(customer_id, str) and customer_id else None,
        customer_email=customer_email if isinstance(customer_email, str) and customer_email else None,
        # Participant attributes are strings in Genesys; structured values are kept, JSON-encoded.
        attributes={str(k): v if isinstance(v, str) else json.dumps(v) for k, v in attributes.items()},
        queue_wait_minutes=float(queue_wait),
    )


def parse_iso_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise InvalidEmailEvent(f"'{key}' must be an object")
    return value


def _identifier(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidEmailEvent(f"'{key}' must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidEmailEvent(f"'{key}' is longer than {MAX_ID_LENGTH} characters")
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidEmailEvent(f"'{key}' must be a string")
    return value


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEmailEvent(f"'{key}' must be a number")
    return float(value)
