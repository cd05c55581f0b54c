"""Defer: Genesys cannot take the upgrade now (breaker open, limiter backlog, retries spent), or cannot
deliver the push (503s or 429s after Notify's retries: the next attempt resumes the chat leg and pushes
again).

The email is not lost: it goes back on the intake queue with a delay and the next attempt number (a new
execution ``<email-key>-<attempt>``). Only an email still blocked after ``defer_retry_window_s``, or one
whose initiate failed for good (``$.give_up``, a non-retryable error), keeps ``deferred`` as its final
outcome; then a chat leg this email's upgrade opened (a 201 whose later steps kept failing) is closed, as
nobody was notified of it (guide, section 4: orphaned sessions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from email2chat import observability
from email2chat.errors import GENESYS_UNAVAILABLE, ConfigError, GenesysError, NotFound
from email2chat.workflow.case import UpgradeCase, case_of, push_failed
from email2chat.workflow.collision import close_own_leg
from email2chat.workflow.intake_messages import deferred_message

if TYPE_CHECKING:
    from email2chat.runtime import Runtime

DEFERRED = "deferred"


def defer(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    case = case_of(event)
    observability.correlate(
        email_id=case.email_id, conversation_id=case.conversation_id, execution=case.execution
    )
    settings = runtime.settings
    now = runtime.clock.now()
    why = _why(event)
    elapsed = now - (case.decided_at or case.received_at)  # since the upgrade was decided (a re-check: later)
    give_up = event.get("give_up")
    if isinstance(give_up, Mapping):
        reason = f"{give_up.get('reason', 'initiate failed for good')} ({_error_name(event)})"
        return _final(reason, case, runtime)
    if elapsed + settings.defer_delay_s > settings.defer_retry_window_s:
        return _final(
            f"{why}; still blocked after the {settings.defer_retry_window_s} s retry window", case, runtime
        )
    if not settings.intake_queue_url:
        raise ConfigError("INTAKE_QUEUE_URL is not set")
    next_case = case.next_attempt()
    delay = runtime.sqs_delay_seconds(settings.defer_delay_s)
    runtime.sqs.send_message(
        QueueUrl=settings.intake_queue_url, MessageBody=deferred_message(next_case), DelaySeconds=delay
    )
    observability.emit(observability.DEFERRAL, 1, "Count")
    return {
        "outcome": DEFERRED,
        "final": False,
        "reason": f"{why}; re-queued as attempt {next_case.attempt}",
        "next_execution": next_case.execution,
        "retry_at": now + settings.defer_delay_s,
    }


def _final(reason: str, case: UpgradeCase, runtime: Runtime) -> dict[str, Any]:
    try:
        if _close_own_chat_leg(case, runtime):
            reason += "; the chat leg it opened was closed"
    except GENESYS_UNAVAILABLE:
        raise  # transient: the state machine retries Defer, and a retried final deferral closes the leg
    except GenesysError as error:  # refused for good: still the email's final outcome; say what is unknown
        reason += f"; its chat leg could not be checked or closed ({type(error).__name__})"
    return {"outcome": DEFERRED, "final": True, "reason": reason}


def _close_own_chat_leg(case: UpgradeCase, runtime: Runtime) -> bool:
    try:
        conversation = runtime.genesys.get_conversation(case.conversation_id)
    except NotFound:
        return False  # the conversation is gone, and any leg with it
    return close_own_leg(case, conversation, runtime)


def _error_name(event: Mapping[str, Any]) -> str:
    error = event.get("error")
    return str(error.get("Error", "unknown error")) if isinstance(error, Mapping) else "unknown error"


def _why(event: Mapping[str, Any]) -> str:
    error = event.get("error")
    if isinstance(error, Mapping) and error.get("Error"):
        step = "push notification" if push_failed(event) else "initiate"
        return f"{step} blocked ({error['Error']})"
    initiate = event.get("initiate")
    if isinstance(initiate, Mapping) and initiate.get("reason"):
        return str(initiate["reason"])
    return "upgrade blocked"
