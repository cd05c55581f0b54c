"""Lambda handler: Genesys chat status events; logic in ``email2chat.workflow.status_events``."""

from __future__ import annotations

from typing import Any

from email2chat import observability
from email2chat.runtime import get_runtime
from email2chat.workflow.status_events import handle_status_event


@observability.new_invocation
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_status_event(event, get_runtime())
