"""Fault injection per endpoint: random errors, added latency, outage windows (5xx or timeouts), garbage."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

ENDPOINTS = frozenset(
    {
        "token",
        "get_conversation",
        "list_messages",
        "get_message",
        "initiate_chat",
        "push_notification",
        "patch_attributes",
        "disconnect_participant",
        "agentless_email",
        "callback",
    }
)
OutageMode = Literal["5xx", "timeout"]


@dataclass(frozen=True)
class Fault:
    error_rate: float = 0.0  # share of requests answered with ``error_status``
    error_status: int = 500
    latency_s: float = 0.0  # real seconds added before answering
    outage_until: float | None = None  # clock time; every request before it fails as ``outage_mode`` says
    outage_mode: OutageMode = "5xx"
    malformed_rate: float = 0.0  # share of requests answered 200 with a body that is not JSON
    outage_windows: tuple[tuple[float, float], ...] = ()  # more outages: (from, until) in clock time

    def in_outage(self, now: float) -> bool:
        if self.outage_until is not None and now < self.outage_until:
            return True
        return any(start <= now < until for start, until in self.outage_windows)


@dataclass(frozen=True)
class FaultDecision:
    latency_s: float = 0.0
    timeout: bool = False  # hold the connection, never answer
    error_status: int | None = None
    malformed: bool = False


NO_FAULT = FaultDecision()


class FaultPlan:
    """The faults set per endpoint. Not locked itself: the emulator calls it under its lock."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: dict[str, Fault] = {}
        self._random = random.Random(seed)

    def set(self, endpoint: str, fault: Fault) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; known: {', '.join(sorted(ENDPOINTS))}")
        if fault.outage_mode not in ("5xx", "timeout"):
            raise ValueError("outage_mode must be '5xx' or 'timeout'")
        self._faults[endpoint] = fault

    def clear(self) -> None:
        self._faults.clear()

    def decide(self, endpoint: str, now: float) -> FaultDecision:
        fault = self._faults.get(endpoint)
        if fault is None:
            return NO_FAULT
        if fault.in_outage(now):
            if fault.outage_mode == "timeout":
                return FaultDecision(latency_s=fault.latency_s, timeout=True)
            return FaultDecision(latency_s=fault.latency_s, error_status=503)
        if fault.error_rate > 0 and self._random.random() < fault.error_rate:
            return FaultDecision(latency_s=fault.latency_s, error_status=fault.error_status)
        if fault.malformed_rate > 0 and self._random.random() < fault.malformed_rate:
            return FaultDecision(latency_s=fault.latency_s, malformed=True)
        return FaultDecision(latency_s=fault.latency_s)
