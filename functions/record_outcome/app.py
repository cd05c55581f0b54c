"""Lambda handler: RecordOutcome state. The logic lives in ``email2chat.workflow.record_outcome``."""

from __future__ import annotations

from typing import Any

from email2chat import observability
from email2chat.runtime import get_runtime
from email2chat.workflow.record_outcome import record_outcome


@observability.new_invocation
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return record_outcome(event, get_runtime())
