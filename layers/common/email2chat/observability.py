"""Logs and metrics: a Powertools Logger with correlation keys, EMF metrics, and an in-process listener hook.

Metrics are emitted one at a time (``single_metric``) because each carries its own dimensions (an outcome,
a breaker transition); EMF lines are flushed to stdout at once, which is what CloudWatch Logs ingests.
The local runner turns EMF output off (``set_emf_output(False)``) and counts metrics through
``add_listener`` instead of parsing stdout. Tracer is deliberately absent: it costs ~0.45 s of cold start.

Never pass an email body, a customer address or a secret to the logger: ids and hashes only.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "email2chat"
NAMESPACE = "email2chat"

# Metric names (the template's alarms refer to them: keep them in step).
OUTCOME = "Outcome"
RATE_LIMITED_429 = "RateLimited429"
LIMITER_RATE = "LimiterRate"
BREAKER_TRANSITION = "BreakerTransition"
AGENT_ASSIGNMENT_LATENCY = "AgentAssignmentLatency"
ATTRIBUTES_PASSED_THROUGH = "AttributesPassedThrough"
DEFERRAL = "Deferral"
DUPLICATE_DELIVERY = "DuplicateDelivery"

logger = Logger(service=SERVICE)


@dataclass(frozen=True)
class MetricEvent:
    """One metric data point, as seen by in-process listeners."""

    name: str
    value: float
    unit: str
    dimensions: Mapping[str, str] = field(default_factory=dict)
    # Context that is not a dimension (a dimension would split the metric into more streams for alarms).
    properties: Mapping[str, str] = field(default_factory=dict)


MetricListener = Callable[[MetricEvent], None]

_listeners: list[MetricListener] = []
_listeners_lock = threading.Lock()
_emf_enabled = os.environ.get("EMAIL2CHAT_EMF_STDOUT", "1").lower() not in {"0", "false", "off", "no"}


def add_listener(listener: MetricListener) -> Callable[[], None]:
    """Call ``listener`` with every metric emitted in this process; returns a function that removes it."""
    with _listeners_lock:
        _listeners.append(listener)

    def remove() -> None:
        remove_listener(listener)

    return remove


def remove_listener(listener: MetricListener) -> None:
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


def set_emf_output(enabled: bool) -> None:
    """Print EMF JSON to stdout (Lambda) or not (local runs, tests). Also ``EMAIL2CHAT_EMF_STDOUT=0``."""
    global _emf_enabled
    _emf_enabled = enabled


def emit(
    name: str,
    value: float,
    unit: str = "Count",
    *,
    properties: Mapping[str, str] | None = None,
    **dimensions: str,
) -> None:
    """Emit one metric with its own dimensions (plus ``service``); ``properties`` go into the EMF
    record as metadata (searchable in CloudWatch Logs Insights) without creating metric streams."""
    event = MetricEvent(
        name=name,
        value=float(value),
        unit=unit,
        dimensions=dict(dimensions),
        properties=dict(properties or {}),
    )
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # a broken listener must never break the workflow step that emits
            logger.exception("metric listener failed", extra={"metric": name})
    if not _emf_enabled:
        return
    with single_metric(
        name=name,
        unit=MetricUnit(unit),
        value=float(value),
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        for key, dim_value in dimensions.items():
            metric.add_dimension(name=key, value=dim_value)
        for key, property_value in event.properties.items():
            metric.add_metadata(key=key, value=property_value)


def correlate(
    *,
    email_id: str | None = None,
    conversation_id: str | None = None,
    execution: str | None = None,
) -> None:
    """Set the correlation keys of every following log line on this thread (None removes a key)."""
    keys = {"email_id": email_id, "conversation_id": conversation_id, "execution": execution}
    present = {k: v for k, v in keys.items() if v is not None}
    absent = [k for k, v in keys.items() if v is None]
    if absent:
        logger.thread_safe_remove_keys(absent)
    if present:
        logger.thread_safe_append_keys(**present)


def clear_correlation() -> None:
    """Forget this thread's correlation keys: the next email's log lines must not carry the last one's."""
    logger.thread_safe_clear_keys()


_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def new_invocation(handler: _Handler) -> _Handler:
    """Decorate a Lambda handler so every invocation starts without correlation keys.

    Powertools keeps appended keys per thread, and a warm Lambda container (like the local runner's
    worker threads) runs the next invocation on the same thread.
    """

    @functools.wraps(handler)
    def invoke(*args: Any, **kwargs: Any) -> Any:
        clear_correlation()
        return handler(*args, **kwargs)

    return invoke  # type: ignore[return-value]
