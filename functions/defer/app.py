"""Lambda handler: Defer state. The logic lives in ``email2chat.workflow.defer``."""

from __future__ import annotations

from typing import Any

from email2chat import observability
from email2chat.runtime import get_runtime
from email2chat.workflow.defer import defer


@observability.new_invocation
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return defer(event, get_runtime())
