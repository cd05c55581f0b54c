"""Lambda handler: Fallback state. The logic lives in ``email2chat.workflow.fallback``."""

from __future__ import annotations

from typing import Any

from email2chat import observability
from email2chat.runtime import get_runtime
from email2chat.workflow.fallback import fallback


@observability.new_invocation
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return fallback(event, get_runtime())
