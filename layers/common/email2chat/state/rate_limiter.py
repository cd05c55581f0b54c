"""Fleet-wide token bucket for initiateChat, in one DynamoDB item shared by every Lambda.

Guide, trap 1 and edge case 2: 100 urgent emails at once must be paced, not fired into HTTP 429s. A request
the bucket cannot admit is told how long to wait, and waits in the workflow (a Step Functions Wait state),
never in a sleeping Lambda.

The rate rule (requests/s), evaluated at every call::

    demand  = min(max_rate, base_rate * (1 + waiting / waiters_per_step))
    ceiling = after a 429: max(min_rate, rate_at_429 * decrease_factor) (the sustained rate, without the
              header hint), held flat until ``quiet_period_s`` has passed without another 429, then rising
              by ``recovery_per_s`` each second back to max_rate
    hint    = while the ``inin-ratelimit-*`` headers say few requests remain: remaining / reset seconds
    rate    = min(demand, ceiling, hint)

``waiting`` counts distinct requesters (execution names) denied recently that have not been admitted since
(a denied requester stays counted until ``waiter_grace_s`` after the time it was told to come back).
With the defaults, 1 req/s idle, 2 req/s with 2 waiting, 10 req/s with 18 or more waiting: a burst of
100 drains in about 13 s (simulated with whole-second waits), and the tail does not crawl.

Waits are spread by queue position: the n-th waiter (oldest first) is told ``(deficit + n) / rate``, capped
at ``max_wait_s`` (plus any 429 block), so a backlog comes back in order instead of all at once, and
nobody sleeps through a rate that has risen since. Admission itself is first come, first served.

Concurrency: optimistic. Each call reads the item (strongly consistent) and writes it back conditional on
the ``version`` it read; a lost race re-reads (up to ``max_attempts``). Round trips: ``try_acquire`` 2
(+2 per lost race), ``record_rate_limited`` 2, ``record_headers`` 0 unless the headers say the budget is
nearly spent and the hint changed by more than 20 % (then 2), ``record_success`` 0 (recovery is
time-based), ``current_rate`` / ``snapshot`` 1.

Bucket size: ``max(burst, rate * wait_resolution_s)`` tokens. Step Functions Wait states take whole seconds,
so waiters come back together on the second: at 10 req/s the bucket must hold a second's worth of tokens,
or only ``burst`` of them could ever pass per second. At the base rate with ``burst=1`` it holds one token.

Invariant (tested): over any interval of length T, admissions <= capacity + max_rate * T, where
capacity = max(burst, max_rate * wait_resolution_s); at a fixed rate r: <= max(burst, r * resolution) + r * T.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from email2chat.state.table import ConditionNotMet, StateTable

if TYPE_CHECKING:  # only a type here: the state package does not import the Genesys models
    from email2chat.genesys.models import RateLimitInfo

_SK = "BUCKET"
_EPSILON = 1e-6  # token slack: float epoch seconds resolve ~0.2 us, so 0.1 s steps do not sum exactly


@dataclass(frozen=True)
class LimiterSnapshot:
    rate: float
    tokens: float
    waiting: int
    blocked_until: float
    ceiling: float | None


@dataclass
class _Bucket:
    exists: bool
    version: int
    tokens: float
    refilled_at: float
    rate: float
    blocked_until: float = 0.0
    ceiling: float | None = None
    last_429_at: float | None = None
    decreased_at: float | None = None
    hint: float | None = None
    hint_until: float = 0.0
    # requester tag -> [queue ticket, told to come back at]; tickets are handed out in arrival order
    waiters: dict[str, list[float]] = field(default_factory=dict)
    next_ticket: int = 0

    @classmethod
    def from_item(cls, item: dict[str, Any] | None, *, now: float, burst: float, base_rate: float) -> _Bucket:
        if item is None:
            return cls(exists=False, version=0, tokens=burst, refilled_at=now, rate=base_rate)

        def optional(name: str) -> float | None:
            value = item.get(name)
            return None if value is None else float(value)

        return cls(
            exists=True,
            version=int(item.get("version", 0)),
            tokens=float(item.get("tokens", 0.0)),
            refilled_at=float(item.get("refilled_at", now)),
            rate=float(item.get("rate", base_rate)),
            blocked_until=float(item.get("blocked_until", 0.0)),
            ceiling=optional("ceiling"),
            last_429_at=optional("last_429_at"),
            decreased_at=optional("decreased_at"),
            hint=optional("hint"),
            hint_until=float(item.get("hint_until", 0.0)),
            waiters=_decode_waiters(item.get("waiters")),
            next_ticket=int(item.get("next_ticket", 0)),
        )

    def to_item(self, pk: str, expires_at: int) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": pk,
            "sk": _SK,
            "version": self.version + 1,
            "tokens": self.tokens,
            "refilled_at": self.refilled_at,
            "rate": self.rate,
            "blocked_until": self.blocked_until,
            "hint_until": self.hint_until,
            "waiters": _encode_waiters(self.waiters),
            "next_ticket": self.next_ticket,
            "expires_at": expires_at,
        }
        for name in ("ceiling", "last_429_at", "decreased_at", "hint"):
            value = getattr(self, name)
            if value is not None:
                item[name] = value
        return item

    def queue_position(self, tag: str) -> int:
        """How many live waiters arrived before ``tag`` (all of them, for a newcomer)."""
        if tag not in self.waiters:
            return len(self.waiters)
        ticket = self.waiters[tag][0]
        return sum(1 for times in self.waiters.values() if times[0] < ticket)

    def join_queue(self, tag: str, now: float, max_waiters: int) -> None:
        if tag in self.waiters or len(self.waiters) >= max_waiters:
            return  # beyond max_waiters a newcomer still waits by position, it is just not stored
        self.waiters[tag] = [float(self.next_ticket), now]
        self.next_ticket += 1


RateListener = Callable[[float], None]


class FleetRateLimiter:
    def __init__(
        self,
        table: StateTable,
        *,
        name: str = "genesys-initiate",
        base_rate: float = 1.0,
        max_rate: float = 10.0,
        burst: float = 1.0,
        wait_resolution_s: float = 1.0,
        on_rate_change: RateListener | None = None,
        waiters_per_step: float = 2.0,
        min_rate: float = 0.2,
        decrease_factor: float = 0.5,
        quiet_period_s: float = 60.0,
        recovery_per_s: float = 0.2,
        decrease_holdoff_s: float = 2.0,
        waiter_grace_s: float = 30.0,
        max_waiters: int = 100,
        low_remaining_fraction: float = 0.1,
        max_attempts: int = 5,
        max_wait_s: float = 10.0,
    ) -> None:
        if not 0 < min_rate <= base_rate <= max_rate:
            raise ValueError("need 0 < min_rate <= base_rate <= max_rate")
        if burst < 1:
            raise ValueError("burst must be >= 1 (a request takes one whole token)")
        if wait_resolution_s < 0:
            raise ValueError("wait_resolution_s must be >= 0")
        if not 0 < decrease_factor < 1:
            raise ValueError("decrease_factor must be in (0, 1)")
        if waiters_per_step <= 0 or max_attempts < 1:
            raise ValueError("waiters_per_step must be > 0 and max_attempts >= 1")
        self._table = table
        self.name = name
        self.base_rate = base_rate
        self.max_rate = max_rate
        self.burst = burst
        self.wait_resolution_s = wait_resolution_s
        self.waiters_per_step = waiters_per_step
        self.min_rate = min_rate
        self.decrease_factor = decrease_factor
        self.quiet_period_s = quiet_period_s
        self.recovery_per_s = recovery_per_s
        self.decrease_holdoff_s = decrease_holdoff_s
        self.waiter_grace_s = waiter_grace_s
        self.max_waiters = max_waiters
        self.low_remaining_fraction = low_remaining_fraction
        self.max_attempts = max_attempts
        self.max_wait_s = max_wait_s
        self._on_rate_change = on_rate_change
        self._last_hint: tuple[float, float] | None = None  # (rate, until) this instance last wrote
        self._pk = f"LIMITER#{name}"

    # --- admission ------------------------------------------------------------------------------

    def try_acquire(self, requester: str) -> float:
        """0.0 when admitted (a token was taken); otherwise the seconds to wait before asking again (> 0).

        ``requester`` identifies the waiting workflow (its execution name): distinct waiters raise the rate.
        """
        tag = _requester_tag(requester)
        fallback_wait = 1.0 / self.max_rate
        for _ in range(self.max_attempts):
            bucket, now = self._read()
            rate = self._rate(bucket, now)
            admitted = False
            if now >= bucket.blocked_until:
                elapsed = max(0.0, now - bucket.refilled_at)
                bucket.tokens = min(self.capacity(rate), bucket.tokens + elapsed * rate)
                bucket.refilled_at = max(bucket.refilled_at, now)
                if bucket.tokens >= 1.0 - _EPSILON:
                    bucket.tokens = max(0.0, bucket.tokens - 1.0)
                    bucket.waiters.pop(tag, None)
                    admitted = True
            wait = 0.0
            if not admitted:
                ahead = bucket.queue_position(tag)
                bucket.join_queue(tag, now, self.max_waiters)  # counted now, so the rate below includes it
                rate = self._rate(bucket, now)
                # A far-back waiter is told at most ``max_wait_s``: the rate may rise meanwhile (a squeeze
                # ends, the backlog grows), and a wait once told cannot be shortened.
                if now < bucket.blocked_until:
                    wait = (bucket.blocked_until - now) + min((1.0 + ahead) / rate, self.max_wait_s)
                else:
                    wait = min((1.0 - bucket.tokens + ahead) / rate, self.max_wait_s)
                wait = max(wait, _EPSILON)
                if tag in bucket.waiters:
                    bucket.waiters[tag][1] = now + wait
            if self._write(bucket, now, self._rate(bucket, now)):
                return wait
            fallback_wait = max(fallback_wait, wait)
        # Lost every race: the item is hot, which itself means others are being admitted. Come back soon.
        return fallback_wait

    # --- feedback from Genesys ------------------------------------------------------------------

    def record_rate_limited(self, retry_after_s: float) -> None:
        """A 429: no admission until ``now + retry_after_s``, and the rate ceiling is cut multiplicatively
        (at most once per ``decrease_holdoff_s``: the 429s of requests already in flight count once)."""
        for _ in range(self.max_attempts):
            bucket, now = self._read()
            # The header hint is a short-lived squeeze (it ends with the budget window); the ceiling is the
            # lasting lesson of the 429, so it is cut from the sustained rate, not from the squeeze.
            rate = self._rate(bucket, now, with_hint=False)
            if bucket.decreased_at is None or now - bucket.decreased_at >= self.decrease_holdoff_s:
                bucket.ceiling = max(self.min_rate, rate * self.decrease_factor)
                bucket.decreased_at = now
            bucket.last_429_at = now
            self._block(bucket, now + max(0.0, retry_after_s))
            if self._write(bucket, now, self._rate(bucket, now)):
                return

    def record_headers(self, info: RateLimitInfo) -> None:
        """Slow down before a 429 when ``inin-ratelimit-*`` says the budget is nearly spent.

        The budget belongs to the OAuth token the whole fleet shares, so this is a fleet-wide hint.
        """
        remaining, allowed, reset = info.remaining, info.allowed, info.reset_seconds
        if remaining is None or allowed is None or reset is None or reset <= 0:
            return
        if remaining > allowed * self.low_remaining_fraction:
            return  # plenty left: no write
        hint = max(self.min_rate, remaining / reset)
        now = self._table.now()
        last = self._last_hint
        # Every Genesys answer carries the headers: write only when the hint says something new.
        if remaining > 0 and last is not None and now < last[1] and abs(hint - last[0]) <= 0.2 * last[0]:
            return
        for _ in range(self.max_attempts):
            bucket, now = self._read()
            bucket.hint = hint
            bucket.hint_until = now + reset
            if remaining == 0:
                self._block(bucket, now + reset)
            if self._write(bucket, now, self._rate(bucket, now)):
                self._last_hint = (hint, now + reset)
                return

    def record_success(self) -> None:
        """Nothing to store: after a 429 the ceiling recovers with time (see the module docstring), which
        costs no write on the hot path. Kept so callers report successes in one place."""

    # --- observation ----------------------------------------------------------------------------

    def current_rate(self) -> float:
        bucket, now = self._read()
        return self._rate(bucket, now)

    def snapshot(self) -> LimiterSnapshot:
        bucket, now = self._read()
        rate = self._rate(bucket, now)
        tokens = bucket.tokens
        if now >= bucket.blocked_until:
            tokens = min(self.capacity(rate), tokens + max(0.0, now - bucket.refilled_at) * rate)
        return LimiterSnapshot(
            rate=rate,
            tokens=tokens,
            waiting=len(bucket.waiters),
            blocked_until=bucket.blocked_until,
            ceiling=self._ceiling(bucket, now),
        )

    # --- the rule -------------------------------------------------------------------------------

    def capacity(self, rate: float) -> float:
        """Tokens the bucket holds at ``rate``: a second's worth (one Wait-state tick), at least ``burst``."""
        return max(self.burst, rate * self.wait_resolution_s)

    def _ceiling(self, bucket: _Bucket, now: float) -> float | None:
        if bucket.ceiling is None:
            return None
        quiet_since = bucket.last_429_at if bucket.last_429_at is not None else now
        recovering_for = now - (quiet_since + self.quiet_period_s)
        if recovering_for <= 0:
            return bucket.ceiling
        ceiling = bucket.ceiling + self.recovery_per_s * recovering_for
        return None if ceiling >= self.max_rate else ceiling

    def _rate(self, bucket: _Bucket, now: float, *, with_hint: bool = True) -> float:
        rate = min(self.max_rate, self.base_rate * (1.0 + len(bucket.waiters) / self.waiters_per_step))
        ceiling = self._ceiling(bucket, now)
        if ceiling is not None:
            rate = min(rate, ceiling)
        if with_hint and bucket.hint is not None and now < bucket.hint_until:
            rate = min(rate, bucket.hint)
        return max(self.min_rate, rate)

    # --- storage --------------------------------------------------------------------------------

    def _read(self) -> tuple[_Bucket, float]:
        item = self._table.get(self._pk, _SK)
        now = self._table.now()
        bucket = _Bucket.from_item(item, now=now, burst=self.burst, base_rate=self.base_rate)
        # Forget waiters that never came back (workflow deferred or gone).
        bucket.waiters = {
            tag: times for tag, times in bucket.waiters.items() if times[1] + self.waiter_grace_s >= now
        }
        return bucket, now

    @staticmethod
    def _block(bucket: _Bucket, until: float) -> None:
        bucket.blocked_until = max(bucket.blocked_until, until)
        bucket.tokens = 0.0
        bucket.refilled_at = max(bucket.refilled_at, bucket.blocked_until)  # no refill while blocked

    def _write(self, bucket: _Bucket, now: float, rate: float) -> bool:
        previous_rate = bucket.rate
        bucket.rate = rate
        if self._ceiling(bucket, now) is None:
            bucket.ceiling = None  # fully recovered: drop it
        if bucket.hint is not None and now >= bucket.hint_until:
            bucket.hint = None
        item = bucket.to_item(self._pk, self._table.record_expiry(now=now))
        try:
            if bucket.exists:
                self._table.put(
                    item, condition="version = :version", values_for_condition={":version": bucket.version}
                )
            else:
                self._table.put(item, condition="attribute_not_exists(pk)")
        except ConditionNotMet:
            return False
        if self._on_rate_change is not None and abs(rate - previous_rate) > _EPSILON:
            self._on_rate_change(rate)
        return True


def _encode_waiters(waiters: dict[str, list[float]]) -> str:
    # One compact string rather than a DynamoDB map: ~30 bytes a waiter keeps the item (and the write
    # units of every acquire) small; a map costs more bytes and more parsing per attribute.
    return json.dumps({tag: [int(t[0]), round(t[1], 3)] for tag, t in waiters.items()}, separators=(",", ":"))


def _decode_waiters(stored: Any) -> dict[str, list[float]]:
    if not stored:
        return {}
    return {str(tag): [float(t[0]), float(t[1])] for tag, t in json.loads(stored).items()}


def _requester_tag(requester: str) -> str:
    """Execution names can be long; a short digest keeps the bucket item (and its write cost) small."""
    return hashlib.blake2b(requester.encode(), digest_size=6).hexdigest()
