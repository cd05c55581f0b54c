"""Lambda handler: Notify state. The logic lives in ``email2chat.workflow.notify``."""

from __future__ import annotations

from typing import Any

from email2chat import observability
from email2chat.runtime import get_runtime
from email2chat.workflow.notify import notify


@observability.new_invocation
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return notify(event, get_runtime())
