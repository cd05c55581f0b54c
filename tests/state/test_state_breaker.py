from __future__ import annotations

import itertools
from typing import Any

import pytest
from email2chat.clock import ManualClock
from email2chat.errors import BreakerOpen
from email2chat.state.breaker import BreakerPermit, BreakerState, CircuitBreaker
from email2chat.state.table import StateTable
from hypothesis import example, given, settings
from hypothesis import strategies as st

from .conftest import START, CountingClient, run_concurrently

Transitions = list[tuple[BreakerState, BreakerState]]


def make(
    table: StateTable,
    transitions: Transitions | None = None,
    *,
    name: str = "genesys-initiate",
    **overrides: int,
) -> CircuitBreaker:
    settings = {"failure_threshold": 3, "window_s": 60, "open_s": 30, "probe_lease_s": 20} | overrides
    on_transition = None if transitions is None else lambda a, b: transitions.append((a, b))
    return CircuitBreaker(table, name=name, on_transition=on_transition, **settings)


def fail(breaker: CircuitBreaker, times: int, caller: str = "lambda") -> None:
    for i in range(times):
        breaker.record_failure(breaker.before_call(f"{caller}-{i}"))


def open_breaker(breaker: CircuitBreaker) -> None:
    fail(breaker, breaker.failure_threshold)
    assert breaker.state() is BreakerState.OPEN


def test_closed_breaker_permits_ordinary_calls(table: StateTable) -> None:
    permit = make(table).before_call("exec-1")
    assert permit == BreakerPermit(is_probe=False, holder="exec-1")


def test_threshold_failures_within_the_window_open_it(table: StateTable, clock: ManualClock) -> None:
    transitions: Transitions = []
    breaker = make(table, transitions)
    fail(breaker, 2)
    clock.advance(59)
    assert breaker.state() is BreakerState.CLOSED
    fail(breaker, 1)
    assert breaker.state() is BreakerState.OPEN
    assert transitions == [(BreakerState.CLOSED, BreakerState.OPEN)]
    with pytest.raises(BreakerOpen) as refused:
        breaker.before_call("exec-x")
    assert refused.value.retry_after == pytest.approx(30)


def test_failures_spread_over_more_than_the_window_do_not_open_it(
    table: StateTable, clock: ManualClock
) -> None:
    breaker = make(table)
    for _ in range(6):
        fail(breaker, 1)
        clock.advance(31)  # at most 2 failures in any 60 s window starting at a failure
    assert breaker.state() is BreakerState.CLOSED


def test_ordinary_success_does_not_reset_the_count(table: StateTable) -> None:
    breaker = make(table)
    fail(breaker, 2)
    breaker.record_success(breaker.before_call("ok"))
    fail(breaker, 1)
    assert breaker.state() is BreakerState.OPEN


def test_after_open_s_exactly_one_caller_probes(table: StateTable, clock: ManualClock) -> None:
    transitions: Transitions = []
    breaker = make(table, transitions)
    open_breaker(breaker)
    clock.advance(29.9)
    with pytest.raises(BreakerOpen):
        breaker.before_call("early")
    clock.advance(0.1)
    assert breaker.state() is BreakerState.HALF_OPEN
    probe = breaker.before_call("prober")
    assert probe.is_probe
    with pytest.raises(BreakerOpen) as refused:
        breaker.before_call("other")
    assert refused.value.retry_after == pytest.approx(20)
    assert breaker.before_call("prober").is_probe  # a retried step keeps its probe
    assert transitions[-1] == (BreakerState.OPEN, BreakerState.HALF_OPEN)


def test_probe_success_closes_and_clears_the_count(table: StateTable, clock: ManualClock) -> None:
    transitions: Transitions = []
    breaker = make(table, transitions)
    open_breaker(breaker)
    clock.advance(30)
    breaker.record_success(breaker.before_call("prober"))
    assert breaker.state() is BreakerState.CLOSED
    assert transitions[-1] == (BreakerState.HALF_OPEN, BreakerState.CLOSED)
    fail(breaker, 2)  # a fresh count: 2 < 3
    assert breaker.state() is BreakerState.CLOSED
    assert not breaker.before_call("next").is_probe


