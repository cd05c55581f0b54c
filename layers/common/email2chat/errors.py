"""Typed errors. Their class names are the ASL error names the state machine retries and catches."""

from __future__ import annotations


class Email2ChatError(Exception):
    """Base of every error this library raises on purpose."""


# --- Genesys Cloud -------------------------------------------------------------------------------


class GenesysError(Email2ChatError):
    """An error answered by (or on the way to) the Genesys Cloud API.

    Carries the HTTP status, the Genesys error ``code`` (e.g. ``too.many.requests.retry.after``)
    and the ``ININ-Correlation-Id`` of the call, so a log line can be matched with Genesys support.
    ``message`` is ours (the endpoint and the HTTP reason); Genesys's own text is kept apart in ``detail``
    and never in ``str()``: it may echo what was sent (an address), and ``str()`` reaches logs, the
    execution history and DLQs.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        correlation_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.correlation_id = correlation_id
        self.detail = detail

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.correlation_id:
            parts.append(f"correlation_id={self.correlation_id}")
        return " ".join(parts)


class RateLimited(GenesysError):
    """HTTP 429: wait ``retry_after`` seconds (from the ``Retry-After`` header) before trying again."""

    def __init__(self, message: str, *, retry_after: float, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class BadRequest(GenesysError):
    """HTTP 400 (``bad.request`` / ``invalid.value``)."""


class Unauthorized(GenesysError):
    """HTTP 401, or the token endpoint refused the client credentials."""


class Forbidden(GenesysError):
    """HTTP 403 (``missing.permissions``): the OAuth client's role lacks a permission."""


class NotFound(GenesysError):
    """HTTP 404."""


class Conflict(GenesysError):
    """HTTP 409. Genesys documents no canonical 409 code; ``conflict`` is our assumption."""


class ServerError(GenesysError):
    """HTTP 5xx: counts as a failure for the circuit breaker."""


class Timeout(GenesysError):
    """No answer within the read timeout, or the connection could not be made: counts for the breaker."""


class OutcomeUnknown(GenesysError):
    """A call that is not idempotent failed in a way that may have taken effect (HTTP 500, 502, 504):
    repeating it could act twice, so the workflow goes on as if it had (the push: wait for the customer)."""


class MalformedResponse(GenesysError):
    """Genesys answered 2xx with a body that is not the JSON we expect."""


# Genesys may answer later: retried by the client (GETs), re-queued by the intake, retried by the ASL.
GENESYS_UNAVAILABLE = (RateLimited, ServerError, Timeout, MalformedResponse)


def describe_error(error: BaseException) -> str:
    """An error as a record, a log line or a DLQ attribute may carry it. A Genesys error by its class, HTTP
    status and code only: its message is Genesys's text, which may echo what was sent (an address)."""
    if isinstance(error, GenesysError):
        parts = [
            f"status={error.status}" if error.status is not None else "",
            f"code={error.code}" if error.code else "",
        ]
        details = " ".join(p for p in parts if p)
        return f"{type(error).__name__} ({details})" if details else type(error).__name__
    return f"{type(error).__name__}: {error}"


class RequestGuardError(Email2ChatError, ValueError):
    """The client refused to send a request that would cause one of the guide's traps."""


class ConversationIdMismatch(RequestGuardError):
    """initiateChat: the path email id and the body ``conversationId`` differ (Genesys answers 400)."""


class MissingConversationId(RequestGuardError):
    """initiateChat without a ``conversationId`` creates a disjointed conversation: history is lost."""


# --- Domain --------------------------------------------------------------------------------------


class ConfigError(Email2ChatError):
    """An environment variable is missing or invalid; raised once at cold start."""


class ModelArtifactError(Email2ChatError):
    """The urgency model artifact is missing, unreadable or of an unknown format."""


class InvalidEmailEvent(Email2ChatError):
    """The intake message is not an email event we understand. The reason names what is wrong."""


class BreakerOpen(Email2ChatError):
    """The fleet-wide circuit breaker for initiateChat is open (or another probe holds half-open).

    ``retry_after`` is the number of seconds until a probe may be tried, when known.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CollisionDetected(Email2ChatError):
    """A chat leg is already active on the conversation: "Chat session already in progress"."""


class LockHeld(Email2ChatError):
    """Another execution holds the session lock of this conversation; ``holder`` is its owner."""

    def __init__(self, message: str, *, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class CooldownActive(Email2ChatError):
    """The customer was prompted within the cooldown window (notification fatigue)."""


class ThrottledByLimiter(Email2ChatError):
    """The fleet-wide token bucket cannot admit a request now; ``wait_seconds`` until it can."""

    def __init__(self, message: str, *, wait_seconds: float) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds
