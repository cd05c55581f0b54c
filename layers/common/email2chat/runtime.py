"""The composition root: every collaborator of the workflow steps, built once per cold start.

Handlers call ``get_runtime()`` (built from the environment the first time, then cached for the life of
the Lambda container). The local runner and tests call ``set_runtime(build_runtime(...))`` with a scaled
or manual clock, moto-backed clients and an emulator-backed Genesys client. Domain code never reaches for
``os.environ`` or builds its own clients: it receives a ``Runtime``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from email2chat import observability
from email2chat.clock import Clock, SystemClock
from email2chat.config import Settings
from email2chat.state.breaker import BreakerState, CircuitBreaker
from email2chat.state.cooldown import CustomerCooldown
from email2chat.state.idempotency import IntakeLedger
from email2chat.state.lock import SessionLock
from email2chat.state.outcomes import OutcomeStore
from email2chat.state.rate_limiter import FleetRateLimiter
from email2chat.state.table import StateTable
from email2chat.workflow.chat_sessions import ChatSessionStore

if TYPE_CHECKING:
    from email2chat.genesys.port import GenesysPort
    from email2chat.mapping import AttributeMapper

SQS_MAX_DELAY_S = 900  # SQS DelaySeconds cannot exceed 15 minutes; longer waits re-queue themselves


class UrgencyDecider(Protocol):
    """What the intake needs of the classifier (``email2chat.classifier.UrgencyClassifier``)."""

    def decide(
        self,
        subject: str = "",
        text: str = "",
        html: str = "",
        *,
        queue_wait_minutes: float = 0.0,
        threshold: float = 0.85,
        wait_trigger_minutes: float = 15.0,
    ) -> Any: ...


def _load_classifier() -> UrgencyDecider:
    # Imported here: numpy and the model artifact cost cold-start time only in the intake function.
    from email2chat.classifier import UrgencyClassifier

    classifier: UrgencyDecider = UrgencyClassifier.load()
    return classifier


def _load_mapper() -> AttributeMapper:
    from email2chat.mapping import AttributeMapper

    return AttributeMapper.load_default()


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    genesys: GenesysPort
    sqs: Any
    sfn: Any
    dynamodb: Any
    table: StateTable
    lock: SessionLock
    breaker: CircuitBreaker
    limiter: FleetRateLimiter
    cooldown: CustomerCooldown
    outcomes: OutcomeStore
    ledger: IntakeLedger
    sessions: ChatSessionStore
    sleep: Callable[[float], None] = time.sleep
    classifier_factory: Callable[[], UrgencyDecider] = _load_classifier
    mapper_factory: Callable[[], AttributeMapper] = _load_mapper
    _classifier: UrgencyDecider | None = field(default=None, repr=False)
    _mapper: AttributeMapper | None = field(default=None, repr=False)
    _lazy_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def classifier(self) -> UrgencyDecider:
        """Loaded on first use: only the intake classifies."""
        with self._lazy_lock:
            if self._classifier is None:
                self._classifier = self.classifier_factory()
            return self._classifier

    @property
    def mapper(self) -> AttributeMapper:
        with self._lazy_lock:
            if self._mapper is None:
                self._mapper = self.mapper_factory()
            return self._mapper

    def real_seconds(self, clock_seconds: float, *, maximum: int | None = None) -> int:
        """A clock duration as the positive whole number of REAL seconds an ASL Wait or SQS delay needs.

        ``time_scale`` is real seconds per clock second (1.0 in AWS; the local runner scales time down).
        """
        real = max(1, math.ceil(max(0.0, clock_seconds) * self.settings.time_scale))
        return real if maximum is None else min(real, maximum)

    def sqs_delay_seconds(self, clock_seconds: float) -> int:
        """A clock duration as an SQS ``DelaySeconds`` (real seconds, capped at SQS's 15 minutes)."""
        return self.real_seconds(clock_seconds, maximum=SQS_MAX_DELAY_S)

    def clock_seconds(self, real_seconds: float) -> float:
        return real_seconds / self.settings.time_scale


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    genesys: GenesysPort | None = None,
    boto_session: Any | None = None,
    dynamodb_client: Any | None = None,
    sqs_client: Any | None = None,
    sfn_client: Any | None = None,
    secrets_client: Any | None = None,
    classifier: UrgencyDecider | None = None,
    mapper: AttributeMapper | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Runtime:
    """Wire every collaborator. Pass clients to substitute them (moto, the emulator, fakes)."""
    clock = clock or SystemClock()
    sessions = _SessionSource(boto_session)
    dynamodb = dynamodb_client or LazyClient(sessions, "dynamodb")
    sqs = sqs_client or LazyClient(sessions, "sqs")
    sfn = sfn_client or LazyClient(sessions, "stepfunctions")
    table = StateTable(
        settings.state_table_name, dynamodb_client=dynamodb, clock=clock, ttl_days=settings.record_ttl_days
    )
    limiter = FleetRateLimiter(
        table,
        base_rate=settings.limiter_base_rate,
        max_rate=settings.limiter_max_rate,
        burst=settings.limiter_burst,
        on_rate_change=_limiter_rate_metric,
    )
    if genesys is None:
        from email2chat.genesys.client import GenesysClient

        if secrets_client is None and settings.genesys_secret_arn:
            secrets_client = LazyClient(sessions, "secretsmanager")
        genesys = GenesysClient.from_settings(
            settings,
            secrets_client=secrets_client,
            clock=clock,
            sleep=sleep,
            # The inin-ratelimit-* headers of every answer let the limiter slow down before a 429.
            rate_limit_observer=limiter.record_headers,
        )
    runtime = Runtime(
        settings=settings,
        clock=clock,
        genesys=genesys,
        sqs=sqs,
        sfn=sfn,
        dynamodb=dynamodb,
        table=table,
        lock=SessionLock(table, lease_s=settings.session_lock_lease_s),
        breaker=CircuitBreaker(
            table,
            failure_threshold=settings.breaker_failure_threshold,
            window_s=settings.breaker_window_s,
            open_s=settings.breaker_open_s,
            probe_lease_s=settings.breaker_probe_lease_s,
            on_transition=_breaker_transition_metric,
        ),
        limiter=limiter,
        cooldown=CustomerCooldown(
            table, window_s=settings.cooldown_hours * 3600.0, salt=settings.customer_key_salt
        ),
        outcomes=OutcomeStore(table),
        ledger=IntakeLedger(table),
        sessions=ChatSessionStore(table),
        sleep=sleep,
    )
    if classifier is not None:
        runtime._classifier = classifier
    if mapper is not None:
        runtime._mapper = mapper
    return runtime


class _SessionSource:
    """One boto3 session per runtime, created (and boto3 imported) only when a client is first used."""

    def __init__(self, session: Any | None) -> None:
        self._session = session
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if self._session is None:
                import boto3  # once per process; the handlers never import boto3 themselves

                self._session = boto3.session.Session()
            return self._session.client(service)


class LazyClient:
    """A boto3 client built on first use: a step that never calls SQS does not pay ~80 ms to create one
    at cold start (notify, check status, fallback and cleanup only talk to Genesys)."""

    def __init__(self, sessions: _SessionSource, service: str) -> None:
        self._sessions = sessions
        self._service = service
        self._client: Any | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._sessions.client(self._service)
        return getattr(self._client, name)


def _breaker_transition_metric(before: BreakerState, after: BreakerState) -> None:
    observability.logger.warning(
        "circuit breaker transition", extra={"breaker_from": str(before), "breaker_to": str(after)}
    )
    # One dimension only, so the "breaker open" alarm watches a single metric stream.
    observability.emit(
        observability.BREAKER_TRANSITION,
        1,
        "Count",
        properties={"from_state": str(before)},
        to_state=str(after),
    )


def _limiter_rate_metric(rate: float) -> None:
    observability.emit(observability.LIMITER_RATE, rate, "Count/Second")


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process's runtime: built from the environment on first use (cold start), then reused."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = build_runtime(Settings.from_env())
        return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Inject a runtime (local runner, tests); ``None`` forgets it so the next call rebuilds from env."""
    global _runtime
    with _runtime_lock:
        _runtime = runtime
