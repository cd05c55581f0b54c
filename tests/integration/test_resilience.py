"""Genesys under stress, end to end through the real ASL: a 429 storm is paced and retried to success;
an initiateChat outage opens the breaker, emails are deferred and upgraded after recovery, one probe at a
time (issue 5 and issue 6's outage case: ``--outage-seconds 60``, nothing lost)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_builders import RunPipeline, email_line

from simulator.cli import main
from simulator.runner.pipeline import Outage

pytestmark = pytest.mark.integration


def _windows(breaker: list[dict[str, Any]], state: str, end: float) -> list[tuple[float, float]]:
    """(start, end) of every period the breaker spent in ``state`` (simulated seconds)."""
    windows = []
    for index, transition in enumerate(breaker):
        if transition["to"] == state:
            following = breaker[index + 1]["t"] if index + 1 < len(breaker) else end
            windows.append((transition["t"], following))
    return windows


def test_a_429_storm_is_paced_and_retried_to_success(pipeline_runner: RunPipeline) -> None:
    # 10 emails need ~120 Genesys calls; at 10 per minute that is a storm of 429s (the intake's reads, the
    # initiates, the pushes and the status checks all compete for the one token's budget)
    lines = [email_line(f"storm-{i:02d}", n=i, answer_after_s=3) for i in range(10)]
    result, _ = pipeline_runner(lines, rate_limit_per_minute=10)
    assert result["missing"] == []
    assert result["genesys"]["rate_limited"] > 0  # the storm happened
    assert result["totals"] == {"connected": 10}  # and every email still got its chat
    for email in result["emails"]:
        assert email["chat_legs"] == 1, email["id"]  # a retried POST never made a second leg
        assert email["notifications"] == 1, email["id"]
    assert result["genesys"]["disjointed_conversations"] == []


def test_an_outage_opens_the_breaker_defers_and_recovers_one_probe_at_a_time(tmp_path: Path) -> None:
    """``email2chat simulate --outage-seconds 60``: initiateChat answers 503 for a simulated minute."""
    lines = [email_line(f"outage-{i:02d}", n=i, answer_after_s=3) for i in range(8)]
    scenario = tmp_path / "outage.jsonl"
    scenario.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = tmp_path / "outage.json"
    # 0.1 real s per simulated s: the intake's own Python time stays small against the 60 s outage
    argv = ["simulate", "--scenario", str(scenario), "--json", str(out), "--outage-seconds", "60"]
    code = main([*argv, "--time-scale", "0.1", "--quiet"])
    result = json.loads(out.read_text())
    assert code == 0
    # nothing lost: every email was upgraded once Genesys came back, each with one chat leg
    assert result["missing"] == []
    assert result["totals"] == {"connected": 8}
    assert all(e["chat_legs"] == 1 for e in result["emails"])
    assert any("deferred" in e["history"] for e in result["emails"])  # deferred while the breaker was open
    breaker = result["breaker"]
    path = [(b["from"], b["to"]) for b in breaker]
    assert ("closed", "open") in path
    assert ("open", "half_open") in path
    assert path[-1] == ("half_open", "closed")  # recovered
    initiates = result["genesys"]["initiate_requests"]
    assert any(r["status"] >= 500 for r in initiates)
    end = max(r["t"] for r in initiates) + 1
    # one probe at a time: at most one initiateChat reached Genesys in each half-open period
    for start, stop in _windows(breaker, "half_open", end):
        assert len([r for r in initiates if start <= r["t"] <= stop]) <= 1, (start, stop, initiates)
    # while open nothing new is let through: the only requests are stragglers admitted just before it
    # opened (still failing in the outage), never a successful one
    for start, stop in _windows(breaker, "open", end):
        assert all(r["status"] >= 500 for r in initiates if start < r["t"] < stop), (start, stop, initiates)


def test_a_genesys_read_outage_after_the_push_leaves_the_verdict_to_the_customers_status_events(
    pipeline_runner: RunPipeline,
) -> None:
    """``--outage get_conversation:150-5000``: Genesys cannot be read from before the customers answer until
    long after every retry (the previous code cleaned both up: "timeout_cleanup", no fallback email)."""
    lines = [
        email_line("reads-joins", n=0, customer_action="accept", answer_after_s=250),
        email_line("reads-declines", n=1, customer_action="decline", answer_after_s=250),
    ]
    # time scale 0.02: the upgrade must reach Notify before the outage starts at 150 simulated s, which at
    # 0.01 left 1.5 real seconds on a shared machine (a slow minute once made it defer)
    result, _ = pipeline_runner(
        lines, outages=(Outage("get_conversation", 150, 5000),), time_scale=0.02, timeout_s=180.0
    )

    assert result["missing"] == []
    assert result["genesys"]["errors"] > 0  # the outage happened
    by_id = {email["id"]: email for email in result["emails"]}
    assert by_id["reads-joins"]["outcome"] == "connected"
    assert by_id["reads-declines"]["outcome"] == "declined_fallback"
    assert by_id["reads-declines"]["fallback_emails"] == 1
    for email in result["emails"]:
        assert email["chat_legs"] == 1, email["id"]
        assert email["notifications"] == 1, email["id"]


def test_customer_emails_genesys_cannot_take_within_the_retries_go_out_once_after_the_outage(
    pipeline_runner: RunPipeline,
) -> None:
    """``--outage agentless_email:0-3000``: longer than Fallback's and Cleanup's ~20 minutes of retries
    (the previous code ended both "could not be sent" / "cleanup failed", with no email ever)."""
    lines = [
        email_line("late-declines", n=0, customer_action="decline", answer_after_s=20),
        email_line("late-ignores", n=1, customer_action="ignore"),
    ]
    result, _ = pipeline_runner(lines, outages=(Outage("agentless_email", 0, 3000),))

    assert result["missing"] == []
    assert result["simulated_s"] > 3000  # the emails went out after the outage, not in it
    by_id = {email["id"]: email for email in result["emails"]}
    assert by_id["late-declines"]["outcome"] == "declined_fallback"
    assert by_id["late-ignores"]["outcome"] == "timeout_cleanup"
    for email in result["emails"]:
        assert email["fallback_emails"] == 1, email["id"]
        assert "(late: Genesys was unavailable" in email["reason"], email["id"]
    assert result["dead_letters"] == []


def test_answers_lost_after_genesys_acted_never_make_a_step_act_twice_or_misread_the_customer(
    pipeline_runner: RunPipeline,
) -> None:
    """``--lost-answer-rate 0.2``: a fifth of Genesys's answers come back garbled after the call took effect
    (a leg created, a push sent, an email sent). Before, a garbled initiate ended ``deferred`` with its leg
    closed, and a garbled push ended "push notification failed" with a 'could not reach you' email."""
    expected = {"decline": "declined_fallback", "ignore": "timeout_cleanup", "accept": "connected"}
    actions = ["decline", "ignore", "accept", "accept"] * 3
    lines = [
        email_line(f"lost-{n}", n=n, customer_action=a, answer_after_s=20) for n, a in enumerate(actions)
    ]
    result, _ = pipeline_runner(lines, lost_answer_rate=0.2, time_scale=0.02, timeout_s=300.0)
    by_id = {email["id"]: email for email in result["emails"]}

    assert result["missing"] == []
    assert result["genesys"]["garbled_answers"] > 0
    for n, action in enumerate(actions):
        email = by_id[f"lost-{n}"]
        assert email["outcome"] == expected[action], email["id"]
        assert email["chat_legs"] == 1, email["id"]
        assert email["notifications"] == 1, email["id"]
        assert email["fallback_emails"] == (0 if action == "accept" else 1), email["id"]
