"""A small, strict JSON Schema validator for the subset the schema registry uses.

Why not ``jsonschema``: it is not a runtime dependency, and it would add import time to every cold start
for six keywords. Honesty rule: a schema using any keyword outside the subset is refused when loaded, so
nobody believes a constraint is enforced when it is not. Keys starting with ``x-`` are annotations.

Supported: ``type`` (string, number, integer, boolean, object, array, null, or a list of them),
``properties``, ``required``, ``additionalProperties`` (bool or schema), ``items``, ``pattern`` (unanchored,
as in JSON Schema), ``enum``, ``const``, ``minLength``, ``maxLength``, ``minimum``, ``maximum``; annotations
``$schema``, ``$id``, ``$comment``, ``title``, ``description``, ``default``, ``examples``.

Error messages name the path and the rule, never the value: attribute values may be personal data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from email2chat.errors import ConfigError

ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "default", "examples"})
ASSERTIONS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "pattern",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
    }
)
TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})


class SchemaInvalid(ConfigError):
    """A schema (or the attribute map) in the registry is malformed or uses an unsupported keyword."""


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "object":
        return isinstance(value, Mapping)
    if name == "array":
        return isinstance(value, list | tuple)
    if isinstance(value, bool):  # bool is an int in Python, never a number in JSON
        return False
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, int | float)  # "number"


class Schema:
    """A checked, compiled schema. ``errors(instance)`` lists every violation (empty when valid)."""

    def __init__(self, document: Mapping[str, Any], *, name: str = "schema") -> None:
        self.name = name
        self.document = document
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._check(document, name)

    # --- loading --------------------------------------------------------------------------------

    def _check(self, node: Any, where: str) -> None:
        if not isinstance(node, Mapping):
            raise SchemaInvalid(f"{where}: a schema must be an object")
        for keyword in node:
            if keyword not in ASSERTIONS and keyword not in ANNOTATIONS and not str(keyword).startswith("x-"):
                raise SchemaInvalid(
                    f"{where}: unsupported keyword {keyword!r} (see email2chat.mapping.schema)"
                )
        types = node.get("type")
        if types is not None:
            listed = [types] if isinstance(types, str) else list(types)
            if not listed or any(t not in TYPES for t in listed):
                raise SchemaInvalid(f"{where}: unknown type {types!r}")
        if "pattern" in node:
            try:
                self._patterns[node["pattern"]] = re.compile(node["pattern"])
            except (re.error, TypeError) as exc:
                raise SchemaInvalid(f"{where}: invalid pattern ({exc})") from None
        if "enum" in node and not isinstance(node["enum"], list):
            raise SchemaInvalid(f"{where}: enum must be a list")
        if "required" in node and not (
            isinstance(node["required"], list) and all(isinstance(r, str) for r in node["required"])
        ):
            raise SchemaInvalid(f"{where}: required must be a list of names")
        for prop, sub in (node.get("properties") or {}).items():
            self._check(sub, f"{where}.properties.{prop}")
        extra = node.get("additionalProperties")
        if extra is not None and not isinstance(extra, bool):
            self._check(extra, f"{where}.additionalProperties")
        if "items" in node:
            self._check(node["items"], f"{where}.items")

    # --- validation -----------------------------------------------------------------------------

    def errors(self, instance: Any) -> list[str]:
        found: list[str] = []
        self._validate(self.document, instance, "$", found)
        return found

    def is_valid(self, instance: Any) -> bool:
        return not self.errors(instance)

    def _validate(self, node: Mapping[str, Any], value: Any, path: str, found: list[str]) -> None:
        types = node.get("type")
        if types is not None:
            listed = [types] if isinstance(types, str) else list(types)
            if not any(_is_type(value, t) for t in listed):
                found.append(f"{path}: expected {' or '.join(listed)}")
                return  # the other keywords would only repeat the same problem
        if "enum" in node and not any(_same(value, option) for option in node["enum"]):
            found.append(f"{path}: not one of the allowed values")
        if "const" in node and not _same(value, node["const"]):
            found.append(f"{path}: not the required constant")
        if isinstance(value, str):
            if "pattern" in node and not self._patterns[node["pattern"]].search(value):
                found.append(f"{path}: does not match pattern {node['pattern']}")
            if "minLength" in node and len(value) < node["minLength"]:
                found.append(f"{path}: shorter than {node['minLength']} characters")
            if "maxLength" in node and len(value) > node["maxLength"]:
                found.append(f"{path}: longer than {node['maxLength']} characters")
        if _is_type(value, "number"):
            if "minimum" in node and value < node["minimum"]:
                found.append(f"{path}: below the minimum {node['minimum']}")
            if "maximum" in node and value > node["maximum"]:
                found.append(f"{path}: above the maximum {node['maximum']}")
        if isinstance(value, Mapping):
            self._validate_object(node, value, path, found)
        if isinstance(value, list | tuple) and "items" in node:
            for index, item in enumerate(value):
                self._validate(node["items"], item, f"{path}[{index}]", found)

    def _validate_object(
        self, node: Mapping[str, Any], value: Mapping[str, Any], path: str, found: list[str]
    ) -> None:
        properties: Mapping[str, Any] = node.get("properties") or {}
        for name in node.get("required") or ():
            if name not in value:
                found.append(f"{path}.{name}: required")
        extra = node.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                self._validate(properties[name], item, f"{path}.{name}", found)
            elif extra is False:
                found.append(f"{path}.{name}: not allowed (additionalProperties is false)")
            elif isinstance(extra, Mapping):
                self._validate(extra, item, f"{path}.{name}", found)


def _same(value: Any, option: Any) -> bool:
    # JSON equality: true is not 1, 1 is 1.0.
    if isinstance(value, bool) or isinstance(option, bool):
        return isinstance(value, bool) and isinstance(option, bool) and value == option
    return bool(value == option)
