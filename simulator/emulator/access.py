"""OAuth tokens and the per-token rate limit, as Genesys Cloud enforces them."""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from dataclasses import dataclass


@dataclass
class IssuedToken:
    client_id: str
    expires_at: float  # clock time


class TokenIssuer:
    """Client-credentials grant for one OAuth client. Unlocked: the emulator calls it under its lock."""

    def __init__(self, client_id: str, client_secret: str, ttl_s: float) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.ttl_s = ttl_s
        self._tokens: dict[str, IssuedToken] = {}
        self.issued_count = 0

    def check_basic(self, authorization: str | None) -> bool:
        if not authorization or not authorization.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, client_secret = decoded.partition(":")
        return secrets.compare_digest(client_id, self.client_id) and secrets.compare_digest(
            client_secret, self._client_secret
        )

    def issue(self, now: float) -> tuple[str, int]:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = IssuedToken(self.client_id, now + self.ttl_s)
        self.issued_count += 1
        return token, int(self.ttl_s)

    def validate(self, authorization: str | None, now: float) -> str | None:
        """The token of a valid ``Bearer`` header, or None (missing, unknown or expired)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        token = authorization[7:].strip()
        issued = self._tokens.get(token)
        if issued is None or now >= issued.expires_at:
            return None
        return token

    def revoke_all(self) -> None:
        self._tokens.clear()


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    limit: int
    count: int
    reset_s: float

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.reset_s))

    def headers(self) -> dict[str, str]:
        return {
            "inin-ratelimit-allowed": str(self.limit),
            "inin-ratelimit-count": str(self.count),
            "inin-ratelimit-reset": str(max(0, math.ceil(self.reset_s))),
        }


class PerTokenRateLimit:
    """N requests per 60-second window per access token (Genesys's default is 300)."""

    WINDOW_S = 60.0

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[str, _Window] = {}

    def admit(self, token: str, now: float) -> RateVerdict:
        window = self._windows.get(token)
        if window is None or now >= window.started + self.WINDOW_S:
            window = self._windows[token] = _Window(started=now)
        reset = window.started + self.WINDOW_S - now
        if window.count >= self.per_minute:
            return RateVerdict(False, self.per_minute, window.count, reset)
        window.count += 1
        return RateVerdict(True, self.per_minute, window.count, reset)

    def idle(self) -> RateVerdict:
        """Headers for answers that belong to no token (login, 401s)."""
        return RateVerdict(True, self.per_minute, 0, self.WINDOW_S)
