from __future__ import annotations

import heapq
import itertools
import math
from typing import Any

import pytest
from email2chat.clock import ManualClock
from email2chat.genesys.models import RateLimitInfo
from email2chat.state.rate_limiter import FleetRateLimiter
from email2chat.state.table import StateTable
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import START, CountingClient, run_concurrently

# Epoch seconds as floats resolve ~0.2 us; summed 0.1 s clock steps drift by a few us.
SLACK = 1e-5


def assert_token_bucket_bound(admitted_at: list[float], rate: float, capacity: float) -> None:
    """No window [t_i, t_j] holds more than capacity + rate * (t_j - t_i) admissions."""
    times = sorted(admitted_at)
    for i, j in itertools.combinations(range(len(times)), 2):
        count = j - i + 1
        assert count <= capacity + rate * (times[j] - times[i]) + SLACK * count, (i, j, times[i], times[j])


def test_idle_bucket_admits_one_then_asks_to_wait_a_second(table: StateTable, clock: ManualClock) -> None:
    limiter = FleetRateLimiter(table, base_rate=1.0, max_rate=1.0)
    assert limiter.try_acquire("exec-1") == 0.0
    assert limiter.try_acquire("exec-2") == pytest.approx(1.0)
    clock.advance(0.5)
    assert limiter.try_acquire("exec-2") == pytest.approx(0.5)
    clock.advance(0.5)
    assert limiter.try_acquire("exec-2") == 0.0


def test_waits_are_spread_by_queue_position(table: StateTable) -> None:
    limiter = FleetRateLimiter(table, base_rate=1.0, max_rate=1.0)
    waits = [limiter.try_acquire(f"exec-{i}") for i in range(5)]
    assert waits == [0.0, pytest.approx(1.0), pytest.approx(2.0), pytest.approx(3.0), pytest.approx(4.0)]
    assert limiter.try_acquire("exec-1") == pytest.approx(1.0)  # a retry keeps its place in the queue


def test_no_waiter_is_told_to_sleep_longer_than_max_wait(table: StateTable, clock: ManualClock) -> None:
    limiter = FleetRateLimiter(table, base_rate=1.0, max_rate=1.0, max_wait_s=10)
    waits = [limiter.try_acquire(f"exec-{i}") for i in range(30)]
    assert max(waits) == pytest.approx(10.0)  # position 29 at 1 req/s would have been 29 s
    limiter.record_rate_limited(retry_after_s=30)
    assert limiter.try_acquire("exec-29") == pytest.approx(30 + 10)  # the block, then at most max_wait_s


def test_rate_rises_with_distinct_waiters_up_to_max(table: StateTable) -> None:
    limiter = FleetRateLimiter(table, base_rate=1.0, max_rate=10.0, waiters_per_step=2)
    limiter.try_acquire("admitted")
    for i in range(4):
        limiter.try_acquire(f"waiting-{i}")
    assert limiter.current_rate() == pytest.approx(3.0)  # 1 * (1 + 4/2)
    for i in range(4, 30):
        limiter.try_acquire(f"waiting-{i}")
    assert limiter.current_rate() == pytest.approx(10.0)


def test_abandoned_waiters_stop_counting(table: StateTable, clock: ManualClock) -> None:
    limiter = FleetRateLimiter(table, base_rate=1.0, max_rate=10.0, waiter_grace_s=30)
    limiter.try_acquire("admitted")
    waits = [limiter.try_acquire(f"gone-{i}") for i in range(20)]
    assert limiter.current_rate() > 2.0
    clock.advance(max(waits) + 30.1)  # none came back
    assert limiter.current_rate() == pytest.approx(1.0)


def simulate_burst(
    limiter: FleetRateLimiter, clock: ManualClock, count: int, *, whole_seconds: bool
) -> dict[str, Any]:
    """Every requester arrives at once and comes back when told (rounded up to whole seconds when the
    waits go through a Step Functions Wait state, which takes integer seconds)."""
    queue = [(clock.now(), f"email-{i}") for i in range(count)]
    heapq.heapify(queue)
    admitted_at: dict[str, float] = {}
    calls = 0
    while queue:
        when, requester = heapq.heappop(queue)
        clock.set(when)
        calls += 1
        wait = limiter.try_acquire(requester)
        if wait == 0.0:
            admitted_at[requester] = when
        else:
            assert wait > 0
            heapq.heappush(queue, (when + (max(1, math.ceil(wait)) if whole_seconds else wait), requester))
    times = sorted(admitted_at.values())
    return {"admitted": len(times), "drain_s": times[-1] - times[0], "calls": calls, "times": times}


