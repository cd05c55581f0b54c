"""AwaitAnswer (guide, section 4: do not ignore the user's response): park the execution on a task token.

The state is a ``lambda:invoke.waitForTaskToken`` Task with a 5-minute ``TimeoutSeconds``. This step stores
the token under the conversation; ``status_events`` completes it when Genesys reports that the customer
joined, declined or left. If that event already arrived (it can beat the token), the wait ends at once.
A timeout is caught by the ASL and goes to CheckStatus as well: the read there is authoritative.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.errors import InvalidEmailEvent
from email2chat.workflow.case import case_of
from email2chat.workflow.chat_sessions import Waiter
from email2chat.workflow.task_tokens import complete_wait

if TYPE_CHECKING:
    from email2chat.runtime import Runtime


def await_answer(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    case = case_of(event)
    token = event.get("task_token")
    if not isinstance(token, str) or not token:
        raise InvalidEmailEvent("AwaitAnswer needs the task token ($$.Task.Token)")
    participant_id = str(event["initiate"]["participant_id"])
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    runtime.sessions.store_waiter(
        Waiter(
            conversation_id=case.conversation_id,
            participant_id=participant_id,
            execution=case.execution,
            task_token=token,
        )
    )
    seen = runtime.sessions.status_seen(case.conversation_id, participant_id)
    if seen is not None:
        # The customer answered before the token was stored: end the wait now.
        complete_wait(runtime, token, {"event": seen.kind, "at": seen.at, "source": "remembered"})
        runtime.sessions.delete_waiter(case.conversation_id, token)
        return {"waiting": False, "completed_with": seen.kind}
    return {"waiting": True}
