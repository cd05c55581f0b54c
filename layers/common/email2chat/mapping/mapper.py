"""Email attributes -> chat leg attributes, by a declarative map checked against the schema registry.

Guide, step 3 trap: the chat channel's attribute schema differs from the email one, so copying attributes
as they are loses ``Account_ID`` or ``Product_Type``. Here:

- at load, the map must cover every property of the email schema, each target must be a string property
  of the chat schema, no target may be used twice (two email attributes into one chat attribute would
  lose one), and workflow-owned chat properties (``x-set-by: workflow``, e.g. ``channelType``) are never
  targets;
- at run time nothing is dropped: mapped attributes are renamed, unknown ones pass through under their own
  name (or ``email.<name>`` if that name is a chat-schema property), and are counted so the workflow can
  emit a metric. Values become strings (Genesys participant attributes are strings); schema violations are
  reported, never enforced by dropping data.

``channelType`` is not set here: the workflow moves it from ``email`` to ``chat`` after the 201.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from email2chat.mapping.schema import Schema, SchemaInvalid

_PACKAGE = "email2chat.mapping"
DEFAULT_MAP = "attribute_map.json"
MAP_SCHEMA = "schemas/attribute_map.schema.json"


class AttributeMapInvalid(SchemaInvalid):
    """The declarative map does not fit the schemas (unmapped email attribute, unknown target, ...)."""


@dataclass(frozen=True)
class MappedAttributes:
    """The chat leg's attributes, and what happened to each email attribute.

    ``mapped``: email attribute names renamed by the map. ``passed_through``: unknown email attribute
    names copied as they are (count them: the ``AttributesPassedThrough`` metric). ``renamed``: unknown
    names that collided with a chat-schema property, with the name they were stored under.
    ``violations``: schema rule breaks (path and rule only, never values): the data is still passed on.
    """

    attributes: dict[str, str]
    mapped: tuple[str, ...]
    passed_through: tuple[str, ...]
    renamed: tuple[tuple[str, str], ...] = ()
    violations: tuple[str, ...] = ()


class AttributeMapper:
    def __init__(
        self,
        mappings: Mapping[str, str],
        *,
        email_schema: Schema,
        chat_schema: Schema,
        collision_prefix: str = "email.",
        strict: bool = True,
    ) -> None:
        self._mappings = dict(mappings)
        self.email_schema = email_schema
        self.chat_schema = chat_schema
        self.collision_prefix = collision_prefix
        self._chat_properties = frozenset(chat_schema.document.get("properties") or {})
        problems = self._problems()
        unmapped = self.unmapped_email_attributes()
        if strict and unmapped:  # strict=False only lets a test list them instead of failing at load
            problems.insert(0, f"email attributes without a chat mapping: {', '.join(unmapped)}")
        if problems:
            raise AttributeMapInvalid("attribute map invalid: " + "; ".join(problems))

    # --- loading --------------------------------------------------------------------------------

    @classmethod
    def load_default(cls) -> AttributeMapper:
        """The map and schemas shipped in this package (the schema registry), validated."""
        return cls.from_documents(_read_json(DEFAULT_MAP), schema_reader=_read_json)

    @classmethod
    def from_documents(
        cls,
        attribute_map: Mapping[str, Any],
        *,
        email_schema: Mapping[str, Any] | None = None,
        chat_schema: Mapping[str, Any] | None = None,
        schema_reader: Any = None,
        strict: bool = True,
    ) -> AttributeMapper:
        """Build from parsed documents; schemas not given are read by the paths the map names."""
        map_errors = Schema(_read_json(MAP_SCHEMA), name=MAP_SCHEMA).errors(attribute_map)
        if map_errors:
            raise AttributeMapInvalid("attribute map does not fit its schema: " + "; ".join(map_errors))
        reader = schema_reader or _read_json
        email_doc = email_schema if email_schema is not None else reader(attribute_map["emailSchema"])
        chat_doc = chat_schema if chat_schema is not None else reader(attribute_map["chatSchema"])
        return cls(
            attribute_map["mappings"],
            email_schema=Schema(email_doc, name="email schema"),
            chat_schema=Schema(chat_doc, name="chat schema"),
            collision_prefix=attribute_map["unknownAttributes"]["collisionPrefix"],
            strict=strict,
        )

    def unmapped_email_attributes(self) -> list[str]:
        """Email-schema properties the map does not cover (must be empty: a test enforces it)."""
        return sorted(set(self.email_schema.document.get("properties") or {}) - set(self._mappings))

    def _problems(self) -> list[str]:
        email_properties = set(self.email_schema.document.get("properties") or {})
        chat_properties: Mapping[str, Any] = self.chat_schema.document.get("properties") or {}
        problems: list[str] = []
        seen: dict[str, str] = {}
        for source, target in sorted(self._mappings.items()):
            if source not in email_properties:
                problems.append(f"{source!r} is mapped but is not in the email schema")
            spec = chat_properties.get(target)
            if spec is None:
                problems.append(f"{source!r} -> {target!r}: no such chat-schema property")
            elif spec.get("type") != "string":
                problems.append(f"{source!r} -> {target!r}: chat attributes must be strings")
            elif spec.get("x-set-by") == "workflow":
                problems.append(f"{source!r} -> {target!r}: set by the workflow, not mappable")
            if target in seen:
                problems.append(f"{seen[target]!r} and {source!r} both map to {target!r}: one would be lost")
            seen[target] = source
        return problems

    # --- run time -------------------------------------------------------------------------------

    @property
    def mappings(self) -> Mapping[str, str]:
        return dict(self._mappings)

    def map(self, email_attributes: Mapping[str, Any]) -> MappedAttributes:
        """Chat attributes for ``email_attributes``: every input key is in the output, mapped or not."""
        attributes: dict[str, str] = {}
        mapped: list[str] = []
        unknown: list[tuple[str, str]] = []
        for key, value in email_attributes.items():
            name = str(key)
            target = self._mappings.get(name)
            if target is None:
                unknown.append((name, as_attribute_text(value)))
            else:
                attributes[target] = as_attribute_text(value)
                mapped.append(name)
        passed: list[str] = []
        renamed: list[tuple[str, str]] = []
        for name, text in unknown:
            stored_as = name
            while stored_as in attributes or stored_as in self._chat_properties:
                stored_as = self.collision_prefix + stored_as
            attributes[stored_as] = text
            passed.append(name)
            if stored_as != name:
                renamed.append((name, stored_as))
        violations = [f"email {e}" for e in self.email_schema.errors(dict(email_attributes))]
        violations += [f"chat {e}" for e in self.chat_schema.errors(attributes)]
        return MappedAttributes(
            attributes=attributes,
            mapped=tuple(mapped),
            passed_through=tuple(passed),
            renamed=tuple(renamed),
            violations=tuple(violations),
        )


def as_attribute_text(value: Any) -> str:
    """Genesys participant attributes are strings: strings stay as they are, None becomes "", numbers
    are written in plain decimal (no exponent), anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")  # 1.2e-05 -> "0.000012": matches the chat schema
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _read_json(relative_path: str) -> Any:
    with resources.files(_PACKAGE).joinpath(relative_path).open("r", encoding="utf-8") as handle:
        return json.load(handle)
