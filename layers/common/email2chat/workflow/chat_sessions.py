"""DynamoDB items of one chat leg's life: the session, the waiting task token, the last status event.

They live in the state table beside the lock, breaker and bucket items (own ``pk`` prefixes, same TTL
attribute ``expires_at``). The status event and the task token meet here, whichever comes first:
``AwaitAnswer`` stores the token and then looks for a status already seen; ``status_events`` stores the
status and then looks for a token. With strongly consistent reads at least one side sees the other, so
an event that beats the token (the race) still ends the wait at once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from email2chat.state.table import ConditionNotMet, StateTable

_SESSION_SK = "session"
_WAITER_SK = "waiter"


@dataclass(frozen=True)
class ChatSessionRecord:
    conversation_id: str
    participant_id: str
    session_id: str
    execution: str
    initiated_at: float
    email_key: str = ""  # the email whose upgrade created the leg (a later attempt may resume it)


@dataclass(frozen=True)
class Waiter:
    conversation_id: str
    participant_id: str
    execution: str
    task_token: str


@dataclass(frozen=True)
class StatusSeen:
    conversation_id: str
    participant_id: str
    kind: str  # "joined" | "left" (customer.start / customer.end of a CHAT leg)
    at: float
    joined_at: float | None = None  # a "joined" seen for this leg, whatever came after it (or before)


class ChatSessionStore:
    """The chat items, through the same ``StateTable`` as the lock, breaker and cooldown."""

    def __init__(self, table: StateTable) -> None:
        self._table = table

    # --- the chat session (for the agent-assignment latency) ----------------------------------------

    def record_session(self, record: ChatSessionRecord) -> None:
        self._put(
            f"chat#{record.conversation_id}",
            _SESSION_SK,
            participant_id=record.participant_id,
            session_id=record.session_id,
            execution=record.execution,
            initiated_at=float(record.initiated_at),
            email_key=record.email_key,
        )

    def session(self, conversation_id: str) -> ChatSessionRecord | None:
        item = self._table.get(f"chat#{conversation_id}", _SESSION_SK)
        if item is None:
            return None
        return ChatSessionRecord(
            conversation_id=conversation_id,
            participant_id=str(item["participant_id"]),
            session_id=str(item["session_id"]),
            execution=str(item["execution"]),
            initiated_at=float(item["initiated_at"]),
            email_key=str(item.get("email_key", "")),
        )

    # --- the task token of AwaitAnswer ------------------------------------------------------------------

    def store_waiter(self, waiter: Waiter) -> None:
        self._put(
            f"chat#{waiter.conversation_id}",
            _WAITER_SK,
            participant_id=waiter.participant_id,
            execution=waiter.execution,
            task_token=waiter.task_token,
        )

    def waiter(self, conversation_id: str) -> Waiter | None:
        item = self._table.get(f"chat#{conversation_id}", _WAITER_SK)
        if item is None:
            return None
        return Waiter(
            conversation_id=conversation_id,
            participant_id=str(item["participant_id"]),
            execution=str(item["execution"]),
            task_token=str(item["task_token"]),
        )

    def delete_waiter(self, conversation_id: str, task_token: str) -> None:
        """Delete the token only if it is still this one (a newer execution may have stored its own)."""
        with contextlib.suppress(ConditionNotMet):
            self._table.delete(
                f"chat#{conversation_id}",
                _WAITER_SK,
                condition="task_token = :token",
                values={":token": task_token},
            )

    # --- status events seen (the race: an event before the token) ---------------------------------------

    def remember_status(self, status: StatusSeen) -> bool:
        """Keep the leg's latest status: an event redelivered late (a "joined" after the "left") does not
        replace a newer one. Keyed per participant: an old leg's event never ends a newer leg's wait.
        Returns whether this status is now the remembered one."""
        pk, sk = f"chat#{status.conversation_id}", f"status#{status.participant_id}"
        now = self._table.now()
        expires = self._table.record_expiry(now=now)
        latest = True
        try:
            self._table.update(
                pk,
                sk,
                "SET #kind = :kind, #at = :at, updated_at = :now, expires_at = :expires",
                condition="attribute_not_exists(#at) OR #at <= :at",
                names={"#at": "at", "#kind": "kind"},
                values={":kind": status.kind, ":at": float(status.at), ":now": now, ":expires": expires},
                return_values="NONE",
            )
        except ConditionNotMet:
            latest = False
        if status.kind == "joined":
            # Kept apart from the latest kind: a "left" after it must not make a customer who chatted look
            # like one who declined, and a "joined" delivered after its "left" still counts.
            self._table.update(
                pk,
                sk,
                "SET joined_at = if_not_exists(joined_at, :at),"
                " expires_at = if_not_exists(expires_at, :expires)",
                values={":at": float(status.at), ":expires": expires},
                return_values="NONE",
            )
        return latest

    def status_seen(self, conversation_id: str, participant_id: str) -> StatusSeen | None:
        item = self._table.get(f"chat#{conversation_id}", f"status#{participant_id}")
        if item is None:
            return None
        if "kind" not in item:
            return None  # only a late "joined"'s mark: no latest status written yet
        joined_at = item.get("joined_at")
        return StatusSeen(
            conversation_id=conversation_id,
            participant_id=participant_id,
            kind=str(item["kind"]),
            at=float(item["at"]),
            joined_at=None if joined_at is None else float(joined_at),
        )

    # --- initiate in flight (an ambiguous POST is resolved by reading back, never by re-POSTing) -------
    # Keyed by email, not execution: a deferred retry (a new execution) must recognise the leg too.

    def mark_initiating(self, email_key: str) -> None:
        self._put(f"initiating#{email_key}", "marker")

    def clear_initiating(self, email_key: str) -> None:
        self._table.delete(f"initiating#{email_key}", "marker")

    def was_initiating(self, email_key: str) -> bool:
        return self._table.get(f"initiating#{email_key}", "marker") is not None

    def _put(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        **attributes: Any,
    ) -> None:
        now = self._table.now()
        self._table.put(
            {
                "pk": pk,
                "sk": sk,
                "updated_at": now,
                "expires_at": self._table.record_expiry(now=now),
                **attributes,
            },
            condition=condition,
            names=names,
            values_for_condition=values,
        )
