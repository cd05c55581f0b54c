"""CollisionCheck (guide, edge case 1: session collision) and the per-customer cooldown.

Order matters: the session lock is taken FIRST and the conversation read AFTER, so two upgrades of one
conversation (or an upgrade racing a manual chat) cannot both see "no chat" and both initiate. A chat leg
already active -> ``collision_skipped`` ("Chat session already in progress"). Then the cooldown claim,
re-entered (the intake took it in arrival order; this catches a claim lost meanwhile, e.g. expired during
a long deferral): a customer prompted within the window -> ``cooldown_skipped`` (notification fatigue).
``LockHeld`` is raised for the ASL to catch: another execution is upgrading this conversation. A deferred
attempt of a wait-trigger upgrade whose email an agent has answered meanwhile ends ``not_urgent`` (its own
leg, if an earlier attempt opened one, is closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.errors import LockHeld, NotFound
from email2chat.genesys.models import Conversation, MediaEntry, Participant
from email2chat.state.cooldown import skip_reason
from email2chat.workflow.case import UpgradeCase, case_of

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

CLEAR = "clear"
COLLISION = "collision"
COOLDOWN = "cooldown"
WAIT = "wait"  # the lock is held by this email's previous attempt, or by another email while ours has a leg
ANSWERED = "answered"  # a wait-trigger upgrade, deferred, whose email an agent answered meanwhile
ANSWERED_WHILE_DEFERRED = "answered by email while the upgrade was deferred"
PREVIOUS_ATTEMPT_WAIT_S = 2.0
OTHER_UPGRADE_WAIT_S = 15.0
CHAT_ALREADY_ACTIVE = "Chat session already in progress"


def collision_check(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    case = case_of(event)
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    try:
        runtime.lock.acquire(case.conversation_id, case.execution)
    except LockHeld as held:
        if _earlier_attempt(case, held.holder):
            # A deferred attempt can start before its predecessor's RecordOutcome has released the lock:
            # wait in the workflow for that, never skip our own email. Bounded by the lock's lease.
            return {
                "status": WAIT,
                "wait_seconds": runtime.real_seconds(PREVIOUS_ATTEMPT_WAIT_S),
                "reason": f"previous attempt {held.holder} still holds the lock",
            }
        if case.attempt >= 2 and opened_a_leg(case, runtime):
            # Another email's upgrade holds the lock, but this email's earlier attempt opened a chat leg (a
            # push that failed): skipping could orphan it. Wait for the lock: if the leg is still active, the
            # other upgrade finds it and stands down; if not, it runs its course first (bounded by its
            # execution and the lock's lease).
            return {
                "status": WAIT,
                "wait_seconds": runtime.real_seconds(OTHER_UPGRADE_WAIT_S),
                "reason": f"{held.holder} holds the lock; this email's chat leg is open",
            }
        raise  # another email's upgrade: the ASL's UpgradeInProgress (collision_skipped)
    conversation = runtime.genesys.get_conversation(case.conversation_id)
    now = runtime.clock.now()
    if _answered_while_deferred(case, conversation):
        closed = close_own_leg(case, conversation, runtime)
        reason = ANSWERED_WHILE_DEFERRED + ("; the chat leg it opened was closed" if closed else "")
        observability.logger.info(
            "email answered while the upgrade was deferred", extra={"leg_closed": closed}
        )
        return {"status": ANSWERED, "reason": reason, "checked_at": now}
    active = conversation.active_chat_legs()
    if active and own_active_leg(case, conversation, runtime) is None:
        observability.logger.info("chat already active on the conversation", extra={"legs": len(active)})
        return {"status": COLLISION, "reason": CHAT_ALREADY_ACTIVE, "checked_at": now}
    if not runtime.cooldown.claim(case.customer_key, case.key):
        return {"status": COOLDOWN, "reason": skip_reason(runtime.settings.cooldown_hours), "checked_at": now}
    return {"status": CLEAR, "checked_at": now}


def own_active_leg(
    case: UpgradeCase, conversation: Conversation, runtime: Runtime
) -> tuple[Participant, MediaEntry] | None:
    """The active chat leg an earlier attempt of THIS email created, if any (not a collision: resume it).

    Known from the session record written right after the 201, or, when the 201 never arrived (a timeout),
    from the in-flight marker: then the newest active leg is taken as ours (a manual chat opened in that
    very window would be adopted too; the customer is in a chat either way, and never gets two).
    """
    active = conversation.active_chat_legs()
    if not active:
        return None
    record = runtime.sessions.session(conversation.id)
    if record is not None and record.email_key == case.key:
        for participant, leg in active:
            if participant.id == record.participant_id:
                return participant, leg
    if runtime.sessions.was_initiating(case.key):
        return active[-1]
    return None


def close_own_leg(case: UpgradeCase, conversation: Conversation, runtime: Runtime) -> bool:
    """Disconnect the active leg an earlier attempt of this email opened (nobody will be prompted on it)."""
    own = own_active_leg(case, conversation, runtime)
    if own is None:
        return False  # none opened, or it is someone else's (a manual chat is never ours to close)
    participant, _ = own
    try:
        runtime.genesys.disconnect_participant(case.conversation_id, participant.id)
    except NotFound:
        return False  # it went away between the read and the disconnect: nothing left to close
    runtime.sessions.clear_initiating(case.key)
    observability.logger.info("orphaned chat leg closed", extra={"participant_id": participant.id})
    return True


def opened_a_leg(case: UpgradeCase, runtime: Runtime) -> bool:
    """An attempt of this email created a chat leg on the conversation (active or not: unread)."""
    record = runtime.sessions.session(case.conversation_id)
    return (record is not None and record.email_key == case.key) or runtime.sessions.was_initiating(case.key)


def _answered_while_deferred(case: UpgradeCase, conversation: Conversation) -> bool:
    """The wait trigger upgrades only an email still unanswered; a deferral can last an hour, so a later
    attempt looks again (the first attempt's intake or re-check just did)."""
    if case.attempt < 2 or case.urgent_by != "wait_trigger":
        return False
    return conversation.end_time is not None or conversation.email_answered()


def _earlier_attempt(case: UpgradeCase, holder: str | None) -> bool:
    if not holder or holder == case.execution:
        return False
    key, _, attempt = holder.rpartition("-")
    return key == case.key and attempt.isdigit() and int(attempt) < case.attempt
