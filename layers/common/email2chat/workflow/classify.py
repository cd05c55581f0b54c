"""Classify: the guide's condition logic. Urgent when the Urgent-intent score exceeds the threshold (0.85),
or when the customer has waited in queue longer than the wait trigger (15 minutes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from email2chat.runtime import Runtime


@dataclass(frozen=True)
class UrgencyVerdict:
    urgent: bool
    score: float
    urgent_by: str  # "score" | "wait_trigger" | "" (not urgent)
    reason: str


def classify(
    runtime: Runtime, *, subject: str, text: str, html: str, queue_wait_minutes: float
) -> UrgencyVerdict:
    settings = runtime.settings
    decision = runtime.classifier.decide(
        subject,
        text,
        html,
        queue_wait_minutes=queue_wait_minutes,
        threshold=settings.urgent_threshold,
        wait_trigger_minutes=settings.wait_trigger_minutes,
    )
    score = float(decision.score)
    if decision.by_score:
        return UrgencyVerdict(
            True, score, "score", f"urgency score {score:.3f} > {settings.urgent_threshold}"
        )
    if decision.wait_trigger_fired:
        return UrgencyVerdict(
            True,
            score,
            "wait_trigger",
            f"waited {queue_wait_minutes:.1f} min > {settings.wait_trigger_minutes:g} min in queue",
        )
    return UrgencyVerdict(False, score, "", f"urgency score {score:.3f} <= {settings.urgent_threshold}")
