"""Scenarios: JSON lines, one email per line, times in simulated seconds.

An email line::

    {"id", "conversation_id", "subject", "body" | "html", "customer": {"id", "email", "name"},
     "attributes": {...}, "queue_wait_minutes": 0, "customer_action": "accept" | "decline" | "ignore",
     "answer_after_s": 2, "manual_chat": false, "deliveries": 1}

Optional extras: ``send_at_s`` (when the email arrives, default 0), ``agent_delay_s`` (agent assignment
after the customer joins, default 3), ``answered_after_s`` (an agent answers the email itself, so a later
wait-trigger re-check finds it answered), ``form`` (``"event"``: the Genesys EventBridge envelope, the
default; ``"direct"``: the compact form carrying the content) and ``expect`` (the outcome the author
expects; reported, not enforced).

A malformed line, put on the intake queue verbatim: ``{"id", "raw_message": "..."}``.
Blank lines and lines starting with ``#`` are ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from email2chat.state.outcomes import Outcome

OUTCOMES = tuple(outcome.value for outcome in Outcome)
CUSTOMER_ACTIONS = ("accept", "decline", "ignore")
FORMS = ("event", "direct")
DEFAULT_SCENARIO = "default_scenario.jsonl"


class ScenarioError(ValueError):
    """A scenario line that cannot be used; the message names the line and the field."""


@dataclass(frozen=True)
class Customer:
    id: str
    email: str
    name: str = ""


@dataclass(frozen=True)
class ScenarioEmail:
    id: str
    conversation_id: str
    subject: str
    customer: Customer
    body: str = ""
    html: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    queue_wait_minutes: float = 0.0
    customer_action: str = "accept"
    answer_after_s: float = 2.0
    manual_chat: bool = False
    deliveries: int = 1
    send_at_s: float = 0.0
    agent_delay_s: float = 3.0
    answered_after_s: float | None = None
    form: str = "event"
    expect: str | None = None


@dataclass(frozen=True)
class MalformedMessage:
    id: str
    raw_message: str
    send_at_s: float = 0.0
    expect: str | None = "invalid"


ScenarioItem = ScenarioEmail | MalformedMessage


@dataclass(frozen=True)
class Scenario:
    name: str
    items: tuple[ScenarioItem, ...]

    @property
    def emails(self) -> tuple[ScenarioEmail, ...]:
        return tuple(i for i in self.items if isinstance(i, ScenarioEmail))

    @property
    def malformed(self) -> tuple[MalformedMessage, ...]:
        return tuple(i for i in self.items if isinstance(i, MalformedMessage))

    def __len__(self) -> int:
        return len(self.items)


def _field(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any) -> Any:
    value = data.get(key, default)
    if value is default:
        return value
    if kind in (float, (int, float)) and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # a 400-digit integer
            raise ScenarioError(
                f"{where}: {key!r} is too large, got a {len(str(value))}-digit number"
            ) from None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ScenarioError(f"{where}: {key!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _non_negative(data: Mapping[str, Any], key: str, where: str, default: float | None) -> Any:
    """A time, duration or wait: a finite number, 0 or more."""
    value = _field(data, key, float, where, default)
    if value is not default and not (math.isfinite(value) and value >= 0):
        raise ScenarioError(f"{where}: {key!r} must be a finite number, 0 or more, got {value!r}")
    return value


def _expect(data: Mapping[str, Any], where: str, default: str | None) -> str | None:
    value = _field(data, "expect", str, where, default)
    if value is not None and value not in OUTCOMES:
        raise ScenarioError(f"{where}: 'expect' must be one of {OUTCOMES}, got {value!r}")
    return value


def parse_item(data: Any, where: str) -> ScenarioItem:
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: a line must be a JSON object")
    item_id = data.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise ScenarioError(f"{where}: 'id' (a non-empty string) is required")
    if "raw_message" in data:
        raw = data["raw_message"]
        if not isinstance(raw, str):
            raise ScenarioError(f"{where}: 'raw_message' must be a string (sent verbatim)")
        return MalformedMessage(
            id=item_id,
            raw_message=raw,
            send_at_s=_non_negative(data, "send_at_s", where, 0.0),
            expect=_expect(data, where, "invalid"),
        )
    conversation_id = _field(data, "conversation_id", str, where, None)
    if not conversation_id:
        raise ScenarioError(f"{where}: 'conversation_id' is required")
    customer_data = data.get("customer")
    if not isinstance(customer_data, dict) or not customer_data.get("id") or not customer_data.get("email"):
        raise ScenarioError(f"{where}: 'customer' needs at least 'id' and 'email'")
    body = _field(data, "body", str, where, "")
    html = _field(data, "html", str, where, "")
    if not body and not html:
        raise ScenarioError(f"{where}: one of 'body' or 'html' is required")
    action = _field(data, "customer_action", str, where, "accept")
    if action not in CUSTOMER_ACTIONS:
        raise ScenarioError(f"{where}: 'customer_action' must be one of {CUSTOMER_ACTIONS}, got {action!r}")
    form = _field(data, "form", str, where, "event")
    if form not in FORMS:
        raise ScenarioError(f"{where}: 'form' must be one of {FORMS}, got {form!r}")
    deliveries = _field(data, "deliveries", int, where, 1)
    if deliveries < 1:
        raise ScenarioError(f"{where}: 'deliveries' must be >= 1")
    attributes = _field(data, "attributes", dict, where, {})
    return ScenarioEmail(
        id=item_id,
        conversation_id=conversation_id,
        subject=_field(data, "subject", str, where, ""),
        customer=Customer(
            id=str(customer_data["id"]),
            email=str(customer_data["email"]),
            name=str(customer_data.get("name", "")),
        ),
        body=body,
        html=html,
        attributes={str(k): str(v) for k, v in attributes.items()},
        queue_wait_minutes=_non_negative(data, "queue_wait_minutes", where, 0.0),
        customer_action=action,
        answer_after_s=_non_negative(data, "answer_after_s", where, 2.0),
        manual_chat=_field(data, "manual_chat", bool, where, False),
        deliveries=deliveries,
        send_at_s=_non_negative(data, "send_at_s", where, 0.0),
        agent_delay_s=_non_negative(data, "agent_delay_s", where, 3.0),
        answered_after_s=_non_negative(data, "answered_after_s", where, None),
        form=form,
        expect=_expect(data, where, None),
    )


def parse_lines(lines: Iterable[str], name: str = "scenario") -> Scenario:
    items: list[ScenarioItem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{name}:{number}"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{where}: not JSON ({exc.msg})") from None
        item = parse_item(data, where)
        if item.id in seen:
            raise ScenarioError(f"{where}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise ScenarioError(f"{name}: no emails")
    return Scenario(name=name, items=tuple(items))


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Load a scenario file, or the built-in default (about 50 emails covering every outcome)."""
    if path is None:
        text = resources.files("simulator.runner").joinpath(DEFAULT_SCENARIO).read_text(encoding="utf-8")
        return parse_lines(text.splitlines(), name=DEFAULT_SCENARIO)
    file = Path(path)
    return parse_lines(file.read_text(encoding="utf-8").splitlines(), name=file.name)
