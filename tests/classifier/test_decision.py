"""The decision rule: score > threshold (strict), or the customer waited more than the trigger (strict)."""

from __future__ import annotations

import math

import pytest
from email2chat.classifier import UrgencyDecision, decide


@pytest.mark.parametrize(
    ("score", "threshold", "expected"),
    [
        (0.85, 0.85, False),  # "exceeds 0.85": equal is not enough
        (math.nextafter(0.85, 1.0), 0.85, True),
        (math.nextafter(0.85, 0.0), 0.85, False),
        (1.0, 0.85, True),
        (0.0, 0.85, False),
        (0.5, 0.4, True),
        (1.0, 1.0, False),
    ],
)
def test_threshold_boundary_is_strict(score: float, threshold: float, expected: bool) -> None:
    decision = decide(score, threshold=threshold)
    assert decision.by_score is expected
    assert decision.urgent is expected
    assert decision.wait_trigger_fired is False


@pytest.mark.parametrize(
    ("waited", "trigger", "fired"),
    [
        (15.0, 15.0, False),
        (15.01, 15.0, True),
        (14.99, 15.0, False),
        (0.0, 0.0, False),
        (0.5, 0.0, True),
        (61.0, 60.0, True),
    ],
)
def test_wait_trigger_fires_only_after_more_than_the_trigger(
    waited: float, trigger: float, fired: bool
) -> None:
    decision = decide(0.01, queue_wait_minutes=waited, wait_trigger_minutes=trigger)
    assert decision.wait_trigger_fired is fired
    assert decision.urgent is fired
    assert decision.by_score is False


def test_both_rules_can_fire_together_and_the_reason_says_so() -> None:
    decision = decide(0.99, ("card stolen",), queue_wait_minutes=20)
    assert decision.urgent
    assert decision.by_score
    assert decision.wait_trigger_fired
    assert decision.to_dict() == {
        "score": 0.99,
        "threshold": 0.85,
        "urgent": True,
        "by_score": True,
        "wait_trigger_fired": True,
        "queue_wait_minutes": 20,
        "wait_trigger_minutes": 15.0,
        "drivers": ["card stolen"],
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 1.5},
        {"threshold": -0.1},
        {"wait_trigger_minutes": -5.0},
    ],
)
def test_invalid_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        decide(0.5, **kwargs)


@pytest.mark.parametrize("waited", [-3.0, float("nan")])
def test_negative_or_unknown_wait_counts_as_no_wait(waited: float) -> None:
    decision = decide(0.1, queue_wait_minutes=waited, wait_trigger_minutes=0.0)
    assert decision.queue_wait_minutes == 0.0
    assert decision.wait_trigger_fired is False


def test_decision_is_immutable() -> None:
    decision = decide(0.9)
    assert isinstance(decision, UrgencyDecision)
    with pytest.raises(AttributeError):
        decision.urgent = False  # type: ignore[misc]
