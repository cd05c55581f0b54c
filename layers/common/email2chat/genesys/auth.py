"""OAuth client credentials for Genesys Cloud: where the credentials come from and the shared token cache.

The client-credentials grant has no refresh token, and the token endpoint itself is rate limited, so one
token is cached per (login host, client id) for the whole process and renewed shortly before it expires,
or once after a 401. Every ``GenesysClient`` in the process shares it.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from email2chat.errors import ConfigError

# Renew this long before ``expires_in`` runs out (capped at a tenth of the lifetime for short-lived tokens),
# so a token never expires between our check and Genesys's.
RENEW_MARGIN_S = 60.0


@dataclass(frozen=True)
class ClientCredentials:
    """An OAuth client id and secret. ``repr`` and ``str`` never show the secret."""

    client_id: str
    client_secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r}, client_secret='***')"

    __str__ = __repr__

    def basic_authorization(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


CredentialsSource = ClientCredentials | Callable[[], ClientCredentials]


class SecretsManagerCredentials:
    """Reads ``{"client_id", "client_secret"}`` from an AWS Secrets Manager secret, lazily and once.

    Lazily: a cold start that never calls Genesys (e.g. a not-urgent email) pays nothing.
    """

    def __init__(self, secret_arn: str, secrets_client: Any | None = None) -> None:
        self.secret_arn = secret_arn
        self._secrets_client = secrets_client
        self._credentials: ClientCredentials | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretsManagerCredentials(secret_arn={self.secret_arn!r})"

    def __call__(self) -> ClientCredentials:
        with self._lock:
            if self._credentials is None:
                self._credentials = self._read()
            return self._credentials

    def _read(self) -> ClientCredentials:
        client = self._secrets_client
        if client is None:
            import boto3  # imported here: boto3 costs ~0.3 s of cold start and local runs do not need it

            client = boto3.client("secretsmanager")
        answer = client.get_secret_value(SecretId=self.secret_arn)
        try:
            secret = json.loads(answer["SecretString"])
            return ClientCredentials(str(secret["client_id"]), str(secret["client_secret"]))
        except (KeyError, TypeError, ValueError) as exc:
            # Never include the secret string itself in the message.
            raise ConfigError(
                f"GENESYS_SECRET_ARN: secret {self.secret_arn} must be JSON with client_id and client_secret"
            ) from exc


def resolve_credentials(source: CredentialsSource) -> ClientCredentials:
    return source if isinstance(source, ClientCredentials) else source()


@dataclass
class _CachedToken:
    access_token: str
    expires_at: float  # clock time
    renew_at: float  # clock time


class TokenCache:
    """One access token for one (login host, client id), shared by every client in the process.

    ``fetch`` runs under the cache's lock, so many threads needing a token at once cause one request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token: _CachedToken | None = None
        self.fetch_count = 0  # how many times a token was requested (tests and metrics read it)

    def get(self, now: Callable[[], float], fetch: Callable[[], tuple[str, float]]) -> str:
        """A valid token; ``fetch`` returns ``(access_token, expires_in_s)`` when a new one is needed."""
        with self._lock:
            token = self._token
            if token is not None and now() < token.renew_at:
                return token.access_token
            access_token, expires_in = fetch()
            self.fetch_count += 1
            issued = now()
            margin = min(RENEW_MARGIN_S, expires_in / 10.0)
            self._token = _CachedToken(access_token, issued + expires_in, issued + expires_in - margin)
            return access_token

    def invalidate(self, access_token: str) -> None:
        """Forget ``access_token`` after a 401, unless another thread already replaced it."""
        with self._lock:
            if self._token is not None and self._token.access_token == access_token:
                self._token = None

    def clear(self) -> None:
        with self._lock:
            self._token = None


_caches: dict[tuple[str, str], TokenCache] = {}
_caches_lock = threading.Lock()


def token_cache_for(login_base: str, client_id: str) -> TokenCache:
    """The process-wide token cache of this login host and client id."""
    key = (login_base.rstrip("/"), client_id)
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = TokenCache()
        return cache


def clear_token_caches() -> None:
    """Forget every cached token (tests; a credentials rotation)."""
    with _caches_lock:
        _caches.clear()
