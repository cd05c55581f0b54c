"""The requests-based adapter of ``GenesysPort``: OAuth, one session, timeouts, typed errors, bounded retries.

Retry policy (one, owned here, unlike the SDK's silent urllib3 retries): GETs are retried a bounded number of
times on 429 (honouring ``Retry-After``), 5xx, timeouts and a 200 whose body is not the JSON expected (a
garbled answer, as a proxy can send). A 4xx from the token endpoint (credentials or grant refused) is
``Unauthorized``: a deployment problem, never an email's fault. POSTs and PATCHes are never retried blindly:
the workflow decides, after reading state back. The one exception is a 401, after which any call is sent once
more with a fresh token (a 401 means Genesys did not act on the request).
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import requests

from email2chat.clock import Clock, SystemClock
from email2chat.config import Settings
from email2chat.errors import (
    GENESYS_UNAVAILABLE,
    BadRequest,
    ConfigError,
    Conflict,
    ConversationIdMismatch,
    Forbidden,
    GenesysError,
    MalformedResponse,
    MissingConversationId,
    NotFound,
    RateLimited,
    RequestGuardError,
    ServerError,
    Timeout,
    Unauthorized,
)
from email2chat.genesys.auth import (
    ClientCredentials,
    CredentialsSource,
    SecretsManagerCredentials,
    TokenCache,
    resolve_credentials,
    token_cache_for,
)
from email2chat.genesys.models import (
    AgentlessEmail,
    CallbackRequest,
    ChatSession,
    Conversation,
    EmailMessage,
    InitiateChatRequest,
    PushNotification,
    RateLimitInfo,
)
from email2chat.genesys.port import RateLimitObserver

__all__ = ["ClientCredentials", "GenesysClient", "SecretsManagerCredentials"]

logger = logging.getLogger(__name__)

CORRELATION_HEADER = "ININ-Correlation-Id"
_STATUS_ERRORS: dict[int, type[GenesysError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}
_RETRY_SECONDS_IN_MESSAGE = re.compile(r"\[(\d+(?:\.\d+)?)\]")
_ENDED_STATES = frozenset({"disconnected", "terminated"})
# Backoff for GET retries after a 5xx or a timeout (no Retry-After to honour): 0.5 s, 1 s, 2 s, ...
_BACKOFF_BASE_S = 0.5

T = TypeVar("T")


class GenesysClient:
    """Genesys Cloud Platform API over HTTPS (or the local emulator over HTTP). Implements ``GenesysPort``.

    Parameters
    ----------
    api_base, login_base:
        e.g. ``https://api.mypurecloud.ie`` and ``https://login.mypurecloud.ie``;
        both the emulator's URL locally.
    credentials:
        The credentials, or a callable returning them (read lazily, once: Secrets Manager in Lambda).
    max_retry_wait_s:
        A GET whose ``Retry-After`` exceeds this raises ``RateLimited`` at once instead of waiting.
    sleep:
        How the client waits between GET retries; tests and scaled local time inject their own.
    rate_limit_observer:
        Called with the ``inin-ratelimit-*`` headers of every response (the fleet rate limiter).
    """

    def __init__(
        self,
        api_base: str,
        login_base: str,
        credentials: CredentialsSource,
        *,
        session: requests.Session | None = None,
        clock: Clock | None = None,
        connect_timeout_s: float = 3.05,
        read_timeout_s: float = 10.0,
        get_retries: int = 2,
        max_retry_wait_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        rate_limit_observer: RateLimitObserver | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.login_base = login_base.rstrip("/")
        self._credentials_source = credentials
        self._credentials: ClientCredentials | None = None
        self._session = session or requests.Session()
        self._clock: Clock = clock or SystemClock()
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._get_retries = max(0, get_retries)
        self._max_retry_wait_s = max_retry_wait_s
        self._sleep = sleep
        self._rate_limit_observer = rate_limit_observer
        self._last_rate_limit: RateLimitInfo | None = None

    def __repr__(self) -> str:
        return f"GenesysClient(api_base={self.api_base!r}, login_base={self.login_base!r})"

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        secrets_client: Any | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rate_limit_observer: RateLimitObserver | None = None,
    ) -> GenesysClient:
        """Build the client from validated settings (the composition root of each handler calls this).

        Credentials: the Secrets Manager secret ``GENESYS_SECRET_ARN`` (Lambda), else
        ``GENESYS_CLIENT_ID`` / ``GENESYS_CLIENT_SECRET`` (local work), else ``ConfigError``.
        """
        credentials: CredentialsSource
        if settings.genesys_secret_arn:
            credentials = SecretsManagerCredentials(settings.genesys_secret_arn, secrets_client)
        elif settings.genesys_client_id and settings.genesys_client_secret:
            credentials = ClientCredentials(settings.genesys_client_id, settings.genesys_client_secret)
        else:
            raise ConfigError(
                "Genesys credentials missing: set GENESYS_SECRET_ARN (Lambda) "
                "or GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET (local)"
            )
        return cls(
            settings.genesys_api_base(),
            settings.genesys_login_base(),
            credentials,
            clock=clock,
            connect_timeout_s=settings.genesys_connect_timeout_s,
            read_timeout_s=settings.genesys_read_timeout_s,
            get_retries=settings.genesys_get_retries,
            sleep=sleep,
            rate_limit_observer=rate_limit_observer,
        )

    # --- GenesysPort ------------------------------------------------------------------------------

    @property
    def last_rate_limit(self) -> RateLimitInfo | None:
        return self._last_rate_limit

    def get_conversation(self, conversation_id: str) -> Conversation:
        data = self._call("GET", f"/api/v2/conversations/{_seg(conversation_id)}", "get_conversation")
        return _parse(Conversation.from_api, data, "conversation")

    def list_email_messages(self, conversation_id: str) -> list[EmailMessage]:
        path = f"/api/v2/conversations/emails/{_seg(conversation_id)}/messages"
        data = self._call("GET", path, "list_messages")
        entities = data.get("entities") if isinstance(data, dict) else None
        if not isinstance(entities, list):
            raise MalformedResponse("email message listing without an entities list", status=200)
        messages = [_parse(EmailMessage.from_api, entity, "email message") for entity in entities]
        return sorted(messages, key=lambda m: m.time or "")

    def get_email_message(self, conversation_id: str, message_id: str) -> EmailMessage:
        path = f"/api/v2/conversations/emails/{_seg(conversation_id)}/messages/{_seg(message_id)}"
        data = self._call("GET", path, "get_message")
        return _parse(EmailMessage.from_api, data, "email message")

    def initiate_chat(self, request: InitiateChatRequest) -> ChatSession:
        # The guide's two traps, refused before anything is sent: without a conversationId Genesys creates a
        # new, disjointed conversation (history lost); a path/body mismatch is a 400 at best.
        if not (request.conversation_id or "").strip():
            raise MissingConversationId("initiateChat refused: the body has no conversationId")
        if not (request.email_id or "").strip():
            raise MissingConversationId("initiateChat refused: no email id for the path")
        if request.email_id != request.conversation_id:
            raise ConversationIdMismatch(
                f"initiateChat refused: path email id {request.email_id} != body conversationId "
                f"{request.conversation_id}"
            )
        path = f"/api/v2/conversations/emails/{_seg(request.email_id)}/initiateChat"
        data = self._call("POST", path, "initiate_chat", body=request.body())
        return _parse(ChatSession.from_api, data, "chat session")

    def send_push_notification(self, notification: PushNotification) -> str:
        data = self._call(
            "POST", "/api/v2/notifications/push", "push_notification", body=notification.payload()
        )
        return _require_id(data, "push notification")

    def patch_participant_attributes(
        self, conversation_id: str, participant_id: str, attributes: Mapping[str, str]
    ) -> None:
        # Genesys stores attributes as strings; a number or null would be rejected (or silently lost).
        not_strings = sorted(
            k for k, v in attributes.items() if not isinstance(k, str) or not isinstance(v, str)
        )
        if not_strings:
            raise RequestGuardError(
                f"participant attributes must be strings: {', '.join(map(str, not_strings))}"
            )
        path = f"/api/v2/conversations/{_seg(conversation_id)}/participants/{_seg(participant_id)}/attributes"
        self._call("PATCH", path, "patch_attributes", body={"attributes": dict(attributes)})

    def disconnect_participant(self, conversation_id: str, participant_id: str) -> None:
        path = f"/api/v2/conversations/{_seg(conversation_id)}/participants/{_seg(participant_id)}"
        try:
            self._call("PATCH", path, "disconnect_participant", body={"state": "disconnected"})
        except (BadRequest, Conflict) as refused:
            # Already disconnected counts as done: Genesys refuses to disconnect an ended leg, so read the
            # conversation back and accept the refusal only if every leg of that participant has ended.
            if not self._participant_has_ended(conversation_id, participant_id):
                raise
            logger.info(
                "genesys participant already disconnected",
                extra={
                    "conversation_id": conversation_id,
                    "participant_id": participant_id,
                    "correlation_id": refused.correlation_id,
                },
            )

    def send_agentless_email(self, email: AgentlessEmail) -> str:
        data = self._call(
            "POST", "/api/v2/conversations/emails/agentless", "agentless_email", body=email.payload()
        )
        return _require_id(data, "agentless email")

    def create_callback(self, callback: CallbackRequest) -> str:
        data = self._call("POST", "/api/v2/conversations/callbacks", "callback", body=callback.payload())
        conversation = data.get("conversation") if isinstance(data, dict) else None
        if isinstance(conversation, dict) and conversation.get("id"):
            return str(conversation["id"])
        return _require_id(data, "callback")

    # --- plumbing ---------------------------------------------------------------------------------

    def _participant_has_ended(self, conversation_id: str, participant_id: str) -> bool:
        conversation = self.get_conversation(conversation_id)
        for participant in conversation.participants:
            if participant.id == participant_id:
                return bool(participant.media) and all(m.state in _ENDED_STATES for m in participant.media)
        return False

    def _credentials_now(self) -> ClientCredentials:
        if self._credentials is None:
            self._credentials = resolve_credentials(self._credentials_source)
        return self._credentials

    def _token_cache(self) -> TokenCache:
        return token_cache_for(self.login_base, self._credentials_now().client_id)

    def _access_token(self) -> str:
        return self._token_cache().get(self._clock.now, self._fetch_token)

    def _fetch_token(self) -> tuple[str, float]:
        """POST /oauth/token (client credentials). Safe to retry like a GET: it changes nothing."""
        credentials = self._credentials_now()
        url = f"{self.login_base}/oauth/token"
        headers = {
            "Authorization": credentials.basic_authorization(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        for attempt in range(self._get_retries + 1):
            try:
                response = self._send(
                    "POST",
                    url,
                    "token",
                    headers=headers,
                    data="grant_type=client_credentials",
                    observe_rate_limit=False,  # the login host's budget is not the API budget
                )
                if response.status_code != 200:
                    raise _token_error(_error_from_response(response, "token"))
                data = _json_of(response, "token")
                if not isinstance(data, dict) or not data.get("access_token"):
                    raise MalformedResponse(
                        "token answer without access_token",
                        status=200,
                        correlation_id=response.headers.get(CORRELATION_HEADER),
                    )
                return str(data["access_token"]), float(data.get("expires_in") or 86400)
            except GENESYS_UNAVAILABLE as error:
                self._wait_before_retry(error, attempt, "token")
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    def _call(self, method: str, path: str, endpoint: str, *, body: Any | None = None) -> Any:
        """One API call with the retry policy of the module docstring; returns the parsed JSON (or None)."""
        url = f"{self.api_base}{path}"
        retries_left = self._get_retries if method == "GET" else 0
        renewed_after_401 = False
        attempt = 0
        while True:
            token = self._access_token()
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                CORRELATION_HEADER: str(uuid.uuid4()),
            }
            try:
                response = self._send(method, url, endpoint, headers=headers, json=body)
                if response.status_code == 401 and not renewed_after_401:
                    # Expired early or revoked: renew once, then send again (Genesys did not act on it).
                    renewed_after_401 = True
                    self._token_cache().invalidate(token)
                    continue
                if response.status_code >= 400:
                    raise _error_from_response(response, endpoint)
                return _json_of(response, endpoint)
            except GENESYS_UNAVAILABLE as error:
                if attempt >= retries_left:
                    raise
                self._wait_before_retry(error, attempt, endpoint)
                attempt += 1

    def _wait_before_retry(self, error: GenesysError, attempt: int, endpoint: str) -> None:
        """Sleep before the next attempt; re-raise ``error`` if no attempt is left or the wait is too long."""
        if attempt >= self._get_retries:
            raise error
        if isinstance(error, RateLimited):
            wait = error.retry_after
        else:
            wait = min(_BACKOFF_BASE_S * (2**attempt), self._max_retry_wait_s)
        if wait > self._max_retry_wait_s:
            raise error
        logger.warning(
            "genesys retrying",
            extra={
                "endpoint": endpoint,
                "status": error.status,
                "code": error.code,
                "correlation_id": error.correlation_id,
                "wait_s": wait,
                "attempt": attempt + 1,
            },
        )
        self._sleep(wait)

    def _send(
        self, method: str, url: str, endpoint: str, *, observe_rate_limit: bool = True, **kwargs: Any
    ) -> requests.Response:
        started = time.monotonic()
        try:
            response = self._session.request(method, url, timeout=self._timeout, **kwargs)
        except requests.Timeout as exc:
            logger.warning("genesys timeout", extra={"endpoint": endpoint, "method": method})
            raise Timeout(
                f"{endpoint}: no answer within {self._timeout[1]} s ({type(exc).__name__})"
            ) from exc
        except requests.ConnectionError as exc:
            logger.warning("genesys connection failed", extra={"endpoint": endpoint, "method": method})
            raise Timeout(
                f"{endpoint}: connection to {_host_of(url)} failed or dropped before an answer "
                f"({type(exc).__name__})"
            ) from exc
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        correlation_id = response.headers.get(CORRELATION_HEADER)
        if observe_rate_limit:
            self._observe_rate_limit(response)
        logger.info(
            "genesys %s %s -> %s (correlation id %s, %s ms)",
            method,
            endpoint,
            response.status_code,
            correlation_id,
            elapsed_ms,
            extra={
                "endpoint": endpoint,
                "method": method,
                "status": response.status_code,
                "correlation_id": correlation_id,
                "elapsed_ms": elapsed_ms,
            },
        )
        return response

    def _observe_rate_limit(self, response: requests.Response) -> None:
        info = rate_limit_info(response.headers)
        if info is None:
            return
        self._last_rate_limit = info
        if self._rate_limit_observer is not None:
            self._rate_limit_observer(info)


def rate_limit_info(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """The ``inin-ratelimit-*`` headers of a response, or None when it carries none."""
    allowed = _number(headers.get("inin-ratelimit-allowed"))
    count = _number(headers.get("inin-ratelimit-count"))
    reset = _number(headers.get("inin-ratelimit-reset"))
    if allowed is None and count is None and reset is None:
        return None
    return RateLimitInfo(
        allowed=None if allowed is None else int(allowed),
        count=None if count is None else int(count),
        reset_seconds=reset,
    )


def _error_from_response(response: requests.Response, endpoint: str) -> GenesysError:
    """Map an error answer (Genesys API body or OAuth-style token body) to its typed error."""
    status = response.status_code
    correlation_id = response.headers.get(CORRELATION_HEADER)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    # API errors: {message, code, status, contextId}; token errors: {error, description}.
    code = body.get("code") or body.get("error")
    message = body.get("message") or body.get("description") or body.get("error_description")
    correlation_id = correlation_id or body.get("contextId")
    text = f"{endpoint}: {response.reason or 'HTTP ' + str(status)}"  # Genesys's text only in ``detail``
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "correlation_id": correlation_id,
        "detail": None if message is None else str(message),
    }
    if status == 429:
        return RateLimited(text, retry_after=_retry_after(response, message), **common)
    if status in _STATUS_ERRORS:
        return _STATUS_ERRORS[status](text, **common)
    if status == 408:
        return Timeout(text, **common)
    if status >= 500:
        return ServerError(text, **common)
    return BadRequest(text, **common)  # any other 4xx: the request itself is at fault


def _token_error(error: GenesysError) -> GenesysError:
    """A 4xx from the token endpoint (credentials or grant refused) is ``Unauthorized``, whatever its status:
    a deployment problem, never an email's fault (a ``BadRequest`` would send every email to the DLQ)."""
    if isinstance(error, RateLimited | Unauthorized) or not (error.status and 400 <= error.status < 500):
        return error
    return Unauthorized(
        error.message,
        status=error.status,
        code=error.code,
        correlation_id=error.correlation_id,
        detail=error.detail,
    )


