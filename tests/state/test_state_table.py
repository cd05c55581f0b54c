from __future__ import annotations

from typing import Any

import pytest
from email2chat.clock import ManualClock
from email2chat.state.codec import decode, encode
from email2chat.state.table import TTL_ATTRIBUTE, ConditionNotMet, StateTable


def test_created_table_has_the_templates_shape(dynamodb: Any, table: StateTable) -> None:
    description = dynamodb.describe_table(TableName=table.name)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in description["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": TTL_ATTRIBUTE}


@pytest.mark.parametrize(
    "value", ["text", 0, 42, -7, 1.5, 1_700_000_000.123, True, False, None, {"a": [1, "b", {"c": 2.5}]}, []]
)
def test_codec_round_trips_plain_values(value: Any) -> None:
    assert decode(encode(value)) == value


def test_codec_refuses_what_dynamodb_cannot_hold() -> None:
    with pytest.raises(ValueError, match="finite"):
        encode(float("nan"))
    with pytest.raises(TypeError):
        encode(object())


def test_failed_condition_carries_the_current_item(table: StateTable) -> None:
    table.put({"pk": "X#1", "sk": "X", "owner": "a"})
    with pytest.raises(ConditionNotMet) as lost:
        table.put({"pk": "X#1", "sk": "X", "owner": "b"}, condition="attribute_not_exists(pk)")
    assert lost.value.current is not None
    assert lost.value.current["owner"] == "a"


def test_expiry_is_rounded_up_from_the_injected_clock(table: StateTable, clock: ManualClock) -> None:
    clock.set(100.2)
    assert table.expires_after(10) == 111
    assert table.record_expiry() == 101 + 30 * 86_400


def test_scan_prefix_follows_pagination(table: StateTable) -> None:
    for i in range(7):
        table.put({"pk": f"A#{i}", "sk": "A"})
    table.put({"pk": "B#1", "sk": "B"})
    found = sorted(item["pk"] for item in table.scan_prefix("A#", page_size=2))
    assert found == [f"A#{i}" for i in range(7)]
