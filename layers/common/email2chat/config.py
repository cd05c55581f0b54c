"""Configuration: environment variables validated once, at cold start, by one pydantic model.

Every timing and threshold is here with its default; ``template.yaml`` sets them from stack parameters.
A missing or invalid variable raises ``ConfigError`` naming it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from email2chat.errors import ConfigError

# Region name -> domain; the API host is ``api.<domain>``, the login host ``login.<domain>``.
GENESYS_REGION_DOMAINS: Mapping[str, str] = {
    "us-east-1": "mypurecloud.com",
    "us-east-2": "use2.us-gov-pure.cloud",
    "us-west-2": "usw2.pure.cloud",
    "ca-central-1": "cac1.pure.cloud",
    "eu-west-1": "mypurecloud.ie",
    "eu-west-2": "euw2.pure.cloud",
    "eu-central-1": "mypurecloud.de",
    "eu-central-2": "euc2.pure.cloud",
    "ap-northeast-1": "mypurecloud.jp",
    "ap-northeast-2": "apne2.pure.cloud",
    "ap-northeast-3": "apne3.pure.cloud",
    "ap-southeast-2": "mypurecloud.com.au",
    "ap-south-1": "aps1.pure.cloud",
    "sa-east-1": "sae1.pure.cloud",
    "me-central-1": "mec1.pure.cloud",
}


class Settings(BaseModel):
    """All settings, named as their environment variables (upper-cased)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # Genesys Cloud
    genesys_region: str = "us-east-1"
    genesys_base_url: str | None = None  # overrides region hosts (the local emulator)
    genesys_login_url: str | None = None  # defaults to genesys_base_url when that is set
    genesys_secret_arn: str | None = None  # Secrets Manager: {"client_id", "client_secret"}
    genesys_client_id: str | None = None  # local only; never set in Lambda
    genesys_client_secret: str | None = None
    genesys_connect_timeout_s: float = Field(default=3.05, gt=0)
    genesys_read_timeout_s: float = Field(default=10.0, gt=0)
    genesys_get_retries: int = Field(default=2, ge=0, le=5)
    chat_deep_link_base: str = "https://gcs.genesys.cloud/chat/session"
    fallback_from_address: str = "support@example.com"
    callback_queue_id: str | None = None

    # AWS resources
    state_table_name: str = "email2chat-state"
    intake_queue_url: str | None = None
    state_machine_arn: str | None = None

    # Urgency decision
    urgent_threshold: float = Field(default=0.85, ge=0, le=1)
    wait_trigger_minutes: float = Field(default=15.0, ge=0)

    # Timings (seconds) and limits
    session_lock_lease_s: int = Field(default=5400, ge=1)  # outlasts the longest workflow path
    cooldown_hours: float = Field(default=24.0, ge=0)
    # HMAC key of the cooldown's customer hash; set a secret one per deployment (kept out of reprs).
    customer_key_salt: str = Field(default="email2chat/cooldown/v1", min_length=1, repr=False)
    limiter_base_rate: float = Field(default=1.0, gt=0)  # requests/s with no backlog
    limiter_max_rate: float = Field(default=10.0, gt=0)  # requests/s under backlog
    limiter_burst: float = Field(default=1.0, gt=0)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_window_s: int = Field(default=60, ge=1)
    breaker_open_s: int = Field(default=30, ge=1)
    breaker_probe_lease_s: int = Field(default=30, ge=1)
    defer_delay_s: int = Field(default=60, ge=0, le=900)  # SQS DelaySeconds cap
    defer_retry_window_s: int = Field(default=3600, ge=0)
    record_ttl_days: int = Field(default=30, ge=1)
    # The intake DLQ: invalid messages are sent there with their reason.
    dead_letter_queue_url: str | None = None
    # After this many receives a failing message goes to the DLQ (the queue's redrive policy).
    intake_max_receive_count: int = Field(default=5, ge=1)
    # Initiate waits this long for the fleet limiter, then defers.
    throttle_max_wait_s: int = Field(default=300, ge=0)
    # Real seconds per clock second; only the local runner sets it (scales ASL waits and SQS delays).
    time_scale: float = Field(default=1.0, gt=0)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if environ is None else environ
        fields = {name: source[name.upper()] for name in cls.model_fields if name.upper() in source}
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"invalid configuration: {problems}") from exc

    def required(self, name: str) -> str:
        """The value of an optional setting a step cannot do without; ``ConfigError`` names its variable."""
        value = getattr(self, name)
        if not value:
            raise ConfigError(f"{name.upper()} is not set")
        return str(value)

    def genesys_api_base(self) -> str:
        if self.genesys_base_url:
            return self.genesys_base_url.rstrip("/")
        return f"https://api.{self._region_domain()}"

    def genesys_login_base(self) -> str:
        if self.genesys_login_url:
            return self.genesys_login_url.rstrip("/")
        if self.genesys_base_url:
            return self.genesys_base_url.rstrip("/")
        return f"https://login.{self._region_domain()}"

    def _region_domain(self) -> str:
        try:
            return GENESYS_REGION_DOMAINS[self.genesys_region]
        except KeyError:
            known = ", ".join(sorted(GENESYS_REGION_DOMAINS))
            raise ConfigError(
                f"GENESYS_REGION: unknown region {self.genesys_region!r} (known: {known})"
            ) from None
