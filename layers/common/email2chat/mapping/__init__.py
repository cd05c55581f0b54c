"""Email -> chat attribute mapping, checked against the JSON Schemas in ``schemas/`` (the schema registry)."""

from __future__ import annotations

from email2chat.mapping.mapper import (
    AttributeMapInvalid,
    AttributeMapper,
    MappedAttributes,
    as_attribute_text,
)
from email2chat.mapping.schema import Schema, SchemaInvalid

__all__ = [
    "AttributeMapInvalid",
    "AttributeMapper",
    "MappedAttributes",
    "Schema",
    "SchemaInvalid",
    "as_attribute_text",
]
