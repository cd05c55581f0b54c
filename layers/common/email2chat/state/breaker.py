"""Fleet-wide circuit breaker for the Genesys initiateChat call, in one DynamoDB item.

CLOSED: calls pass; failures (5xx, timeouts; never 429s, which feed the rate limiter) are counted with an
atomic ADD in a window that starts at the first failure after a quiet spell. ``failure_threshold`` failures
within ``window_s`` open the breaker.
OPEN: every call is refused (``BreakerOpen`` with ``retry_after``) for ``open_s``.
HALF_OPEN: once ``open_s`` has passed, exactly one caller wins the probe with a conditional write and holds
it for ``probe_lease_s``; everyone else is refused. The probe's success closes the breaker, its failure
re-opens it for a new ``open_s``; a probe that never reports back loses its lease and another caller
may probe. A probe that reports after its lease ran out still made a real call to Genesys: while the breaker
is in the same half-open period (``opened_at`` unchanged) its success closes it and its failure re-opens it
(when one POST, with its timeouts, outlasted the lease, ignoring late answers left the breaker half-open long
after Genesys recovered: one call per lease). An answer from an earlier period, or after the breaker closed,
decides nothing; a failure then counts like any other.

Round trips: ``before_call`` 1 (GetItem) while CLOSED or OPEN, 2 when it elects a probe;
``record_failure`` 1 (2 when it starts a new window or trips the breaker); ``record_success`` 0 for a
normal call (a success does not reset the window), 1 for the probe; ``state`` 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from email2chat.errors import BreakerOpen
from email2chat.state.table import ConditionNotMet, StateTable

_SK = "STATE"
_NAMES = {"#state": "state"}  # STATE is a DynamoDB reserved word


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPermit:
    """Handed out by ``before_call``; give it back to ``record_success`` / ``record_failure``."""

    is_probe: bool
    holder: str
    episode: float = 0.0  # a probe's: ``opened_at`` of the open period it probes; it decides only that one


TransitionListener = Callable[[BreakerState, BreakerState], None]


class CircuitBreaker:
    def __init__(
        self,
        table: StateTable,
        *,
        name: str = "genesys-initiate",
        failure_threshold: int = 5,
        window_s: int = 60,
        open_s: int = 30,
        probe_lease_s: int = 30,
        on_transition: TransitionListener | None = None,
    ) -> None:
        if failure_threshold < 1 or window_s < 1 or open_s < 1 or probe_lease_s < 1:
            raise ValueError("breaker thresholds and durations must be >= 1")
        self._table = table
        self.name = name
        self.failure_threshold = failure_threshold
        self.window_s = window_s
        self.open_s = open_s
        self.probe_lease_s = probe_lease_s
        self._on_transition = on_transition
        self._pk = f"BREAKER#{name}"

    # --- the call protocol ----------------------------------------------------------------------

    def before_call(self, caller: str) -> BreakerPermit:
        """Permit a call, elect ``caller`` as the half-open probe, or raise ``BreakerOpen``."""
        item = self._table.get(self._pk, _SK) or {}
        now = self._table.now()
        state = BreakerState(item.get("state", BreakerState.CLOSED))
        if state is BreakerState.CLOSED:
            return BreakerPermit(is_probe=False, holder=caller)
        if state is BreakerState.OPEN and now < float(item.get("open_until", 0)):
            raise BreakerOpen(
                f"circuit breaker {self.name} is open", retry_after=float(item["open_until"]) - now
            )
        episode = float(item.get("opened_at", 0.0))
        if state is BreakerState.HALF_OPEN and item.get("probe_holder") == caller:  # a retried step
            return BreakerPermit(is_probe=True, holder=caller, episode=episode)
        if state is BreakerState.HALF_OPEN and now < float(item.get("probe_until", 0)):
            raise BreakerOpen(
                f"circuit breaker {self.name} is half-open and a probe is in flight",
                retry_after=float(item["probe_until"]) - now,
            )
        return self._elect_probe(caller, now, episode)

    def _elect_probe(self, caller: str, now: float, episode: float) -> BreakerPermit:
        try:
            replaced = self._table.update(
                self._pk,
                _SK,
                "SET #state = :half_open, probe_holder = :caller, probe_until = :probe_until,"
                " expires_at = :expires",
                # Exactly one winner: the write is conditional on the state every contender saw.
                # The period is the one it read, so the permit's episode is the period it probes.
                condition="((#state = :open AND open_until <= :now)"
                " OR (#state = :half_open AND (probe_until <= :now OR probe_holder = :caller)))"
                " AND opened_at = :episode",
                names=_NAMES,
                values={
                    ":half_open": BreakerState.HALF_OPEN.value,
                    ":open": BreakerState.OPEN.value,
                    ":caller": caller,
                    ":now": now,
                    ":probe_until": now + self.probe_lease_s,
                    ":episode": episode,
                    ":expires": self._table.record_expiry(now=now),
                },
                return_values="ALL_OLD",
            )
        except ConditionNotMet as lost:
            current = lost.current or {}
            until = float(current.get("probe_until") or current.get("open_until") or now)
            raise BreakerOpen(
                f"circuit breaker {self.name}: another caller holds the probe",
                retry_after=max(0.0, until - now),
            ) from None
        if replaced.get("state") == BreakerState.OPEN:  # what the write replaced, not what the read saw
            self._notify(BreakerState.OPEN, BreakerState.HALF_OPEN)
        return BreakerPermit(is_probe=True, holder=caller, episode=episode)

    def record_success(self, permit: BreakerPermit) -> None:
        """A probe's success (late or not) closes the half-open period it probed and clears the failure
        window; others cost nothing."""
        if not permit.is_probe:
            return
        try:
            self._table.update(
                self._pk,
                _SK,
                "SET #state = :closed, failures = :zero, expires_at = :expires"
                " REMOVE window_start, open_until, probe_holder, probe_until",
                condition="#state = :half_open AND opened_at = :episode",
                names=_NAMES,
                values={
                    ":closed": BreakerState.CLOSED.value,
                    ":half_open": BreakerState.HALF_OPEN.value,
                    ":episode": permit.episode,
                    ":zero": 0,
                    ":expires": self._table.record_expiry(),
                },
                return_values="NONE",
            )
        except ConditionNotMet:
            return  # already closed by another probe, or re-opened since: a later period decides
        self._notify(BreakerState.HALF_OPEN, BreakerState.CLOSED)

    def record_failure(self, permit: BreakerPermit) -> None:
        """Count a 5xx / timeout fleet-wide; a probe's failure re-opens the half-open period it probed."""
        now = self._table.now()
        if permit.is_probe and self._open(now, from_state=BreakerState.HALF_OPEN, episode=permit.episode):
            self._notify(BreakerState.HALF_OPEN, BreakerState.OPEN)
            return
        failures = self._count_failure(now)
        if failures >= self.failure_threshold and self._open(now, from_state=BreakerState.CLOSED):
            self._notify(BreakerState.CLOSED, BreakerState.OPEN)

    def _count_failure(self, now: float) -> int:
        values: dict[str, Any] = {
            ":one": 1,
            ":now": now,
            ":window_floor": now - self.window_s,
            ":expires": self._table.record_expiry(now=now),
        }
        for _ in range(3):  # a lost race means another Lambda just started the window: ADD into it
            try:
                item = self._table.update(
                    self._pk,
                    _SK,
                    "ADD failures :one SET last_failure_at = :now, expires_at = :expires",
                    condition="window_start > :window_floor",
                    values=values,
                )
                return int(item.get("failures", 0))
            except ConditionNotMet:
                pass
            try:
                item = self._table.update(
                    self._pk,
                    _SK,
                    "SET failures = :one, window_start = :now, last_failure_at = :now, expires_at = :expires",
                    condition="attribute_not_exists(window_start) OR window_start <= :window_floor",
                    values=values,
                )
                return int(item.get("failures", 0))
            except ConditionNotMet:
                pass
        return 0  # extreme contention: this one failure goes uncounted, the others are

    def _open(self, now: float, *, from_state: BreakerState, episode: float | None = None) -> bool:
        """Trip from CLOSED (the failure count reached the threshold) or re-open from HALF_OPEN (a probe of
        period ``episode`` failed); False when the breaker was no longer there."""
        condition = "#state = :from"
        if from_state is BreakerState.CLOSED:
            condition = "attribute_not_exists(#state) OR " + condition
        values: dict[str, Any] = {
            ":open": BreakerState.OPEN.value,
            ":from": from_state.value,
            ":now": now,
            ":open_until": now + self.open_s,
            ":expires": self._table.record_expiry(now=now),
        }
        if episode is not None:
            condition += " AND opened_at = :episode"
            values[":episode"] = episode
        try:
            self._table.update(
                self._pk,
                _SK,
                "SET #state = :open, opened_at = :now, open_until = :open_until, expires_at = :expires"
                " REMOVE probe_holder, probe_until",
                condition=condition,
                names=_NAMES,
                values=values,
                return_values="NONE",
            )
        except ConditionNotMet:
            return False  # already open (another Lambda tripped it first), or no longer half-open
        return True

    # --- observation ----------------------------------------------------------------------------

    def state(self) -> BreakerState:
        """The effective state: OPEN past ``open_until`` reads as HALF_OPEN (the next call will probe)."""
        item = self._table.get(self._pk, _SK) or {}
        state = BreakerState(item.get("state", BreakerState.CLOSED))
        if state is BreakerState.OPEN and self._table.now() >= float(item.get("open_until", 0)):
            return BreakerState.HALF_OPEN
        return state

    def _notify(self, before: BreakerState, after: BreakerState) -> None:
        if self._on_transition is not None:
            self._on_transition(before, after)
