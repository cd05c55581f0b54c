"""The upgrade case: what the intake decided about one email, carried through the state machine.

The execution input is ``{"case": UpgradeCase.to_dict()}``; every step adds its own result beside it
(``$.collision``, ``$.initiate``, ``$.notify``, ``$.answer``, ``$.check``, ``$.final``). The case holds ids,
hashes and the decision, never the email body or the customer's address (execution history is not a
place for personal data).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from email2chat.errors import InvalidEmailEvent

# Step Functions execution names: at most 80 characters of [A-Za-z0-9-_].
_NAME_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def email_key(email_id: str) -> str:
    """A stable, execution-name-safe key for an email id (hashed when long or with other characters)."""
    if _NAME_SAFE.match(email_id):
        return email_id
    digest = hashlib.sha256(email_id.encode("utf-8")).hexdigest()[:16]
    readable = _UNSAFE_CHARS.sub("_", email_id)[:40]
    return f"{readable}-{digest}"


NOTIFY_FAILED = "notify_failed"  # $.check.status written by the ASL's NotifyFailed / NotifyUnavailable


def push_failed(event: Mapping[str, Any]) -> bool:
    """The push never went out (Notify failed after its retries): the customer was not prompted."""
    check = event.get("check")
    return isinstance(check, Mapping) and check.get("status") == NOTIFY_FAILED


def execution_name(key: str, attempt: int) -> str:
    """``<email-key>-<attempt>``: a redelivered message maps to the same name, so it cannot start twice."""
    return f"{key}-{attempt}"


@dataclass(frozen=True)
class UpgradeCase:
    email_id: str
    conversation_id: str
    customer_id: str  # the push recipient id (an id, not an address)
    customer_key: str  # salted hash of the customer id/address: the cooldown key
    attempt: int = 1
    received_at: float = 0.0  # clock time of the first intake of this email
    decided_at: float = 0.0  # when the upgrade was decided: intake, or the wait trigger's re-check
    score: float | None = None
    urgent_by: str = "score"  # "score" | "wait_trigger"
    attributes: Mapping[str, str] = field(default_factory=dict)  # email attributes carried by the message
    source: str = "direct"  # "direct" | "genesys_event"

    @property
    def key(self) -> str:
        return email_key(self.email_id)

    @property
    def execution(self) -> str:
        return execution_name(self.key, self.attempt)

    def next_attempt(self) -> UpgradeCase:
        return replace(self, attempt=self.attempt + 1)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["attributes"] = dict(self.attributes)
        data["email_key"] = self.key
        data["execution"] = self.execution
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UpgradeCase:
        try:
            return cls(
                email_id=str(data["email_id"]),
                conversation_id=str(data["conversation_id"]),
                customer_id=str(data["customer_id"]),
                customer_key=str(data["customer_key"]),
                attempt=int(data.get("attempt", 1)),
                received_at=float(data.get("received_at", 0.0)),
                decided_at=float(data.get("decided_at", 0.0)),
                score=None if data.get("score") is None else float(data["score"]),
                urgent_by=str(data.get("urgent_by", "score")),
                attributes={str(k): str(v) for k, v in (data.get("attributes") or {}).items()},
                source=str(data.get("source", "direct")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidEmailEvent(f"malformed upgrade case: {exc!r}") from exc


def case_of(event: Mapping[str, Any]) -> UpgradeCase:
    """The case of a state document (every Task gets the whole state as its payload)."""
    raw = event.get("case")
    if not isinstance(raw, Mapping):
        raise InvalidEmailEvent("the state has no 'case'")
    return UpgradeCase.from_dict(raw)
