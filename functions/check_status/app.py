"""Lambda handler: CheckStatus state. The logic lives in ``email2chat.workflow.check_status``."""

from __future__ import annotations

from typing import Any

from email2chat import observability
from email2chat.runtime import get_runtime
from email2chat.workflow.check_status import check_status


@observability.new_invocation
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return check_status(event, get_runtime())
