"""The one DynamoDB table that holds all workflow state: ``pk``/``sk`` strings, TTL attribute ``expires_at``.

Item kinds (``pk`` / ``sk``):

=================================  ===========  ==============================================
``LOCK#<conversation id>``         ``LOCK``     session lock (owner, lease)
``BREAKER#<name>``                 ``STATE``    circuit breaker (state, failure window, probe)
``LIMITER#<name>``                 ``BUCKET``   token bucket (tokens, waiters, 429 ceiling)
``COOLDOWN#<customer key hash>``   ``COOLDOWN`` customer prompted recently
``OUTCOME#<email id>``             ``OUTCOME``  latest outcome of an email (+ short history)
``INTAKE#<idempotency key>``       ``INTAKE``   intake message already turned into an execution
=================================  ===========  ==============================================

Every item carries ``expires_at`` (epoch seconds). DynamoDB deletes expired items lazily (up to days later),
so every condition that depends on time compares its own timestamps, never the mere presence of an item.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from email2chat.clock import Clock
from email2chat.state.codec import decode_item, encode, encode_item

TTL_ATTRIBUTE = "expires_at"
_DAY_S = 86_400


class ConditionNotMet(Exception):  # internal control flow: never leaves this package
    """A conditional write lost. ``current`` is the item as it was, when DynamoDB returned it."""

    def __init__(self, current: dict[str, Any] | None) -> None:
        super().__init__("conditional check failed")
        self.current = current


def _is_condition_failure(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) == "ConditionalCheckFailedException"


class StateTable:
    """Thin, typed access to the state table through a low-level boto3 DynamoDB *client*.

    Reads are strongly consistent: every decision here (lock owner, probe holder, tokens) must see the
    latest write, and the items are tiny, so the doubled read cost does not matter.
    """

    def __init__(self, table_name: str, *, dynamodb_client: Any, clock: Clock, ttl_days: int = 30) -> None:
        if ttl_days < 1:
            raise ValueError("ttl_days must be >= 1")
        self.name = table_name
        self.client = dynamodb_client
        self.clock = clock
        self.ttl_days = ttl_days

    # --- time -----------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def expires_after(self, seconds: float, *, now: float | None = None) -> int:
        """TTL value ``seconds`` from now (rounded up, so an item never expires before its lease)."""
        start = self.now() if now is None else now
        return math.ceil(start + max(0.0, seconds))

    def record_expiry(self, *, now: float | None = None) -> int:
        """TTL of long-lived records (outcomes, idempotency, breaker and bucket state)."""
        return self.expires_after(self.ttl_days * _DAY_S, now=now)

    # --- items ----------------------------------------------------------------------------------

    @staticmethod
    def key(pk: str, sk: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """One strongly consistent GetItem; ``None`` when absent."""
        answer = self.client.get_item(TableName=self.name, Key=self.key(pk, sk), ConsistentRead=True)
        item = answer.get("Item")
        return decode_item(item) if item else None

    def put(
        self,
        values: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values_for_condition: Mapping[str, Any] | None = None,
    ) -> None:
        """PutItem of a whole item (``values`` must hold ``pk`` and ``sk``); raises ``ConditionNotMet``
        carrying the current item when the condition fails (one round trip either way)."""
        request: dict[str, Any] = {"TableName": self.name, "Item": encode_item(values)}
        self._add_condition(request, condition, names, values_for_condition)
        try:
            self.client.put_item(**request)
        except ClientError as exc:
            raise self._translate(exc) from exc

    def update(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        condition: str | None = None,
        return_values: str = "ALL_NEW",
    ) -> dict[str, Any]:
        """UpdateItem; returns the decoded attributes DynamoDB sends back (``ALL_NEW`` by default)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": self.key(pk, sk),
            "UpdateExpression": expression,
            "ReturnValues": return_values,
        }
        self._add_condition(request, condition, names, values)
        try:
            answer = self.client.update_item(**request)
        except ClientError as exc:
            raise self._translate(exc) from exc
        return decode_item(answer.get("Attributes") or {})

    def delete(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        request: dict[str, Any] = {"TableName": self.name, "Key": self.key(pk, sk)}
        self._add_condition(request, condition, names, values)
        try:
            self.client.delete_item(**request)
        except ClientError as exc:
            raise self._translate(exc) from exc

    def scan_prefix(self, pk_prefix: str, *, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every item whose ``pk`` starts with ``pk_prefix``, following pagination (local runner, tests)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "FilterExpression": "begins_with(pk, :prefix)",
            "ExpressionAttributeValues": {":prefix": {"S": pk_prefix}},
            "ConsistentRead": True,
        }
        if page_size is not None:
            request["Limit"] = page_size
        while True:
            answer = self.client.scan(**request)
            for item in answer.get("Items", ()):
                yield decode_item(item)
            last = answer.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    @staticmethod
    def _add_condition(
        request: dict[str, Any],
        condition: str | None,
        names: Mapping[str, str] | None,
        values: Mapping[str, Any] | None,
    ) -> None:
        if condition:
            request["ConditionExpression"] = condition
            # Saves a second round trip to learn who holds a lock or probe (DynamoDB, June 2023+).
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if values:
            request["ExpressionAttributeValues"] = {k: encode(v) for k, v in values.items()}

    @staticmethod
    def _translate(exc: ClientError) -> Exception:
        if not _is_condition_failure(exc):
            unchanged: Exception = exc  # throttling, validation...: the caller's retry policy decides
            return unchanged
        old: dict[str, Any] | None = exc.response.get("Item")
        return ConditionNotMet(decode_item(old) if old else None)

    # --- provisioning (tests and the local runner; template.yaml defines the real table) ---------

    @staticmethod
    def create_table(dynamodb_client: Any, table_name: str) -> None:
        """Create the table in the template's shape: pk S / sk S, PAY_PER_REQUEST, TTL on ``expires_at``."""
        dynamodb_client.create_table(
            TableName=table_name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb_client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )

    @classmethod
    def create_for_tests(
        cls, dynamodb_client: Any, clock: Clock, *, table_name: str = "email2chat-state", ttl_days: int = 30
    ) -> StateTable:
        """Create the table (inside ``moto.mock_aws``) and return a ``StateTable`` on it."""
        cls.create_table(dynamodb_client, table_name)
        return cls(table_name, dynamodb_client=dynamodb_client, clock=clock, ttl_days=ttl_days)
