"""Lambda handler: CollisionCheck state. The logic lives in ``email2chat.workflow.collision``."""

from __future__ import annotations

from typing import Any

from email2chat import observability
from email2chat.runtime import get_runtime
from email2chat.workflow.collision import collision_check


@observability.new_invocation
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return collision_check(event, get_runtime())
