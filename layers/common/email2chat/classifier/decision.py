"""The guide's first decision: upgrade when the Urgent score exceeds the threshold, or when the customer has
already waited more than the trigger in queue. Never keyword matching alone: the score comes from the model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

DEFAULT_THRESHOLD = 0.85
DEFAULT_WAIT_TRIGGER_MINUTES = 15.0


@dataclass(frozen=True)
class UrgencyDecision:
    """Why an email is (or is not) upgraded. ``drivers`` are short snippets of the customer's own words."""

    score: float
    threshold: float
    urgent: bool  # by_score or wait_trigger_fired
    by_score: bool
    wait_trigger_fired: bool
    queue_wait_minutes: float
    wait_trigger_minutes: float
    drivers: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        as_dict = asdict(self)
        as_dict["drivers"] = list(self.drivers)
        return as_dict


def decide(
    score: float,
    drivers: tuple[str, ...] = (),
    *,
    queue_wait_minutes: float = 0.0,
    threshold: float = DEFAULT_THRESHOLD,
    wait_trigger_minutes: float = DEFAULT_WAIT_TRIGGER_MINUTES,
) -> UrgencyDecision:
    """Strict comparisons on both rules: "exceeds 0.85" and "waited more than 15 minutes".

    A negative or NaN wait (clock skew between systems, a missing queue timestamp) counts as no wait: the
    email is still classified on its words rather than failing the intake. Bad configuration raises.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be within [0, 1], got {threshold}")
    if math.isnan(queue_wait_minutes) or queue_wait_minutes < 0:
        queue_wait_minutes = 0.0
    if math.isnan(wait_trigger_minutes) or wait_trigger_minutes < 0:
        raise ValueError(f"wait_trigger_minutes must be >= 0, got {wait_trigger_minutes}")
    by_score = score > threshold
    wait_trigger_fired = queue_wait_minutes > wait_trigger_minutes
    return UrgencyDecision(
        score=score,
        threshold=threshold,
        urgent=by_score or wait_trigger_fired,
        by_score=by_score,
        wait_trigger_fired=wait_trigger_fired,
        queue_wait_minutes=queue_wait_minutes,
        wait_trigger_minutes=wait_trigger_minutes,
        drivers=drivers,
    )
