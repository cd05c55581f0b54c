"""Completing a parked AwaitAnswer. Late and duplicate completions are expected, not errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from email2chat import observability

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

# The token was already used, the wait timed out, or the execution ended: the event came too late.
STALE_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist", "ExecutionDoesNotExist"})


def complete_wait(runtime: Runtime, task_token: str, output: Mapping[str, Any]) -> bool:
    """SendTaskSuccess; False when the token is no longer valid (the wait already ended)."""
    try:
        runtime.sfn.send_task_success(taskToken=task_token, output=json.dumps(dict(output), sort_keys=True))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in STALE_TOKEN_ERRORS:
            observability.logger.info("status event arrived after the wait ended", extra={"error": code})
            return False
        raise
    return True
