"""Workflow state in one DynamoDB table: session lock, circuit breaker, token bucket, cooldown, outcomes,
intake idempotency. Each concept is one module; ``table.StateTable`` is the shared access layer."""

from __future__ import annotations

from email2chat.state.breaker import BreakerPermit, BreakerState, CircuitBreaker
from email2chat.state.cooldown import CustomerCooldown
from email2chat.state.idempotency import IntakeLedger
from email2chat.state.lock import SessionLock
from email2chat.state.outcomes import Outcome, OutcomeRecord, OutcomeStore
from email2chat.state.rate_limiter import FleetRateLimiter, LimiterSnapshot
from email2chat.state.table import StateTable

__all__ = [
    "BreakerPermit",
    "BreakerState",
    "CircuitBreaker",
    "CustomerCooldown",
    "FleetRateLimiter",
    "IntakeLedger",
    "LimiterSnapshot",
    "Outcome",
    "OutcomeRecord",
    "OutcomeStore",
    "SessionLock",
    "StateTable",
]
