"""The HTTP face of the emulator: stdlib ``ThreadingHTTPServer``, routes, and the real answer shapes.

The handler is thin: it reads the request and writes whatever ``GenesysEmulator.handle`` answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from simulator.emulator.emulator import GenesysEmulator


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: str


def _route(method: str, pattern: str, endpoint: str) -> Route:
    return Route(method, re.compile(f"^{pattern}$"), endpoint)


# Order matters: the literal paths come before the ones with an id in the same position.
ROUTES = (
    _route("POST", r"/oauth/token", "token"),
    _route("GET", r"/api/v2/conversations/emails/(?P<conversation_id>[^/]+)/messages", "list_messages"),
    _route(
        "GET",
        r"/api/v2/conversations/emails/(?P<conversation_id>[^/]+)/messages/(?P<message_id>[^/]+)",
        "get_message",
    ),
    _route("POST", r"/api/v2/conversations/emails/agentless", "agentless_email"),
    _route("POST", r"/api/v2/conversations/emails/(?P<conversation_id>[^/]+)/initiateChat", "initiate_chat"),
    _route("POST", r"/api/v2/notifications/push", "push_notification"),
    _route("POST", r"/api/v2/conversations/callbacks", "callback"),
    _route(
        "PATCH",
        r"/api/v2/conversations/(?P<conversation_id>[^/]+)/participants/(?P<participant_id>[^/]+)/attributes",
        "patch_attributes",
    ),
    _route(
        "PATCH",
        r"/api/v2/conversations/(?P<conversation_id>[^/]+)/participants/(?P<participant_id>[^/]+)",
        "disconnect_participant",
    ),
    _route("GET", r"/api/v2/conversations/(?P<conversation_id>[^/]+)", "get_conversation"),
)


def match_route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    for route in ROUTES:
        if route.method != method:
            continue
        found = route.pattern.match(path)
        if found:
            return route.endpoint, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


@dataclass
class HttpAnswer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a held ("timeout" outage) connection never blocks shutdown
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: GenesysEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, EmulatorRequestHandler)


class EmulatorRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client's one Session reuses its connection
    server_version = "GenesysCloudEmulator/1.0"
    timeout = 60  # an idle keep-alive connection frees its thread after this long
    disable_nagle_algorithm = True  # headers and body are two writes: without this, delayed ACKs cost 40 ms
    server: EmulatorHTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers: Mapping[str, Any] = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.emulator.handle(self.command, self.path, headers, body)
        if answer is None:  # an injected timeout: hang up without a word
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if answer.body:
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the emulator keeps its own request log (``GenesysEmulator.request_log``)."""