@pytest.mark.parametrize("whole_seconds", [False, True])
def test_a_burst_of_100_is_paced_and_drains_faster_under_backlog(
    table: StateTable, clock: ManualClock, whole_seconds: bool
) -> None:
    limiter = FleetRateLimiter(table, base_rate=1.0, max_rate=10.0, burst=1.0)
    result = simulate_burst(limiter, clock, 100, whole_seconds=whole_seconds)
    assert result["admitted"] == 100
    # Waiters come back on whole seconds, so the bucket holds a second's worth: capacity 10 at 10 req/s.
    assert_token_bucket_bound(result["times"], rate=10.0, capacity=10.0)
    # At a flat 1 req/s the burst would take 99 s; the backlog rule brings it well under half that.
    assert result["drain_s"] <= 15
    assert result["calls"] / 100 < 3.5  # each email asks only a few times (each ask is a state transition)


class GenesysBudget:
    """Genesys' per-token rate limit as a fixed window (300 requests per 60 s by default), with the
    ``inin-ratelimit-*`` headers of each answer."""

    def __init__(self, allowed: int, window_s: float) -> None:
        self.allowed, self.window_s = allowed, window_s
        self.window_start: float | None = None
        self.count = 0

    def call(self, now: float) -> tuple[bool, RateLimitInfo]:
        if self.window_start is None or now >= self.window_start + self.window_s:
            self.window_start, self.count = now, 0
        self.count += 1
        reset = self.window_start + self.window_s - now
        info = RateLimitInfo(allowed=self.allowed, count=min(self.count, self.allowed), reset_seconds=reset)
        return self.count <= self.allowed, info


@pytest.mark.parametrize(("allowed", "window_s"), [(300, 60.0), (50, 10.0)])
def test_a_burst_of_100_against_the_genesys_budget_sees_no_429(
    table: StateTable, clock: ManualClock, allowed: int, window_s: float
) -> None:
    """The guide's trap 1: 100 urgent emails at once. Fed the headers, the limiter paces them under the
    budget (300/min is the Genesys default; 50 per 10 s is a stricter, bursty one) with no 429 at all."""
    limiter = FleetRateLimiter(table)
    genesys = GenesysBudget(allowed, window_s)
    queue = [(clock.now(), i) for i in range(100)]
    heapq.heapify(queue)
    initiated, rate_limited = 0, 0
    while queue:
        when, email = heapq.heappop(queue)
        clock.set(when)
        wait = limiter.try_acquire(f"email-{email}")
        if wait > 0:
            heapq.heappush(queue, (when + max(1, math.ceil(wait)), email))
            continue
        accepted, info = genesys.call(when)
        if not accepted:  # what the workflow does on a 429: feed the limiter, retry 10 s later
            rate_limited += 1
            limiter.record_rate_limited(info.reset_seconds or 1.0)
            heapq.heappush(queue, (when + 10, email))
            continue
        limiter.record_headers(info)
        initiated += 1
    assert initiated == 100
    assert rate_limited == 0
    assert clock.now() - START <= 30


def test_a_429_blocks_for_retry_after_and_halves_the_ceiling(table: StateTable, clock: ManualClock) -> None:
    rates: list[float] = []
    limiter = FleetRateLimiter(
        table, base_rate=1.0, max_rate=10.0, waiters_per_step=10, on_rate_change=rates.append
    )
    limiter.try_acquire("admitted")
    for i in range(40):
        limiter.try_acquire(f"waiting-{i}")
    assert limiter.current_rate() == pytest.approx(5.0)
    limiter.record_rate_limited(retry_after_s=4)
    assert rates[-1] == pytest.approx(2.5)
    assert limiter.try_acquire("waiting-0") >= 4.0
    clock.advance(1)
    limiter.record_rate_limited(retry_after_s=4)  # an in-flight request's 429: not a second halving
    assert limiter.snapshot().ceiling == pytest.approx(2.5)
    assert limiter.snapshot().blocked_until == pytest.approx(START + 5)


