"""Initiate: the attribute mapping, the circuit breaker, the fleet rate limiter, then initiateChat.

Guide, section 2 and its traps: the email id in the path equals the ``conversationId`` in the body
(the client refuses otherwise) and ``initiationMethod`` is ``workflow``. Section 3: the attribute map runs
first so no email attribute is lost on the chat leg; after the 201 the chat participant's ``channelType``
moves from ``email`` to ``chat``.

Results (``$.initiate``): ``initiated`` (session id, participant id), ``throttled`` (the limiter cannot admit
now: ``wait_seconds`` of REAL time for the ASL Wait state, then Initiate again), ``defer`` (throttled for
longer than ``throttle_max_wait_s``), ``collision`` (a chat appeared since CollisionCheck).
Errors for the ASL: ``BreakerOpen`` (defer), ``RateLimited`` (retry after 10 s; the limiter is fed so a
longer ``Retry-After`` is honoured), ``ServerError`` / ``Timeout`` (counted by the breaker).

An ambiguous failure (a timeout or a garbled 200: the POST may have landed) is never followed by a blind
re-POST: the next attempt reads the conversation first and adopts the leg it finds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.errors import GenesysError, MalformedResponse, RateLimited, ServerError, Timeout
from email2chat.genesys.models import Conversation, InitiateChatRequest
from email2chat.workflow.case import UpgradeCase, case_of
from email2chat.workflow.chat_sessions import ChatSessionRecord
from email2chat.workflow.collision import CHAT_ALREADY_ACTIVE, own_active_leg

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

INITIATED = "initiated"
THROTTLED = "throttled"
DEFER = "defer"
COLLISION = "collision"
CHANNEL_ATTRIBUTE = "channelType"


def initiate(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    case = case_of(event)
    previous = event.get("initiate") if isinstance(event.get("initiate"), Mapping) else {}
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    genesys = runtime.genesys
    conversation = genesys.get_conversation(case.conversation_id)

    if conversation.active_chat_legs():
        own = own_active_leg(case, conversation, runtime)
        if own is None:
            return {"status": COLLISION, "reason": f"{CHAT_ALREADY_ACTIVE} (opened during the upgrade)"}
        # An earlier attempt's POST landed (a timeout hid the 201, or a later step failed): resume that leg,
        # never create a second one.
        participant, leg = own
        attributes = _map_attributes(case, conversation, runtime)
        genesys.patch_participant_attributes(
            case.conversation_id, participant.id, {**attributes, CHANNEL_ATTRIBUTE: "chat"}
        )
        return _initiated(case, conversation, participant.id, leg.id, runtime, adopted=True)

    mapped_attributes = _map_attributes(case, conversation, runtime)
    permit = runtime.breaker.before_call(case.execution)  # BreakerOpen -> the ASL defers the email
    wait_s = runtime.limiter.try_acquire(case.execution)
    now = runtime.clock.now()
    if wait_s > 0:
        since = float(previous.get("throttled_since") or now) if previous else now
        if now - since >= runtime.settings.throttle_max_wait_s:
            return {"status": DEFER, "reason": f"rate limiter backlog for {now - since:.0f} s"}
        return {
            "status": THROTTLED,
            "wait_seconds": runtime.real_seconds(wait_s),
            "throttled_since": since,
        }

    runtime.sessions.mark_initiating(case.key)
    request = InitiateChatRequest(
        email_id=case.conversation_id,
        conversation_id=case.conversation_id,
        external_conversation_id=case.execution,  # correlates the chat with this workflow in external logs
    )
    try:
        session = genesys.initiate_chat(request)
    except RateLimited as exc:
        # A 429 feeds the limiter (not the breaker); the POST did not land.
        runtime.sessions.clear_initiating(case.key)
        runtime.limiter.record_rate_limited(exc.retry_after)
        observability.emit(observability.RATE_LIMITED_429, 1, "Count")
        raise
    except ServerError:
        runtime.sessions.clear_initiating(case.key)
        runtime.breaker.record_failure(permit)
        raise
    except (Timeout, MalformedResponse):
        # The POST may have landed (no answer, or a garbled 200): the marker stays, and the next attempt
        # reads the conversation back first and adopts the leg it finds.
        runtime.breaker.record_failure(permit)
        raise
    except GenesysError:
        # Refused for good (4xx): no leg was created, and Genesys answered (a half-open probe is done).
        # The marker goes, or a final deferral could take a manual chat opened meanwhile for ours.
        runtime.sessions.clear_initiating(case.key)
        runtime.breaker.record_success(permit)
        raise
    _record_session(
        case, conversation.id, session.participant_id, session.id, runtime
    )  # before anything fails
    runtime.breaker.record_success(permit)
    runtime.limiter.record_success()
    genesys.patch_participant_attributes(
        case.conversation_id, session.participant_id, {**mapped_attributes, CHANNEL_ATTRIBUTE: "chat"}
    )
    return _initiated(case, conversation, session.participant_id, session.id, runtime, adopted=False)


def _map_attributes(case: UpgradeCase, conversation: Conversation, runtime: Runtime) -> dict[str, str]:
    """Every email attribute, mapped to its chat name; unknown ones pass through (and are counted)."""
    customer = conversation.customer()
    email_attributes: dict[str, str] = dict(customer.attributes) if customer else {}
    email_attributes.update(case.attributes)  # the message's own attributes win over stale ones
    email_attributes.pop(CHANNEL_ATTRIBUTE, None)
    mapped = runtime.mapper.map(email_attributes)
    if mapped.passed_through:
        observability.emit(observability.ATTRIBUTES_PASSED_THROUGH, len(mapped.passed_through), "Count")
    return dict(mapped.attributes)


def _record_session(
    case: UpgradeCase, conversation_id: str, participant_id: str, session_id: str, runtime: Runtime
) -> float:
    now = runtime.clock.now()
    runtime.sessions.record_session(
        ChatSessionRecord(
            conversation_id=conversation_id,
            participant_id=participant_id,
            session_id=session_id,
            execution=case.execution,
            initiated_at=now,
            email_key=case.key,
        )
    )
    return now


def _initiated(
    case: UpgradeCase,
    conversation: Conversation,
    participant_id: str,
    session_id: str,
    runtime: Runtime,
    *,
    adopted: bool,
) -> dict[str, Any]:
    existing = runtime.sessions.session(conversation.id)
    if existing is not None and existing.participant_id == participant_id and existing.email_key == case.key:
        initiated_at = existing.initiated_at  # keep the first 201's time: the latency metric measures from it
    else:
        initiated_at = _record_session(case, conversation.id, participant_id, session_id, runtime)
    runtime.sessions.clear_initiating(case.key)
    observability.logger.info(
        "chat leg initiated", extra={"participant_id": participant_id, "adopted": adopted}
    )
    return {
        "status": INITIATED,
        "session_id": session_id,
        "participant_id": participant_id,
        "initiated_at": initiated_at,
        "adopted": adopted,
    }
