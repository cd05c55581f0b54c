"""Lambda handler: QueueLateEmail state. The logic lives in ``email2chat.workflow.late_email``."""

from __future__ import annotations

from typing import Any

from email2chat import observability
from email2chat.runtime import get_runtime
from email2chat.workflow.late_email import queue_late_email


@observability.new_invocation
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return queue_late_email(event, get_runtime())
