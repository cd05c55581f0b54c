"""Intake idempotency: a redelivered or duplicated intake message never starts a second workflow.

Round trips: ``claim`` 1 (conditional PutItem; a refusal brings the current item back), ``get`` 1.
"""

from __future__ import annotations

from email2chat.state.table import ConditionNotMet, StateTable

_SK = "INTAKE"


def intake_key(key: str) -> str:
    return f"INTAKE#{key}"


class IntakeLedger:
    def __init__(self, table: StateTable) -> None:
        self._table = table

    def claim(self, key: str, execution_name: str) -> bool:
        """Record that ``key`` (e.g. the email id) belongs to ``execution_name``.

        True when claimed now, or when it was already claimed by the same ``execution_name``: a message
        redelivered after the Lambda died between claiming and StartExecution must still start its
        workflow (StartExecution with the same name is itself idempotent). False: a duplicate.
        """
        now = self._table.now()
        try:
            self._table.put(
                {
                    "pk": intake_key(key),
                    "sk": _SK,
                    "execution_name": execution_name,
                    "claimed_at": now,
                    "expires_at": self._table.record_expiry(now=now),
                },
                condition="attribute_not_exists(pk) OR execution_name = :name",
                values_for_condition={":name": execution_name},
            )
        except ConditionNotMet:
            return False
        return True

    def get(self, key: str) -> str | None:
        """The execution name that claimed ``key``, if any."""
        item = self._table.get(intake_key(key), _SK)
        return None if item is None else str(item["execution_name"])