def test_rate_stays_under_the_ceiling_until_a_quiet_period_then_recovers(
    table: StateTable, clock: ManualClock
) -> None:
    limiter = FleetRateLimiter(
        table, base_rate=1.0, max_rate=10.0, quiet_period_s=60, recovery_per_s=0.5, waiter_grace_s=1000
    )
    limiter.try_acquire("admitted")
    for i in range(100):
        limiter.try_acquire(f"waiting-{i}")  # backlog: demand is max_rate
    assert limiter.current_rate() == pytest.approx(10.0)
    limiter.record_rate_limited(retry_after_s=1)
    clock.advance(59)
    assert limiter.current_rate() == pytest.approx(5.0)  # backlog or not, no rise in the quiet period
    clock.advance(1 + 4)
    assert limiter.current_rate() == pytest.approx(7.0)  # 5 + 0.5/s * 4 s
    clock.advance(20)
    assert limiter.current_rate() == pytest.approx(10.0)
    assert limiter.snapshot().ceiling is None


def test_repeated_429s_never_push_the_rate_below_the_floor(table: StateTable, clock: ManualClock) -> None:
    limiter = FleetRateLimiter(table, base_rate=1.0, max_rate=10.0, min_rate=0.2)
    for _ in range(10):
        limiter.record_rate_limited(retry_after_s=1)
        clock.advance(3)
    assert limiter.current_rate() == pytest.approx(0.2)


def test_admissions_after_a_429_respect_the_lowered_ceiling(table: StateTable, clock: ManualClock) -> None:
    limiter = FleetRateLimiter(table, base_rate=2.0, max_rate=2.0, min_rate=0.2)
    limiter.record_rate_limited(retry_after_s=3)  # ceiling 1.0 req/s, blocked for 3 s
    admitted: list[float] = []
    for _ in range(100):  # poll every 0.25 s (exact in binary floating point) for 25 s
        if limiter.try_acquire("poller") == 0.0:
            admitted.append(clock.now())
        clock.advance(0.25)
    assert admitted[0] >= START + 3 + 1.0 - SLACK  # empty bucket at the end of the block
    assert_token_bucket_bound(admitted, rate=1.0, capacity=1.0)
    assert len(admitted) >= 20


def test_rate_limit_headers_slow_down_before_a_429(
    counting: tuple[StateTable, CountingClient], clock: ManualClock
) -> None:
    table, client = counting
    limiter = FleetRateLimiter(table, base_rate=1.0, max_rate=10.0)
    limiter.record_headers(RateLimitInfo(allowed=300, count=10, reset_seconds=30))
    assert client.total() == 0  # plenty left: no write
    limiter.record_headers(RateLimitInfo(allowed=300, count=295, reset_seconds=20))
    assert limiter.current_rate() == pytest.approx(0.25)  # 5 left over 20 s
    client.reset()
    limiter.record_headers(RateLimitInfo(allowed=300, count=295, reset_seconds=19))
    assert client.total() == 0  # the same news from the next answer: no write
    limiter.record_headers(RateLimitInfo(allowed=300, count=300, reset_seconds=7))
    assert limiter.try_acquire("exec") >= 7.0
    clock.advance(60)  # past the reset window, and past the grace of the one waiter
    assert limiter.current_rate() == pytest.approx(1.0)


def test_concurrent_callers_never_take_more_than_the_tokens(
    threaded_table: StateTable, clock: ManualClock
) -> None:
    limiter = FleetRateLimiter(threaded_table, base_rate=1.0, max_rate=1.0, burst=3.0, max_attempts=50)
    admitted_total = 0
    for round_ in range(4):
        results = run_concurrently(12, lambda i, r=round_: limiter.try_acquire(f"r{r}-exec-{i}"))
        assert all(isinstance(r, float) for r in results), results
        admitted = sum(1 for r in results if r == 0.0)
        assert admitted == (3 if round_ == 0 else 2)  # full bucket first, then 2 s of refill
        admitted_total += admitted
        clock.advance(2)
    assert admitted_total == 3 + 2 * 3


