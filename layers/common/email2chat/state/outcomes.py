"""The outcome record of each email: which of the eight outcomes, why, and when each step happened.

Latest wins (a ``deferred`` email later upgraded ends ``connected``); earlier outcomes stay in a short
``history`` on the same item. Round trips: ``record`` 1 (UpdateItem appending to the history; a second
one trims the history only when it outgrows ``MAX_HISTORY``), ``get`` 1, ``scan_all`` 1 per page.

Never put an email body or a customer address in ``reason`` or ``details``: they are stored in clear.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from email2chat.state.table import ConditionNotMet, StateTable

_SK = "OUTCOME"
_PREFIX = "OUTCOME#"
MAX_HISTORY = 10


class Outcome(StrEnum):
    NOT_URGENT = "not_urgent"
    COLLISION_SKIPPED = "collision_skipped"
    CONNECTED = "connected"
    DECLINED_FALLBACK = "declined_fallback"
    TIMEOUT_CLEANUP = "timeout_cleanup"
    DEFERRED = "deferred"
    COOLDOWN_SKIPPED = "cooldown_skipped"
    INVALID = "invalid"


def outcome_key(email_id: str) -> str:
    return f"{_PREFIX}{email_id}"


@dataclass
class OutcomeRecord:
    """One email's outcome.

    ``timings`` are epoch seconds by step name (received, decided, initiated, notified, connected,
    agent_assigned, finished, ...). ``recorded_at`` is set by ``OutcomeStore.record`` from its clock.
    ``history`` (read only) lists earlier outcomes, oldest first, as
    ``{outcome, reason, execution, recorded_at}``.
    """

    email_id: str
    outcome: Outcome
    reason: str
    conversation_id: str | None = None
    execution: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    recorded_at: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "email_id": self.email_id,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "conversation_id": self.conversation_id,
            "execution": self.execution,
            "timings": dict(self.timings),
            "details": dict(self.details),
            "recorded_at": self.recorded_at,
            "history": [dict(h) for h in self.history],
        }


class OutcomeStore:
    def __init__(self, table: StateTable) -> None:
        self._table = table

    def record(self, record: OutcomeRecord) -> OutcomeRecord:
        """Store ``record`` as the email's current outcome; returns it with ``recorded_at``, ``history``."""
        outcome = Outcome(record.outcome)  # refuses any name outside the eight
        timings = {str(k): float(v) for k, v in record.timings.items()}
        if not all(math.isfinite(v) for v in timings.values()):
            raise ValueError("timings must be finite epoch seconds")
        now = self._table.now()
        entry = {
            "outcome": outcome.value,
            "reason": record.reason,
            "execution": record.execution,
            "recorded_at": now,
        }
        stored = self._table.update(
            outcome_key(record.email_id),
            _SK,
            "SET outcome = :outcome, reason = :reason, conversation_id = :conversation,"
            " execution_name = :execution, timings = :timings, details = :details, recorded_at = :now,"
            " first_recorded_at = if_not_exists(first_recorded_at, :now), expires_at = :expires,"
            " history = list_append(if_not_exists(history, :empty), :entry)",
            values={
                ":outcome": outcome.value,
                ":reason": record.reason,
                ":conversation": record.conversation_id,
                ":execution": record.execution,
                ":timings": timings,
                # Free-form details are kept as JSON text: any shape, no DynamoDB number pitfalls.
                ":details": json.dumps(record.details, sort_keys=True, default=str),
                ":now": now,
                ":expires": self._table.record_expiry(now=now),
                ":empty": [],
                ":entry": [entry],
            },
            return_values="UPDATED_NEW",
        )
        history: list[dict[str, Any]] = list(stored.get("history") or [])
        if len(history) > MAX_HISTORY:
            self._trim(record.email_id, len(history))
            history = history[-MAX_HISTORY:]
        return OutcomeRecord(
            email_id=record.email_id,
            outcome=outcome,
            reason=record.reason,
            conversation_id=record.conversation_id,
            execution=record.execution,
            timings=timings,
            details=dict(record.details),
            recorded_at=now,
            history=history[:-1],
        )

    def _trim(self, email_id: str, length: int) -> None:
        drop = length - MAX_HISTORY
        with contextlib.suppress(ConditionNotMet):  # a concurrent record appended: the next one trims
            self._table.update(
                outcome_key(email_id),
                _SK,
                "REMOVE " + ", ".join(f"history[{i}]" for i in range(drop)),
                condition="size(history) = :length",
                values={":length": length},
                return_values="NONE",
            )

    def get(self, email_id: str) -> OutcomeRecord | None:
        item = self._table.get(outcome_key(email_id), _SK)
        return None if item is None else _from_item(item)

    def scan_all(self, *, page_size: int | None = None) -> list[OutcomeRecord]:
        """Every outcome record, oldest first (paginated Scan): for the local runner and tests."""
        records = [_from_item(item) for item in self._table.scan_prefix(_PREFIX, page_size=page_size)]
        return sorted(records, key=lambda r: (r.recorded_at or 0.0, r.email_id))


def _from_item(item: dict[str, Any]) -> OutcomeRecord:
    history = list(item.get("history") or [])
    details_text = item.get("details")
    return OutcomeRecord(
        email_id=str(item["pk"])[len(_PREFIX) :],
        outcome=Outcome(item["outcome"]),
        reason=str(item.get("reason", "")),
        conversation_id=item.get("conversation_id"),
        execution=item.get("execution_name"),
        timings={str(k): float(v) for k, v in (item.get("timings") or {}).items()},
        details=json.loads(details_text) if details_text else {},
        recorded_at=float(item["recorded_at"]) if "recorded_at" in item else None,
        history=history[:-1],  # the last entry is the current outcome itself
    )
