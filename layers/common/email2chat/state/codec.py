"""Plain Python values <-> DynamoDB attribute values, for the low-level client.

boto3's ``TypeSerializer`` insists on ``Decimal`` for numbers; this state never needs more precision than a
float, so numbers are written with ``repr`` and read back as ``int`` when they have no fraction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]


def encode(value: Any) -> AttributeValue:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):  # before int: bool is an int
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("DynamoDB numbers must be finite")
        return {"N": repr(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [encode(v) for v in value]}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB state")


def decode(attribute: Mapping[str, Any]) -> Any:
    if "S" in attribute:
        return attribute["S"]
    if "N" in attribute:
        text = str(attribute["N"])
        if any(c in text for c in ".eE"):
            return float(text)
        return int(text)
    if "BOOL" in attribute:
        return bool(attribute["BOOL"])
    if "NULL" in attribute:
        return None
    if "M" in attribute:
        return {k: decode(v) for k, v in attribute["M"].items()}
    if "L" in attribute:
        return [decode(v) for v in attribute["L"]]
    raise TypeError(f"unsupported DynamoDB attribute type: {sorted(attribute)}")


def encode_item(values: Mapping[str, Any]) -> Item:
    return {name: encode(value) for name, value in values.items()}


def decode_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: decode(value) for name, value in item.items()}
