"""Lambda handler: Intake (SQS batch, partial failures); logic in ``email2chat.workflow.intake``."""

from __future__ import annotations

from typing import Any

from email2chat import observability
from email2chat.runtime import get_runtime
from email2chat.workflow.intake import handle_batch


@observability.new_invocation
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, get_runtime())
