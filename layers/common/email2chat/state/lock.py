"""Session lock per conversation: one upgrade at a time, so a conversation never gets two chat legs.

Guide, edge case 1 (session collision): reading the conversation is not enough when two upgrades (or an
upgrade and a manual chat) race; the conditional put below is the serialisation point.

Round trips: ``acquire`` 1 (PutItem; a refusal carries the holder back, no extra read),
``release`` 1 (conditional DeleteItem), ``holder`` 1 (GetItem).
"""

from __future__ import annotations

from email2chat.errors import LockHeld
from email2chat.state.table import ConditionNotMet, StateTable

_SK = "LOCK"
# Keep an expired lock item a little while after its lease: handy when reading a trace of a stuck workflow.
_TTL_SLACK_S = 3600


def lock_key(conversation_id: str) -> str:
    return f"LOCK#{conversation_id}"


class SessionLock:
    """A lease-based lock item per conversation, owned by one execution.

    ``lease_s`` should outlast the longest workflow path (await answer + cleanup) so it is never taken over
    from a live execution; the lease exists for executions that died without reaching their release.
    """

    def __init__(self, table: StateTable, *, lease_s: int) -> None:
        if lease_s < 1:
            raise ValueError("lease_s must be >= 1")
        self._table = table
        self.lease_s = lease_s

    def acquire(self, conversation_id: str, owner: str) -> None:
        """Take the lock, re-take it (same owner: the lease is extended), or take over an expired lease.

        Raises ``LockHeld`` (with ``holder``) when another owner holds a live lease.
        """
        if not owner:
            raise ValueError("owner must be a non-empty execution id")
        now = self._table.now()
        lease_until = now + self.lease_s
        try:
            self._table.put(
                {
                    "pk": lock_key(conversation_id),
                    "sk": _SK,
                    "owner": owner,
                    "acquired_at": now,
                    "lease_until": lease_until,
                    "expires_at": self._table.expires_after(self.lease_s + _TTL_SLACK_S, now=now),
                },
                condition="attribute_not_exists(pk) OR #owner = :owner OR lease_until <= :now",
                names={"#owner": "owner"},
                values_for_condition={":owner": owner, ":now": now},
            )
        except ConditionNotMet as lost:
            holder = str(lost.current["owner"]) if lost.current and "owner" in lost.current else None
            raise LockHeld(
                f"conversation {conversation_id} is locked by another execution", holder=holder
            ) from None

    def release(self, conversation_id: str, owner: str) -> bool:
        """Delete the lock if ``owner`` holds it. False when it does not (already released, or taken over
        after its lease ran out): releasing twice is harmless, so every workflow path may call it."""
        try:
            self._table.delete(
                lock_key(conversation_id),
                _SK,
                condition="#owner = :owner",
                names={"#owner": "owner"},
                values={":owner": owner},
            )
        except ConditionNotMet:
            return False
        return True

    def holder(self, conversation_id: str) -> str | None:
        """The owner of a live lease, or None (no lock, or its lease has run out)."""
        item = self._table.get(lock_key(conversation_id), _SK)
        if item is None or float(item.get("lease_until", 0)) <= self._table.now():
            return None
        return str(item["owner"])
