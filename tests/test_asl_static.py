"""Static checks of the state machine definition (cfn-lint and sam validate do not look inside the ASL)."""

from __future__ import annotations

import json
import math
import re
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from email2chat import errors
from email2chat.state.outcomes import Outcome

ROOT = Path(__file__).resolve().parents[1]
ASL_PATH = ROOT / "statemachine" / "upgrade.asl.json"
TEMPLATE_PATH = ROOT / "template.yaml"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
GUIDE_STATES = (
    "CollisionCheck",
    "Initiate",
    "Notify",
    "AwaitAnswer",
    "CheckStatus",
    "Fallback",
    "Cleanup",
    "Defer",
    "RecordOutcome",
)


def _definition() -> dict[str, Any]:
    text = ASL_PATH.read_text()
    # Numeric substitutions sit unquoted (SAM replaces them before parsing); ARNs sit inside strings.
    text = PLACEHOLDER.sub(lambda m: m.group(0) if m.group(1).endswith("Arn") else "7", text)
    return json.loads(text)


@pytest.fixture(scope="module")
def states() -> dict[str, dict[str, Any]]:
    return _definition()["States"]


def _edges(state: dict[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    if "Default" in state:
        targets.append(state["Default"])
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return targets


def _reachable(states: dict[str, dict[str, Any]], start: str, *, without: str | None = None) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for target in _edges(states[queue.popleft()]):
            if target != without and target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _is_terminal(state: dict[str, Any]) -> bool:
    return state["Type"] in {"Succeed", "Fail"} or state.get("End") is True


def test_every_transition_target_exists(states: dict[str, dict[str, Any]]) -> None:
    missing = {(name, t) for name, state in states.items() for t in _edges(state) if t not in states}
    assert not missing


def test_every_state_is_reachable_from_start() -> None:
    definition = _definition()
    assert set(definition["States"]) == _reachable(definition["States"], definition["StartAt"])


def test_every_task_has_retry_and_catch(states: dict[str, dict[str, Any]]) -> None:
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}
    assert set(GUIDE_STATES) <= set(tasks)
    assert all(s.get("Retry") or s.get("Catch") for s in tasks.values())
    # Every step that can fail is also caught, so no path ends without RecordOutcome.
    assert all(s.get("Catch") for s in tasks.values())


def test_no_terminal_state_is_reachable_without_record_outcome() -> None:
    definition = _definition()
    states = definition["States"]
    around = _reachable(states, definition["StartAt"], without="RecordOutcome")
    assert not [name for name in around if _is_terminal(states[name])]
    # and RecordOutcome itself leads only to terminal states
    assert all(_is_terminal(states[t]) for t in _edges(states["RecordOutcome"]))


def test_only_record_outcome_reaches_the_end(states: dict[str, dict[str, Any]]) -> None:
    predecessors = {name for name, s in states.items() for t in _edges(s) if _is_terminal(states[t])}
    assert predecessors == {"RecordOutcome"}


def test_error_names_are_our_typed_errors_or_states_errors(states: dict[str, dict[str, Any]]) -> None:
    names = {
        error
        for state in states.values()
        for rule in state.get("Retry", []) + state.get("Catch", [])
        for error in rule["ErrorEquals"]
    }
    ours = {n for n in names if not n.startswith(("States.", "Lambda."))}
    assert ours, "the state machine should retry/catch our typed errors"
    for name in ours:
        assert isinstance(getattr(errors, name, None), type), name
        assert issubclass(getattr(errors, name), errors.Email2ChatError)


def test_outcomes_set_by_pass_states_are_the_eight_names(states: dict[str, dict[str, Any]]) -> None:
    set_by_pass = {
        s.get("Result", s.get("Parameters"))["outcome"]
        for s in states.values()
        if s["Type"] == "Pass" and "outcome" in s.get("Result", s.get("Parameters", {}))
    }
    assert set_by_pass <= {o.value for o in Outcome}
    assert {"collision_skipped", "cooldown_skipped", "connected"} <= set_by_pass


def test_timings_are_substitutions() -> None:
    text = ASL_PATH.read_text()
    used = set(PLACEHOLDER.findall(text))
    assert {"AwaitAnswerTimeoutSeconds", "RetryIntervalSeconds", "RateLimitMaxAttempts"} <= used
    raw = json.loads(PLACEHOLDER.sub(lambda m: m.group(0) if m.group(1).endswith("Arn") else "0", text))
    initiate_retry = {tuple(r["ErrorEquals"]): r for r in raw["States"]["Initiate"]["Retry"]}
    assert ("RateLimited",) in initiate_retry
    assert (
        '"IntervalSeconds": ${RetryIntervalSeconds},\n          "MaxAttempts": ${RateLimitMaxAttempts}'
        in text
    )


def test_await_answer_waits_for_a_task_token_and_times_out_to_check_status(
    states: dict[str, dict[str, Any]],
) -> None:
    await_answer = states["AwaitAnswer"]
    assert await_answer["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert await_answer["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert "TimeoutSeconds" in await_answer
    timeout_catch = [c for c in await_answer["Catch"] if "States.Timeout" in c["ErrorEquals"]]
    assert timeout_catch
    assert timeout_catch[0]["Next"] == "CheckStatus"
    # moto does not match States.HeartbeatTimeout; no heartbeat is configured.
    assert "HeartbeatSeconds" not in await_answer


def test_throttled_initiate_waits_in_the_workflow(states: dict[str, dict[str, Any]]) -> None:
    choice = states["InitiateResultChoice"]
    throttled = next(c for c in choice["Choices"] if c.get("StringEquals") == "throttled")
    wait = states[throttled["Next"]]
    assert wait["Type"] == "Wait"
    assert wait["SecondsPath"] == "$.initiate.wait_seconds"
    assert wait["Next"] == "Initiate"


def test_breaker_open_defers(states: dict[str, dict[str, Any]]) -> None:
    deferring = [c for c in states["Initiate"]["Catch"] if "BreakerOpen" in c["ErrorEquals"]]
    assert deferring
    assert deferring[0]["Next"] == "Defer"


def test_a_conversation_genesys_does_not_have_ends_invalid_not_deferred(
    states: dict[str, dict[str, Any]],
) -> None:
    # A 404 cannot heal: deferring it would retry a dead email for the whole retry window (an hour).
    catchers = states["CollisionCheck"]["Catch"]
    names = [name for catcher in catchers for name in catcher["ErrorEquals"]]
    assert names.index("NotFound") < names.index("States.ALL")
    not_found = states[next(c["Next"] for c in catchers if "NotFound" in c["ErrorEquals"])]
    assert not_found["Result"]["outcome"] == Outcome.INVALID.value
    assert not_found["Next"] == "RecordOutcome"


def test_a_push_service_outage_defers_the_upgrade_and_a_refused_push_cleans_up(
    states: dict[str, dict[str, Any]],
) -> None:
    catchers = {name: c["Next"] for c in states["Notify"]["Catch"] for name in c["ErrorEquals"]}
    retried = {name for retrier in states["Notify"]["Retry"] for name in retrier["ErrorEquals"]}
    for maybe_delivered in ("Timeout", "OutcomeUnknown"):  # a push has no idempotency key: never repeat it
        assert catchers[maybe_delivered] == "AwaitAnswer"
        assert maybe_delivered not in retried
    for transient in ("ServerError", "RateLimited"):
        unavailable = states[catchers[transient]]
        assert unavailable["Result"] == {"status": "notify_failed"}  # RecordOutcome: not prompted
        assert unavailable["ResultPath"] == "$.check"
        assert unavailable["Next"] == "Defer"
    assert states[catchers["States.ALL"]]["Next"] == "Cleanup"


def _template_default(parameter: str) -> int:
    found = re.search(rf"\n  {parameter}:\s*Type: Number\s*Default: (\d+)", TEMPLATE_PATH.read_text())
    assert found is not None, parameter
    return int(found.group(1))


def _states_at_template_defaults() -> dict[str, dict[str, Any]]:
    text = PLACEHOLDER.sub(
        lambda m: m.group(0) if m.group(1).endswith("Arn") else str(_template_default(m.group(1))),
        ASL_PATH.read_text(),
    )
    return json.loads(text)["States"]


def _ladder_seconds(retrier: dict[str, Any]) -> float:
    """How long a retrier waits in all when every attempt fails."""
    return sum(
        min(
            retrier["IntervalSeconds"] * retrier["BackoffRate"] ** n, retrier.get("MaxDelaySeconds", math.inf)
        )
        for n in range(retrier["MaxAttempts"])
    )


@pytest.mark.parametrize("state", ["CheckStatus", "Fallback", "Cleanup", "Defer"])
def test_after_the_push_a_genesys_outage_is_outlasted_for_twenty_minutes(state: str) -> None:
    """Nothing can be deferred once the customer was prompted (a new attempt would prompt again), so the
    read, the fallback and the follow-up wait out a Genesys outage in their retries, and so does a final
    deferral closing its chat leg: at the template's defaults 10 + 20 + 40 + 80 + 160 + 300 + 300 + 300 s."""
    retriers = _states_at_template_defaults()[state]["Retry"]
    for error in ("ServerError", "Timeout", "MalformedResponse"):
        (retrier,) = [r for r in retriers if error in r["ErrorEquals"]]
        assert 1_100 <= _ladder_seconds(retrier) <= 1_500, (state, error)


@pytest.mark.parametrize("step", ["Fallback", "Cleanup"])
def test_a_customer_email_genesys_cannot_take_in_the_retries_is_queued_for_later(
    states: dict[str, dict[str, Any]], step: str
) -> None:
    catches = {tuple(c["ErrorEquals"]): c["Next"] for c in states[step]["Catch"]}
    later = catches[("ServerError", "Timeout", "MalformedResponse", "RateLimited")]

    assert states[later]["Result"] == {"step": step.lower()}
    assert states[later]["Next"] == "QueueLateEmail"
    assert catches[("States.ALL",)] == f"{step}Failed"  # refused for good: nothing to wait for
    not_queued = states[states["QueueLateEmail"]["Catch"][0]["Next"]]
    reached = {c["Next"] for c in not_queued["Choices"]} | {not_queued["Default"]}
    assert f"{step}Failed" in reached


def test_a_garbled_answer_to_initiate_is_retried_then_deferred_like_a_timeout(
    states: dict[str, dict[str, Any]],
) -> None:
    """A garbled 200 may hide a leg that was created: Initiate's next attempt reads back and adopts it.
    It used to end InitiateFailed (a final deferral that closed the leg)."""
    initiate = states["Initiate"]
    (retrier,) = [r for r in initiate["Retry"] if "Timeout" in r["ErrorEquals"]]
    (to_defer,) = [c for c in initiate["Catch"] if c["Next"] == "Defer"]

    assert "MalformedResponse" in retrier["ErrorEquals"]
    assert "MalformedResponse" in to_defer["ErrorEquals"]


def test_the_session_lock_outlasts_the_longest_workflow_path() -> None:
    """The lease frees only the conversation of a dead execution: a live one must never lose its lock, even
    with every retry ladder on its path spent, the 5-minute wait and the throttle waits."""
    states = _states_at_template_defaults()
    path = (
        "CollisionCheck",
        "Initiate",
        "Notify",
        "AwaitAnswer",
        "CheckStatus",
        "Cleanup",
        "QueueLateEmail",
        "RecordOutcome",
    )
    longest = _template_default("ThrottleMaxWaitSeconds") + sum(
        states[name].get("TimeoutSeconds", 0) + sum(_ladder_seconds(r) for r in states[name].get("Retry", []))
        for name in path
    )

    assert _template_default("SessionLockLeaseSeconds") >= longest, longest


def test_a_deferred_wait_trigger_email_answered_meanwhile_ends_not_urgent(
    states: dict[str, dict[str, Any]],
) -> None:
    (choice,) = [c for c in states["ChatAlreadyActiveChoice"]["Choices"] if c["StringEquals"] == "answered"]
    answered = states[choice["Next"]]
    assert answered["Parameters"]["outcome"] == Outcome.NOT_URGENT.value
    assert (
        answered["Parameters"]["reason.$"] == "$.collision.reason"
    )  # "...; the chat leg it opened was closed"
    assert answered["Next"] == "RecordOutcome"
