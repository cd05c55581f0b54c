"""CollisionCheck (guide, edge case 1: session collision) and the per-customer cooldown.

Order matters: the session lock is taken FIRST and the conversation read AFTER, so two upgrades of one
conversation (or an upgrade racing a manual chat) cannot both see "no chat" and both initiate. A chat leg
already active -> ``collision_skipped`` ("Chat session already in progress"). Then the cooldown claim:
a customer prompted within the window (24 h by default) -> ``cooldown_skipped`` (notification fatigue).
``LockHeld`` is raised for the ASL to catch: another execution is upgrading this conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.workflow.case import case_of

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

CLEAR = "clear"
COLLISION = "collision"
COOLDOWN = "cooldown"
CHAT_ALREADY_ACTIVE = "Chat session already in progress"


def collision_check(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    case = case_of(event)
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    runtime.lock.acquire(case.conversation_id, case.execution)  # LockHeld -> the ASL's UpgradeInProgress
    conversation = runtime.genesys.get_conversation(case.conversation_id)
    now = runtime.clock.now()
    active = conversation.active_chat_legs()
    if active:
        observability.logger.info("chat already active on the conversation", extra={"legs": len(active)})
        return {"status": COLLISION, "reason": CHAT_ALREADY_ACTIVE, "checked_at": now}
    if not runtime.cooldown.claim(case.customer_key, case.key):
        hours = runtime.settings.cooldown_hours
        return {
            "status": COOLDOWN,
            "reason": f"customer already prompted within the last {hours:g} hours",
            "checked_at": now,
        }
    return {"status": CLEAR, "checked_at": now}
