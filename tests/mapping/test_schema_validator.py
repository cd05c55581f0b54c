"""The registry's JSON Schema subset: what it enforces, and that it refuses what it does not support."""

from __future__ import annotations

from typing import Any

import pytest
from email2chat.mapping.schema import Schema, SchemaInvalid


@pytest.mark.parametrize(
    ("schema", "valid", "invalid"),
    [
        ({"type": "string"}, ["", "x"], [1, None, True, []]),
        ({"type": "integer"}, [0, -3, 2.0], [1.5, True, "1"]),
        ({"type": "number"}, [0, 1.5, -2], [True, "1.5", None]),
        ({"type": "boolean"}, [True, False], [0, 1, "true"]),
        ({"type": "null"}, [None], [0, ""]),
        ({"type": ["string", "integer"]}, ["a", 3], [1.5, None]),
        ({"type": "array", "items": {"type": "integer"}}, [[], [1, 2]], [[1, "2"], "12"]),
        ({"enum": ["Gold", 1]}, ["Gold", 1, 1.0], ["gold", True, 2]),
        ({"const": False}, [False], [0, None]),
        ({"type": "string", "pattern": "[0-9]{3}"}, ["abc123", "999"], ["12", "abc"]),  # unanchored
        ({"type": "string", "pattern": "^[0-9]{3}$"}, ["123"], ["1234", "x123"]),
        ({"type": "string", "minLength": 2, "maxLength": 3}, ["ab", "abc"], ["a", "abcd"]),
        ({"type": "number", "minimum": 0, "maximum": 1}, [0, 0.5, 1], [-0.1, 1.01]),
    ],
)
def test_keyword_semantics(schema: dict[str, Any], valid: list[Any], invalid: list[Any]) -> None:
    compiled = Schema(schema)
    for value in valid:
        assert compiled.errors(value) == [], value
    for value in invalid:
        assert compiled.errors(value) != [], value


def test_objects_required_and_additional_properties() -> None:
    closed = Schema(
        {
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"type": "string"}},
            "additionalProperties": False,
        }
    )
    assert closed.is_valid({"id": "a"})
    assert closed.errors({}) == ["$.id: required"]
    assert closed.errors({"id": "a", "extra": 1}) == ["$.extra: not allowed (additionalProperties is false)"]
    typed_extra = Schema({"type": "object", "additionalProperties": {"type": "string"}})
    assert typed_extra.is_valid({"a": "x"})
    assert typed_extra.errors({"a": 1}) == ["$.a: expected string"]


def test_messages_name_the_rule_never_the_value() -> None:
    schema = Schema({"type": "object", "properties": {"email": {"type": "string", "pattern": "^ok$"}}})
    errors = schema.errors({"email": "jane@example.com"})
    assert errors == ["$.email: does not match pattern ^ok$"]
    assert "jane" not in " ".join(errors)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "object", "propertyNames": {"pattern": "^x"}}, "unsupported keyword 'propertyNames'"),
        ({"oneOf": [{"type": "string"}]}, "unsupported keyword 'oneOf'"),
        ({"properties": {"a": {"format": "email"}}}, "properties.a: unsupported keyword 'format'"),
        ({"type": "text"}, "unknown type"),
        ({"pattern": "("}, "invalid pattern"),
        ({"required": "id"}, "required must be a list"),
    ],
)
def test_unsupported_or_malformed_schemas_are_refused_at_load(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaInvalid, match=message):
        Schema(schema)


def test_annotations_and_x_keys_are_accepted() -> None:
    schema = Schema(
        {"$schema": "x", "title": "t", "description": "d", "x-set-by": "workflow", "type": "string"}
    )
    assert schema.is_valid("ok")
