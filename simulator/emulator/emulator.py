"""``GenesysEmulator``: a faithful local Genesys Cloud on 127.0.0.1 for tests, the local runner and by hand.

Login and API paths on one port; real answer and error shapes (genesys-facts.md); the guide's contract
where no public API exists. Time (token expiry, the rate-limit window, customer and agent delays) comes
from an injectable clock; latency and held "timeout" connections are real time, as they are about HTTP.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from email2chat.clock import Clock, SystemClock

from simulator.emulator.access import PerTokenRateLimit, RateVerdict, TokenIssuer
from simulator.emulator.faults import Fault, FaultPlan, OutageMode
from simulator.emulator.server import EmulatorHTTPServer, HttpAnswer, match_route
from simulator.emulator.world import ApiError, World, not_found

logger = logging.getLogger(__name__)

EventSink = Callable[[dict[str, Any]], None]

ERROR_CODES = {
    400: "bad.request",
    401: "authentication.required",
    403: "missing.permissions",
    404: "not.found",
    409: "conflict",  # Genesys documents no canonical 409 code: an assumption
    429: "too.many.requests.retry.after",
    500: "internal.server.error",
    502: "bad.gateway",
    503: "service.unavailable",
    504: "request.timeout",
}
ERROR_MESSAGES = {
    401: "No authentication bearer token specified in authorization header.",
    403: "Unable to perform the requested action. You are missing the following permission(s): ...",
    500: "The server encountered an unexpected condition.",
    503: "Service Unavailable - The server is currently unavailable (because it is overloaded or down).",
    504: "The request timed out.",
}
JSON_TYPE = "application/json; charset=UTF-8"


class GenesysEmulator:
    """A real HTTP server emulating the Genesys Cloud endpoints email2chat uses. Thread-safe.

    Use as a context manager in tests::

        with GenesysEmulator(clock=ManualClock()) as emulator:
            client = GenesysClient(emulator.base_url, emulator.base_url, ClientCredentials("local-client",
                                   "local-secret"))
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        rate_limit_per_minute: int = 300,
        client_id: str = "local-client",
        client_secret: str = "local-secret",  # noqa: S107 - the emulator's own well-known local secret
        token_ttl_s: float = 86400,
        event_sink: EventSink | None = None,
        org_id: str = "local-org",
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        autotick_interval_s: float | None = None,
        timeout_hold_s: float = 30.0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.world = World(self.clock, org_id=org_id, seed=seed)
        self._lock = self.world.lock  # the one lock: world, tokens, limits, faults and counters
        self._tokens = TokenIssuer(client_id, client_secret, token_ttl_s)
        self._rate_limit = PerTokenRateLimit(rate_limit_per_minute)
        self._faults = FaultPlan(seed)
        self._event_sink = event_sink
        self._host = host
        self._port = port
        self._autotick_interval_s = autotick_interval_s
        # Real seconds an injected "timeout" holds the connection: longer than the client's read timeout.
        self.timeout_hold_s = timeout_hold_s
        self._server: EmulatorHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._outbox: collections.deque[dict[str, Any]] = collections.deque()
        self._delivery_lock = threading.Lock()
        self._published: list[dict[str, Any]] = []
        self._request_log: list[dict[str, Any]] = []
        self.request_count = 0
        self.rate_limited_count = 0
        self.error_count = 0
        self.garbled_count = 0  # answers that took effect and came back as a garbled 200
        self.base_url = ""

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> str:
        if self._server is not None:
            return self.base_url
        self._stopping.clear()
        self._server = EmulatorHTTPServer((self._host, self._port), self)
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        serve = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="genesys-emulator",
            daemon=True,
        )
        serve.start()
        self._threads = [serve]
        if self._autotick_interval_s:
            ticker = threading.Thread(target=self._autotick, name="genesys-emulator-tick", daemon=True)
            ticker.start()
            self._threads.append(ticker)
        return self.base_url

    def stop(self) -> None:
        self._stopping.set()  # releases held "timeout" connections and the autotick thread
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> GenesysEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _autotick(self) -> None:
        assert self._autotick_interval_s is not None
        while not self._stopping.wait(self._autotick_interval_s):
            self.tick()

    # --- the simulated world ----------------------------------------------------------------------

    def seed_email_conversation(
        self,
        conversation_id: str,
        *,
        subject: str,
        text_body: str = "",
        html_body: str = "",
        customer_id: str,
        customer_email: str,
        customer_name: str = "",
        attributes: Mapping[str, str] | None = None,
        queue_wait_s: float = 0.0,
        customer_action: str = "accept",
        answer_after_s: float = 2.0,
        agent_delay_s: float = 3.0,
        manual_chat: bool = False,
    ) -> str:
        """Seed an inbound email conversation waiting in queue; returns the email message id.

        ``customer_action`` is what the customer does once the push arrives (after ``answer_after_s`` clock
        seconds): ``accept``, ``decline`` or ``ignore`` (never answers). ``manual_chat`` opens a chat by hand
        right away (the guide's session collision).
        """
        message_id = self.world.seed_email_conversation(
            conversation_id,
            subject=subject,
            text_body=text_body,
            html_body=html_body,
            customer_id=customer_id,
            customer_email=customer_email,
            customer_name=customer_name,
            attributes=attributes,
            queue_wait_s=queue_wait_s,
            customer_action=customer_action,
            answer_after_s=answer_after_s,
            agent_delay_s=agent_delay_s,
        )
        if manual_chat:
            self.open_manual_chat(conversation_id)
        return message_id

    def email_started_event(self, conversation_id: str) -> dict[str, Any]:
        """The EventBridge envelope of ``customer.start`` (mediaType EMAIL): what the intake receives."""
        return self.world.email_started_event(conversation_id)

    def open_manual_chat(self, conversation_id: str) -> None:
        self._publish(self.world.open_manual_chat(conversation_id))

    def customer_leaves_chat(self, conversation_id: str) -> None:
        self._publish(self.world.customer_leaves_chat(conversation_id))

    def answer_email(self, conversation_id: str) -> None:
        self.world.answer_email(conversation_id)

    def tick(self) -> None:
        """Apply every customer/agent action due at ``clock.now()`` and publish the events."""
        self._publish(self.world.apply_due())

    # --- faults -----------------------------------------------------------------------------------

    def set_fault(
        self,
        endpoint: str,
        *,
        error_rate: float = 0.0,
        latency_s: float = 0.0,
        outage_until: float | None = None,
        outage_mode: OutageMode = "5xx",
        error_status: int = 500,
        malformed_rate: float = 0.0,
        outage_windows: Sequence[tuple[float, float]] = (),
    ) -> None:
        """Replace the fault of ``endpoint``: an outage until ``outage_until``, and one in each of the
        ``outage_windows`` ((from, until)); clock time."""
        fault = Fault(
            error_rate,
            error_status,
            latency_s,
            outage_until,
            outage_mode,
            malformed_rate,
            tuple(outage_windows),
        )
        with self._lock:
            self._faults.set(endpoint, fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (the next API call answers 401)."""
        with self._lock:
            self._tokens.revoke_all()

    # --- inspection (snapshots) -------------------------------------------------------------------

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        return self.world.get_conversation(conversation_id)

    def pending_agent_assignments(self) -> int:
        """Agents still to join connected chats (scheduled, not yet due)."""
        return self.world.pending_agent_assignments()

    def chat_legs(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.world.chat_legs(conversation_id)

    def notifications(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(n) for n in self.world.notifications if _matches(n, conversation_id)]

    def emails_sent(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self.world.emails_sent if _matches(e, conversation_id)]

    def callbacks(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self.world.callbacks]

    def participant_attributes(self, conversation_id: str, participant_id: str) -> dict[str, str]:
        return self.world.participant_attributes(conversation_id, participant_id)

    def request_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._request_log]

    def published_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._published)

    def disjointed_conversations(self) -> list[str]:
        with self._lock:
            return list(self.world.disjointed)

    @property
    def tokens_issued(self) -> int:
        with self._lock:
            return self._tokens.issued_count

    # --- one request ------------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> HttpAnswer | None:
        """Answer one HTTP request; None means "hold the connection and never answer" (injected timeout)."""
        path = raw_path.split("?", 1)[0]
        correlation_id = str(uuid.uuid4())
        # Reads are authoritative: apply whatever the customer or agent did up to now before answering.
        self.tick()
        route = match_route(method, path)
        endpoint = route[0] if route else "unknown"
        with self._lock:
            now = self.clock.now()
            self.request_count += 1
            decision = self._faults.decide(endpoint, now) if route else None
        if decision is not None and decision.latency_s > 0:
            self._stopping.wait(decision.latency_s)
        if decision is not None and decision.timeout:
            self._log(method, path, endpoint, None, now, correlation_id, error=True)
            self._stopping.wait(self.timeout_hold_s)
            return None
        answer = self._answer(method, path, route, headers, body, correlation_id, decision)
        self._log(method, path, endpoint, answer.status, now, correlation_id, error=answer.status >= 500)
        return answer

    def _answer(
        self,
        method: str,
        path: str,
        route: tuple[str, dict[str, str]] | None,
        headers: Mapping[str, str],
        body: bytes,
        correlation_id: str,
        decision: Any,
    ) -> HttpAnswer:
        limits = self._rate_limit.idle()
        try:
            if route is None:
                raise not_found(f"resource {method} {path}")
            endpoint, params = route
            if decision is not None and decision.error_status is not None:
                return self._injected_error(endpoint, decision.error_status, correlation_id, limits)
            if endpoint == "token":
                return self._token(headers, body, correlation_id)
            with self._lock:
                now = self.clock.now()
                token = self._tokens.validate(headers.get("authorization"), now)
                if token is None:
                    raise ApiError(401, "authentication.required", ERROR_MESSAGES[401])
                limits = self._rate_limit.admit(token, now)
                if not limits.allowed:
                    self.rate_limited_count += 1
            if not limits.allowed:
                return self._rate_limited(correlation_id, limits)
            status, payload = self._dispatch(endpoint, params, body)
            if decision is not None and decision.malformed:
                with self._lock:
                    self.garbled_count += 1
                return HttpAnswer(
                    200,
                    b"<html><body>upstream connect error</body></html>",
                    self._headers(correlation_id, limits, "text/html"),
                )
            data = b"" if payload is None else json.dumps(payload).encode()
            return HttpAnswer(status, data, self._headers(correlation_id, limits))
        except ApiError as error:
            return self._error(error, correlation_id, limits)

    def _dispatch(self, endpoint: str, params: dict[str, str], body: bytes) -> tuple[int, Any]:
        world = self.world
        if endpoint == "get_conversation":
            return 200, world.get_conversation(params["conversation_id"])
        if endpoint == "list_messages":
            return 200, world.list_messages(params["conversation_id"])
        if endpoint == "get_message":
            return 200, world.get_message(params["conversation_id"], params["message_id"])
        payload = _json_body(body)
        if endpoint == "initiate_chat":
            if not isinstance(payload, Mapping):
                raise ApiError(400, "bad.request", "The request body must be a JSON object.")
            return 201, world.initiate_chat(params["conversation_id"], payload)
        if endpoint == "push_notification":
            if not isinstance(payload, Mapping):
                raise ApiError(400, "bad.request", "The request body must be a JSON object.")
            return 202, world.push_notification(payload)
        if endpoint == "patch_attributes":
            world.patch_attributes(params["conversation_id"], params["participant_id"], payload)
            return 202, None
        if endpoint == "disconnect_participant":
            world.disconnect_participant(params["conversation_id"], params["participant_id"], payload)
            return 202, None
        if endpoint == "agentless_email":
            return 202, world.agentless_email(payload)
        if endpoint == "callback":
            return 200, world.create_callback(payload)
        raise not_found(endpoint)  # pragma: no cover - every route has a branch

    def _token(self, headers: Mapping[str, str], body: bytes, correlation_id: str) -> HttpAnswer:
        form = parse_qs(body.decode("utf-8", "replace"))
        with self._lock:
            if form.get("grant_type") != ["client_credentials"]:
                return self._oauth_error(
                    400, "unsupported_grant_type", "grant_type must be client_credentials", correlation_id
                )
            if not self._tokens.check_basic(headers.get("authorization")):
                return self._oauth_error(
                    401, "invalid_client", "client not found or secret invalid", correlation_id
                )
            token, expires_in = self._tokens.issue(self.clock.now())
        payload = {"access_token": token, "token_type": "bearer", "expires_in": expires_in}
        return HttpAnswer(
            200, json.dumps(payload).encode(), self._headers(correlation_id, self._rate_limit.idle())
        )

    def _oauth_error(self, status: int, error: str, description: str, correlation_id: str) -> HttpAnswer:
        payload = {"error": error, "description": description, "error_description": description}
        return HttpAnswer(
            status, json.dumps(payload).encode(), self._headers(correlation_id, self._rate_limit.idle())
        )

    def _injected_error(
        self, endpoint: str, status: int, correlation_id: str, limits: RateVerdict
    ) -> HttpAnswer:
        if status == 429:
            with self._lock:
                self.rate_limited_count += 1
            return self._rate_limited(correlation_id, RateVerdict(False, limits.limit, limits.limit, 1.0))
        if endpoint == "token" and status in (400, 401):
            return self._oauth_error(status, "invalid_client", "injected fault", correlation_id)
        message = ERROR_MESSAGES.get(status, f"Injected fault answering {status}.")
        return self._error(
            ApiError(status, ERROR_CODES.get(status, "error"), message), correlation_id, limits
        )

    def _rate_limited(self, correlation_id: str, limits: RateVerdict) -> HttpAnswer:
        seconds = limits.retry_after_s
        error = ApiError(
            429,
            "too.many.requests.retry.after",
            f"Rate limit exceeded the maximum. Retry the request in [{seconds}] seconds",
            headers={"Retry-After": str(seconds)},
        )
        return self._error(error, correlation_id, limits)

    def _error(self, error: ApiError, correlation_id: str, limits: RateVerdict) -> HttpAnswer:
        payload = {
            "message": error.message,
            "code": error.code,
            "status": error.status,
            "contextId": correlation_id,
            "details": [],
            "errors": [],
        }
        headers = self._headers(correlation_id, limits)
        headers.update(error.headers)
        return HttpAnswer(error.status, json.dumps(payload).encode(), headers)

    @staticmethod
    def _headers(correlation_id: str, limits: RateVerdict, content_type: str = JSON_TYPE) -> dict[str, str]:
        return {"Content-Type": content_type, "ININ-Correlation-Id": correlation_id, **limits.headers()}

    def _log(
        self,
        method: str,
        path: str,
        endpoint: str,
        status: int | None,
        at: float,
        correlation_id: str,
        *,
        error: bool,
    ) -> None:
        with self._lock:
            if error:
                self.error_count += 1
            self._request_log.append(
                {
                    "method": method,
                    "path": path,
                    "endpoint": endpoint,
                    "status": status,
                    "at": at,
                    "correlation_id": correlation_id,
                }
            )

    # --- events -----------------------------------------------------------------------------------

    def _publish(self, events: list[dict[str, Any]]) -> None:
        """Queue events in order and deliver them to the sink, never while holding the world lock."""
        if not events:
            return
        with self._lock:
            self._outbox.extend(events)
        self._drain()

    def _drain(self) -> None:
        # One deliverer at a time keeps the order; a thread that finds another delivering leaves it the work
        # (blocking here could deadlock a sink that calls back into the emulator over HTTP).
        while True:
            if not self._delivery_lock.acquire(blocking=False):
                return
            try:
                while True:
                    with self._lock:
                        if not self._outbox:
                            break
                        event = self._outbox.popleft()
                        self._published.append(event)
                    if self._event_sink is not None:
                        try:
                            self._event_sink(event)
                        except Exception:
                            logger.exception("emulator event sink failed on %s", event.get("detail-type"))
            finally:
                self._delivery_lock.release()
            with self._lock:
                if not self._outbox:
                    return


def _json_body(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "bad.request", "The request body is not valid JSON.") from None


def _matches(record: Mapping[str, Any], conversation_id: str | None) -> bool:
    return conversation_id is None or record.get("conversationId") == conversation_id