def test_probe_failure_reopens_for_a_new_period(table: StateTable, clock: ManualClock) -> None:
    transitions: Transitions = []
    breaker = make(table, transitions)
    open_breaker(breaker)
    clock.advance(30)
    breaker.record_failure(breaker.before_call("prober"))
    assert transitions[-1] == (BreakerState.HALF_OPEN, BreakerState.OPEN)
    clock.advance(29)
    with pytest.raises(BreakerOpen):
        breaker.before_call("another")
    clock.advance(1)
    assert breaker.before_call("another").is_probe


def test_a_silent_probe_loses_its_lease_to_a_successor(table: StateTable, clock: ManualClock) -> None:
    breaker = make(table, [])
    open_breaker(breaker)
    clock.advance(30)
    breaker.before_call("crashed")
    clock.advance(19)
    with pytest.raises(BreakerOpen):
        breaker.before_call("successor")
    clock.advance(1)  # probe_lease_s
    assert breaker.before_call("successor").is_probe


def _probe_outlasting_its_lease(
    table: StateTable, clock: ManualClock, transitions: Transitions
) -> tuple[CircuitBreaker, BreakerPermit, BreakerPermit]:
    """(breaker, the slow probe, its successor): the slow one's lease ran out, the successor is in flight."""
    breaker = make(table, transitions)
    open_breaker(breaker)
    clock.advance(30)
    slow = breaker.before_call("slow")
    clock.advance(25)  # past probe_lease_s
    successor = breaker.before_call("successor")
    assert successor.is_probe
    return breaker, slow, successor


def test_a_probe_answering_after_its_lease_still_closes_a_half_open_breaker(
    table: StateTable, clock: ManualClock
) -> None:
    # One POST with its timeouts can outlast the lease: its success is still Genesys answering.
    transitions: Transitions = []
    breaker, slow, successor = _probe_outlasting_its_lease(table, clock, transitions)
    breaker.record_success(slow)
    assert breaker.state() is BreakerState.CLOSED
    assert transitions[-1] == (BreakerState.HALF_OPEN, BreakerState.CLOSED)
    breaker.record_failure(successor)  # now an ordinary failure: counted, below the threshold
    assert breaker.state() is BreakerState.CLOSED
    assert breaker.before_call("next").is_probe is False


def test_a_probe_failing_after_its_lease_still_reopens_a_half_open_breaker(
    table: StateTable, clock: ManualClock
) -> None:
    transitions: Transitions = []
    breaker, slow, _ = _probe_outlasting_its_lease(table, clock, transitions)
    breaker.record_failure(slow)
    assert breaker.state() is BreakerState.OPEN
    assert transitions[-1] == (BreakerState.HALF_OPEN, BreakerState.OPEN)


def test_a_probe_from_an_earlier_half_open_period_decides_nothing_in_a_later_one(
    table: StateTable, clock: ManualClock
) -> None:
    transitions: Transitions = []
    breaker, stale, successor = _probe_outlasting_its_lease(table, clock, transitions)
    breaker.record_failure(successor)  # re-opens: a new period
    clock.advance(30)
    current = breaker.before_call("current")
    assert current.is_probe
    breaker.record_failure(stale)  # from the first period: counted, but it re-opens nothing
    assert breaker.state() is BreakerState.HALF_OPEN
    breaker.record_success(current)
    assert breaker.state() is BreakerState.CLOSED