def test_round_trips(counting: tuple[StateTable, CountingClient]) -> None:
    table, client = counting
    limiter = FleetRateLimiter(table)
    limiter.try_acquire("a")
    assert dict(client.calls) == {"get_item": 1, "put_item": 1}
    client.reset()
    limiter.try_acquire("b")  # denied: still read + write (the waiter is recorded)
    assert client.total() == 2
    client.reset()
    limiter.record_success()
    assert client.total() == 0
    limiter.record_rate_limited(2)
    assert client.total() == 2


# --- property: the bucket never admits more than rate * elapsed + burst -------------------------

_names = itertools.count()

# Mostly tiny clock steps (a crowd asking at once), sometimes long idle spells that fill the bucket.
clock_steps = st.one_of(
    st.sampled_from([0.0, 0.0, 0.0, 0.05, 0.1, 0.25, 1.0, 4.0]),
    st.floats(min_value=0.0, max_value=3.0, allow_nan=False),
)
events = st.lists(
    st.tuples(
        clock_steps,
        st.integers(min_value=0, max_value=7),  # which requester
        st.sampled_from(["ask"] * 12 + ["429"]),
    ),
    min_size=1,
    max_size=60,
)


PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples in CI every time
    database=None,
)


def property_limiter(dynamodb: Any, clock: ManualClock, **options: float) -> FleetRateLimiter:
    name = f"prop-{next(_names)}"  # one bucket per example, in one table per module
    if "property" not in dynamodb.list_tables()["TableNames"]:
        StateTable.create_table(dynamodb, "property")
    table = StateTable("property", dynamodb_client=dynamodb, clock=clock)
    return FleetRateLimiter(table, name=name, min_rate=0.1, **options)


@PROPERTY_SETTINGS
@given(
    events=events,
    base_rate=st.floats(min_value=0.2, max_value=3.0),
    growth=st.floats(min_value=1.0, max_value=4.0),
    burst=st.floats(min_value=1.0, max_value=3.0),
)
def test_property_admissions_never_exceed_rate_times_elapsed_plus_capacity(
    dynamodb: Any, events: list[tuple[float, int, str]], base_rate: float, growth: float, burst: float
) -> None:
    """Any mix of asks and 429s: never more than capacity + max_rate * T, and nothing while blocked."""
    clock = ManualClock(START)
    max_rate = base_rate * growth
    limiter = property_limiter(dynamodb, clock, base_rate=base_rate, max_rate=max_rate, burst=burst)
    admitted: list[float] = []
    blocked_until = 0.0
    for step, who, kind in events:
        clock.advance(step)
        if kind == "429":
            limiter.record_rate_limited(retry_after_s=step)
            blocked_until = max(blocked_until, clock.now() + step)
            continue
        wait = limiter.try_acquire(f"exec-{who}")
        assert wait >= 0.0
        if wait == 0.0:
            assert clock.now() >= blocked_until, "admitted while Genesys said to back off"
            admitted.append(clock.now())
    assert_token_bucket_bound(admitted, rate=max_rate, capacity=limiter.capacity(max_rate))


@PROPERTY_SETTINGS
@given(
    steps=st.lists(st.tuples(clock_steps, st.integers(min_value=0, max_value=7)), min_size=1, max_size=60),
    rate=st.floats(min_value=0.2, max_value=3.0),
    burst=st.floats(min_value=1.0, max_value=3.0),
)
def test_property_at_a_fixed_rate_the_bound_is_tight(
    dynamodb: Any, steps: list[tuple[float, int]], rate: float, burst: float
) -> None:
    """With base = max there is no backlog boost: admissions <= max(burst, rate * 1 s) + rate * T."""
    clock = ManualClock(START)
    limiter = property_limiter(dynamodb, clock, base_rate=rate, max_rate=rate, burst=burst)
    admitted: list[float] = []
    for step, who in steps:
        clock.advance(step)
        if limiter.try_acquire(f"exec-{who}") == 0.0:
            admitted.append(clock.now())
    assert_token_bucket_bound(admitted, rate=rate, capacity=max(burst, rate))
