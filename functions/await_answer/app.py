"""Lambda handler: AwaitAnswer state (waitForTaskToken); logic in ``email2chat.workflow.await_answer``."""

from __future__ import annotations

from typing import Any

from email2chat import observability
from email2chat.runtime import get_runtime
from email2chat.workflow.await_answer import await_answer


@observability.new_invocation
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return await_answer(event, get_runtime())
