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

from email2chat.clock import Clock

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


class ChatSessionStore:
    def __init__(self, table_name: str, *, dynamodb_client: Any, clock: Clock, ttl_days: int = 30) -> None:
        self._table = table_name
        self._ddb = dynamodb_client
        self._clock = clock
        self._ttl_s = ttl_days * 86400

    # --- the chat session (for the agent-assignment latency) ----------------------------------------

    def record_session(self, record: ChatSessionRecord) -> None:
        self._put(
            f"chat#{record.conversation_id}",
            _SESSION_SK,
            {
                "participant_id": {"S": record.participant_id},
                "session_id": {"S": record.session_id},
                "execution": {"S": record.execution},
                "initiated_at": {"N": repr(record.initiated_at)},
                "email_key": {"S": record.email_key},
            },
        )

    def session(self, conversation_id: str) -> ChatSessionRecord | None:
        item = self._get(f"chat#{conversation_id}", _SESSION_SK)
        if item is None:
            return None
        return ChatSessionRecord(
            conversation_id=conversation_id,
            participant_id=item["participant_id"]["S"],
            session_id=item["session_id"]["S"],
            execution=item["execution"]["S"],
            initiated_at=float(item["initiated_at"]["N"]),
            email_key=item.get("email_key", {}).get("S", ""),
        )

    # --- the task token of AwaitAnswer ------------------------------------------------------------------

    def store_waiter(self, waiter: Waiter) -> None:
        self._put(
            f"chat#{waiter.conversation_id}",
            _WAITER_SK,
            {
                "participant_id": {"S": waiter.participant_id},
                "execution": {"S": waiter.execution},
                "task_token": {"S": waiter.task_token},
            },
        )

    def waiter(self, conversation_id: str) -> Waiter | None:
        item = self._get(f"chat#{conversation_id}", _WAITER_SK)
        if item is None:
            return None
        return Waiter(
            conversation_id=conversation_id,
            participant_id=item["participant_id"]["S"],
            execution=item["execution"]["S"],
            task_token=item["task_token"]["S"],
        )

    def delete_waiter(self, conversation_id: str, task_token: str) -> None:
        """Delete the token only if it is still this one (a newer execution may have stored its own)."""
        with contextlib.suppress(self._ddb.exceptions.ConditionalCheckFailedException):
            self._ddb.delete_item(
                TableName=self._table,
                Key={"pk": {"S": f"chat#{conversation_id}"}, "sk": {"S": _WAITER_SK}},
                ConditionExpression="task_token = :token",
                ExpressionAttributeValues={":token": {"S": task_token}},
            )

    # --- status events seen (the race: an event before the token) ---------------------------------------

    def remember_status(self, status: StatusSeen) -> None:
        # Keyed per participant: an old leg's event can never end the wait of a newer leg.
        self._put(
            f"chat#{status.conversation_id}",
            f"status#{status.participant_id}",
            {"kind": {"S": status.kind}, "at": {"N": repr(status.at)}},
        )

    def status_seen(self, conversation_id: str, participant_id: str) -> StatusSeen | None:
        item = self._get(f"chat#{conversation_id}", f"status#{participant_id}")
        if item is None:
            return None
        return StatusSeen(
            conversation_id=conversation_id,
            participant_id=participant_id,
            kind=item["kind"]["S"],
            at=float(item["at"]["N"]),
        )

    # --- initiate in flight (an ambiguous POST is resolved by reading back, never by re-POSTing) -------
    # Keyed by email, not execution: a deferred retry (a new execution) must recognise the leg too.

    def mark_initiating(self, email_key: str) -> None:
        self._put(f"initiating#{email_key}", "marker", {})

    def clear_initiating(self, email_key: str) -> None:
        self._ddb.delete_item(
            TableName=self._table, Key={"pk": {"S": f"initiating#{email_key}"}, "sk": {"S": "marker"}}
        )

    def was_initiating(self, email_key: str) -> bool:
        return self._get(f"initiating#{email_key}", "marker") is not None

    # --- plumbing ----------------------------------------------------------------------------------------

    def _put(self, pk: str, sk: str, attributes: dict[str, Any]) -> None:
        now = self._clock.now()
        item = {
            "pk": {"S": pk},
            "sk": {"S": sk},
            "updated_at": {"N": repr(now)},
            "expires_at": {"N": str(int(now + self._ttl_s))},
            **attributes,
        }
        self._ddb.put_item(TableName=self._table, Item=item)

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        answer = self._ddb.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item