def _retry_after(response: requests.Response, message: Any) -> float:
    """Seconds from ``Retry-After``; else the ``[N]`` of the 429 message; else one second."""
    header = _number(response.headers.get("Retry-After"))
    if header is not None:
        return max(0.0, header)
    match = _RETRY_SECONDS_IN_MESSAGE.search(str(message or ""))
    return float(match.group(1)) if match else 1.0


def _json_of(response: requests.Response, endpoint: str) -> Any:
    if not response.content or response.status_code == 204:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise MalformedResponse(
            f"{endpoint}: answered {response.status_code} with a body that is not JSON "
            f"({response.headers.get('Content-Type', 'no content type')}, {len(response.content)} bytes)",
            status=response.status_code,
            correlation_id=response.headers.get(CORRELATION_HEADER),
        ) from exc


def _parse(build: Callable[[Any], T], data: Any, what: str) -> T:
    if not isinstance(data, dict):
        raise MalformedResponse(f"expected a {what} object, got {type(data).__name__}")
    try:
        return build(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedResponse(f"{what} answer is missing {exc}") from exc


def _require_id(data: Any, what: str) -> str:
    if isinstance(data, dict) and data.get("id"):
        return str(data["id"])
    raise MalformedResponse(f"{what} answer without an id")


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _seg(value: str) -> str:
    """One path segment, quoted: an id never changes which endpoint is called."""
    return quote(str(value), safe="")


def _host_of(url: str) -> str:
    return url.split("/")[2] if "//" in url else url
