"""Lambda handler: an upgrade execution stopped outside the workflow (EventBridge, aws.states).
The logic lives in ``email2chat.workflow.execution_ended``."""

from __future__ import annotations

from typing import Any

from email2chat import observability
from email2chat.runtime import get_runtime
from email2chat.workflow.execution_ended import settle_stopped_execution


@observability.new_invocation
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return settle_stopped_execution(event, get_runtime())