def test_a_probe_elected_on_a_stale_read_does_not_report_the_breaker_opening_to_half_open_again(
    table: StateTable, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    transitions: Transitions = []
    breaker = make(table, transitions)
    open_breaker(breaker)
    clock.advance(30)
    stale = table.get("BREAKER#genesys-initiate", "STATE")  # a slow Lambda read the OPEN item ...
    assert breaker.before_call("first").is_probe  # ... before another one was elected
    clock.advance(20)  # the first probe's lease ran out
    monkeypatch.setattr(table, "get", lambda *_: stale)
    assert breaker.before_call("second").is_probe
    assert transitions.count((BreakerState.OPEN, BreakerState.HALF_OPEN)) == 1


def test_late_failures_while_open_do_not_retrip_or_notify(table: StateTable) -> None:
    transitions: Transitions = []
    breaker = make(table, transitions)
    permits = [breaker.before_call(f"in-flight-{i}") for i in range(6)]
    for permit in permits:  # calls admitted while closed, all failing
        breaker.record_failure(permit)
    assert transitions == [(BreakerState.CLOSED, BreakerState.OPEN)]


def test_many_concurrent_callers_elect_exactly_one_probe(
    threaded_table: StateTable, clock: ManualClock
) -> None:
    breaker = make(threaded_table)
    for round_ in range(5):
        open_breaker(breaker)
        clock.advance(30)
        results = run_concurrently(16, lambda i, r=round_: breaker.before_call(f"r{r}-caller-{i}"))
        probes = [r for r in results if isinstance(r, BreakerPermit)]
        assert len(probes) == 1, results
        assert probes[0].is_probe
        assert all(isinstance(r, BreakerOpen) for r in results if r is not probes[0])
        breaker.record_success(probes[0])
        assert breaker.state() is BreakerState.CLOSED


def test_concurrent_failures_are_all_counted_and_trip_once(threaded_table: StateTable) -> None:
    transitions: Transitions = []
    breaker = make(threaded_table, transitions, failure_threshold=1000)
    permits = [breaker.before_call(f"c{i}") for i in range(24)]
    run_concurrently(24, lambda i: breaker.record_failure(permits[i]))
    item = threaded_table.get("BREAKER#genesys-initiate", "STATE")
    assert item is not None
    assert item["failures"] == 24  # atomic ADD: no lost update

    tripping = make(threaded_table, transitions, name="other", failure_threshold=5)
    permits = [tripping.before_call(f"d{i}") for i in range(12)]
    run_concurrently(12, lambda i: tripping.record_failure(permits[i]))
    assert transitions == [(BreakerState.CLOSED, BreakerState.OPEN)]


def test_round_trips(counting: tuple[StateTable, CountingClient], clock: ManualClock) -> None:
    table, client = counting
    breaker = make(table)
    permit = breaker.before_call("a")
    assert client.total() == 1
    client.reset()
    breaker.record_success(permit)
    assert client.total() == 0
    breaker.record_failure(permit)  # starts a window: a failed ADD then a SET
    assert client.total() == 2
    client.reset()
    breaker.record_failure(permit)  # inside the window: one ADD
    assert client.total() == 1
    client.reset()
    breaker.record_failure(permit)  # trips: ADD + the conditional open
    assert client.total() == 2
    clock.advance(30)
    client.reset()
    probe = breaker.before_call("p")
    assert client.total() == 2  # read + the election
    client.reset()
    breaker.record_success(probe)
    assert client.total() == 1


# --- differential property: the DynamoDB breaker behaves like a plain in-memory model ---------------


class ReferenceBreaker:
    """The documented semantics in plain Python, to check the DynamoDB expressions against."""

    def __init__(self, threshold: int, window_s: float, open_s: float, lease_s: float) -> None:
        self.threshold, self.window_s, self.open_s, self.lease_s = threshold, window_s, open_s, lease_s
        self.state = BreakerState.CLOSED
        self.window_start: float | None = None
        self.failures = 0
        self.open_until = 0.0
        self.opened_at = 0.0  # the open period a probe belongs to
        self.holder: str | None = None
        self.probe_until = 0.0

    def before_call(self, caller: str, now: float) -> bool | None:
        """True: probe permit, False: ordinary permit, None: refused."""
        if self.state is BreakerState.CLOSED:
            return False
        if self.state is BreakerState.OPEN and now < self.open_until:
            return None
        if self.state is BreakerState.HALF_OPEN and self.holder == caller:
            return True
        if self.state is BreakerState.HALF_OPEN and now < self.probe_until:
            return None
        self.state, self.holder, self.probe_until = BreakerState.HALF_OPEN, caller, now + self.lease_s
        return True

    def record_failure(self, is_probe: bool, episode: float, now: float) -> None:
        if is_probe and self.state is BreakerState.HALF_OPEN and episode == self.opened_at:
            self._open(now)  # late or not, a probe decides its own period
            return
        if self.window_start is not None and self.window_start > now - self.window_s:
            self.failures += 1
        else:
            self.failures, self.window_start = 1, now
        if self.failures >= self.threshold and self.state is BreakerState.CLOSED:
            self._open(now)

    def record_success(self, is_probe: bool, episode: float) -> None:
        if is_probe and self.state is BreakerState.HALF_OPEN and episode == self.opened_at:
            self.state, self.failures, self.window_start, self.holder = BreakerState.CLOSED, 0, None, None

    def _open(self, now: float) -> None:
        self.state, self.open_until, self.opened_at, self.holder = (
            BreakerState.OPEN,
            now + self.open_s,
            now,
            None,
        )

    def effective_state(self, now: float) -> BreakerState:
        if self.state is BreakerState.OPEN and now >= self.open_until:
            return BreakerState.HALF_OPEN
        return self.state


_breaker_names = itertools.count()
breaker_steps = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.5, 1.0, 5.0, 10.0, 19.0, 20.0, 29.0, 30.0, 61.0]),  # clock step
        st.integers(min_value=0, max_value=2),  # caller
        # what the call then reports; "hold": it answers in a later step, perhaps after its lease
        st.sampled_from(["success", "failure", "failure", "silent", "hold", "hold"]),
        st.sampled_from([None, None, "success", "failure"]),  # the oldest held call answers first
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(steps=breaker_steps, threshold=st.integers(min_value=1, max_value=3))
@example(  # a probe answers after its lease ran out and a successor took over: its success still closes
    steps=[
        (0.0, 0, "failure", None),
        (30.0, 1, "hold", None),
        (20.0, 2, "silent", None),
        (0.0, 0, "silent", "success"),
    ],
    threshold=1,
)
@example(  # ... and a probe of an earlier open period decides nothing in a later one
    steps=[
        (0.0, 0, "failure", None),
        (30.0, 1, "hold", None),
        (20.0, 2, "failure", None),
        (30.0, 0, "hold", None),  # the next period's probe
        (0.0, 1, "silent", "failure"),  # the first period's probe fails now
    ],
    threshold=1,
)
def test_property_breaker_matches_the_reference_model(
    dynamodb: Any, steps: list[tuple[float, int, str, str | None]], threshold: int
) -> None:
    clock = ManualClock(START)
    name = f"model-{next(_breaker_names)}"
    if "model" not in dynamodb.list_tables()["TableNames"]:
        StateTable.create_table(dynamodb, "model")
    table = StateTable("model", dynamodb_client=dynamodb, clock=clock)
    breaker = CircuitBreaker(
        table, name=name, failure_threshold=threshold, window_s=60, open_s=30, probe_lease_s=20
    )
    model = ReferenceBreaker(threshold, 60, 30, 20)
    held: list[tuple[BreakerPermit, float]] = []  # (permit, the model's episode for it)

    def report(permit: BreakerPermit, episode: float, outcome: str) -> None:
        if outcome == "failure":
            breaker.record_failure(permit)
            model.record_failure(permit.is_probe, episode, clock.now())
        else:
            breaker.record_success(permit)
            model.record_success(permit.is_probe, episode)

    for step, who, outcome, held_answer in steps:
        clock.advance(step)
        if held and held_answer is not None:
            report(*held.pop(0), held_answer)
        now, caller = clock.now(), f"exec-{who}"
        expected = model.before_call(caller, now)
        try:
            permit: BreakerPermit | None = breaker.before_call(caller)
        except BreakerOpen:
            permit = None
        assert (None if permit is None else permit.is_probe) == expected, (step, caller, model.state)
        if permit is not None and outcome in ("success", "failure"):
            report(permit, model.opened_at, outcome)
        elif permit is not None and outcome == "hold":
            held.append((permit, model.opened_at))
        assert breaker.state() is model.effective_state(now)
