"""The JSON result, the summary table and the HTML report, from a synthetic run (no AWS, no Genesys);
the report is opened in headless Chromium to prove it renders without JS errors."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from simulator.runner.console import ProgressBar, summary_table
from simulator.runner.pipeline import Delivery, Progress, RawRun, RunOptions
from simulator.runner.report import layout, render_report
from simulator.runner.results import build_result, percentile
from simulator.runner.scenario import parse_lines

DEFINITION: dict[str, Any] = {
    "StartAt": "CollisionCheck",
    "States": {
        "CollisionCheck": {"Type": "Task", "Next": "IsFree", "Catch": [{"Next": "RecordOutcome"}]},
        "IsFree": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.x", "BooleanEquals": True, "Next": "Initiate"}],
            "Default": "RecordOutcome",
        },
        "Initiate": {"Type": "Task", "Next": "Throttled"},
        "Throttled": {"Type": "Choice", "Choices": [{"Next": "WaitForToken"}], "Default": "RecordOutcome"},
        "WaitForToken": {"Type": "Wait", "Next": "Initiate"},
        "RecordOutcome": {"Type": "Task", "End": True},
    },
}
T0 = 1_800_000_000.0
WALL0 = 1_700_000_000.0
SCALE = 0.01


def _raw() -> RawRun:
    lines = [
        '{"id": "e1", "conversation_id": "c1", "subject": "s", "body": "b", '
        '"customer": {"id": "u1", "email": "u1@example.net"}, "expect": "connected"}',
        '{"id": "e2", "conversation_id": "c2", "subject": "s", "body": "b", '
        '"customer": {"id": "u2", "email": "u2@example.net"}, "expect": "declined_fallback"}',
        '{"id": "e3", "conversation_id": "c3", "subject": "s", "body": "b", '
        '"customer": {"id": "u3", "email": "u3@example.net"}}',
        '{"id": "bad", "raw_message": "<not json>"}',
    ]
    scenario = parse_lines(lines, name="synthetic.jsonl")
    deliveries = {item.id: Delivery(item=item, due_at=T0, delivered_at=T0 + 1.0) for item in scenario.items}
    deliveries["e1"].message_ids = ["m1"]
    path_connected = ["CollisionCheck", "IsFree", "Initiate", "Throttled", "WaitForToken", "Initiate"]
    executions = [
        {
            "name": "e1-1",
            "status": "SUCCEEDED",
            "email_id": "e1",
            "conversation_id": "c1",
            "start_real": WALL0,
            "stop_real": WALL0 + 1,
            "states": [
                {"name": n, "at_real": WALL0 + 0.02 + 0.01 * i}
                for i, n in enumerate([*path_connected, "RecordOutcome"])
            ],
        },
        {
            "name": "e2-1",
            "status": "SUCCEEDED",
            "email_id": "e2",
            "conversation_id": "c2",
            "start_real": WALL0,
            "stop_real": WALL0 + 1,
            "states": [{"name": n, "at_real": WALL0 + 0.03} for n in ["CollisionCheck", "RecordOutcome"]],
        },
    ]
    outcomes = [
        {
            "email_id": "e1",
            "outcome": "connected",
            "reason": "customer joined the chat",
            "conversation_id": "c1",
            "timings": {
                "received": T0 + 1,
                "initiated": T0 + 3,
                "connected": T0 + 9,
                "agent_assigned": T0 + 12,
            },
            "recorded_at": T0 + 12.5,
            "history": [],
        },
        {
            "email_id": "msg-2",  # an event-form email: matched to its scenario line by conversation id
            "outcome": "declined_fallback",
            "reason": "customer declined <script>alert(1)</script>",
            "conversation_id": "c2",
            "timings": {"received": T0 + 1},
            "recorded_at": T0 + 20,
            "history": [{"outcome": "deferred"}],
        },
    ]
    return RawRun(
        scenario=scenario,
        options=RunOptions(time_scale=SCALE),
        started_clock=T0,
        started_wall=WALL0,
        started_real=100.0,
        finished_real=104.5,
        deliveries=deliveries,
        outcomes=outcomes,
        executions=executions,
        dead_letters=[
            {
                "message_id": "d1",
                "body": "<not json>",
                "attributes": {"reason": "not JSON"},
                "receive_count": 1,
            }
        ],
        genesys={"requests": 40, "rate_limited": 2, "errors": 1, "tokens_issued": 1, "initiate_requests": []},
        conversations={
            "c1": {
                "chat_legs": [{"participant_id": "p1", "state": "connected"}],
                "chat_attributes": {"accountId": "ACC-1"},
                "notifications": [{"id": "n1"}],
                "emails_sent": [],
            },
            "c2": {"chat_legs": [{}], "chat_attributes": {}, "notifications": [{}], "emails_sent": [{}]},
            "c3": {"chat_legs": [], "chat_attributes": {}, "notifications": [], "emails_sent": []},
        },
        metrics=[
            {
                "at": T0 + 5,
                "name": "BreakerTransition",
                "value": 1,
                "unit": "Count",
                "dimensions": {"to_state": "open"},
                "properties": {"from_state": "closed"},
            },
        ],
        status_events=[
            {
                "at": T0 + 9,
                "event": {
                    "detail-type": "v2.detail.events.conversation.{id}.customer.start",
                    "detail": {"eventBody": {"conversationId": "c1", "mediaType": "CHAT"}},
                },
            }
        ],
        definition=DEFINITION,
        timed_out=True,
        handler_errors={},
    )


def test_result_holds_what_the_issue_lists() -> None:
    result = build_result(_raw())
    by_id = {e["id"]: e for e in result["emails"]}
    e1 = by_id["e1"]
    assert {k: e1[k] for k in ("outcome", "chat_legs", "notifications", "fallback_emails")} == {
        "outcome": "connected",
        "chat_legs": 1,
        "notifications": 1,
        "fallback_emails": 0,
    }
    assert e1["chat_attributes"] == {"accountId": "ACC-1"}
    assert e1["time_to_connect_s"] == 8.0  # delivered at +1, connected at +9 (simulated seconds)
    assert e1["agent_assignment_s"] == 9.0  # initiated +3 -> agent +12
    events = [ev["event"] for ev in e1["timeline"]]
    assert events[0] == "email delivered to the intake queue"
    assert "state Initiate" in events
    assert "genesys event customer.start CHAT" in events
    assert events[-1] == "outcome connected"
    assert by_id["e2"]["outcome"] == "declined_fallback"
    assert by_id["e2"]["history"] == ["deferred"]
    assert by_id["e3"]["outcome"] == "missing"
    assert by_id["bad"]["outcome"] == "invalid"
    assert by_id["bad"]["reason"] == "not JSON"
    assert result["totals"] == {"connected": 1, "declined_fallback": 1, "invalid": 1, "missing": 1}
    assert result["missing"] == ["e3"]
    assert result["genesys"]["rate_limited"] == 2
    assert result["elapsed_s"] == 4.5
    assert result["simulated_s"] == 450.0
    assert result["breaker"] == [{"t": 5.0, "from": "closed", "to": "open"}]
    counts = result["state_machine"]
    assert counts["states"]["CollisionCheck"] == 2
    assert counts["states"]["Initiate"] == 1
    assert counts["visits"]["Initiate"] == 2  # the throttle loop went round once
    transitions = {(t["from"], t["to"]): t["executions"] for t in counts["transitions"]}
    assert transitions[("WaitForToken", "Initiate")] == 1
    assert transitions[("CollisionCheck", "RecordOutcome")] == 1


def test_an_agent_who_joins_after_the_workflow_ended_still_counts() -> None:
    # CheckStatus saw the customer connected before any agent joined: the record has no agent_assigned,
    # the agent's user.start event (which the run waits for) gives the latency.
    raw = _raw()
    del raw.outcomes[0]["timings"]["agent_assigned"]
    raw.status_events.append(
        {
            "at": T0 + 15,
            "event": {
                "detail-type": "v2.detail.events.conversation.{id}.user.start",
                "detail": {"eventBody": {"conversationId": "c1", "mediaType": "CHAT"}},
            },
        }
    )

    result = build_result(raw)

    e1 = {e["id"]: e for e in result["emails"]}["e1"]
    assert e1["agent_assignment_s"] == 12.0  # initiated +3 -> agent event +15
    assert result["latency"]["agent_assignment_s"]["count"] == 1


def test_a_broken_copy_rejected_later_does_not_stand_for_an_event_form_email() -> None:
    raw = _raw()
    raw.outcomes.append(  # the intake's record of a broken copy of c2's event, recorded after the email's
        {
            "email_id": "sqs-bad-copy",
            "outcome": "invalid",
            "reason": "customer.start with mediaType CHAT, expected EMAIL",
            "conversation_id": "c2",
            "timings": {},
            "recorded_at": T0 + 30,
            "details": {"final": True, "sqs_message_id": "bad-copy", "email_id_hint": "c2"},
            "history": [],
        }
    )

    e2 = {e["id"]: e for e in build_result(raw)["emails"]}["e2"]

    assert e2["outcome"] == "declined_fallback"


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


def test_summary_table_and_progress_bar() -> None:
    result = build_result(_raw())
    table = summary_table(result)
    assert re.search(r"connected\s+1\s+25\.0%", table)
    assert "429 rate limited         2" in table
    assert "Circuit breaker transitions: 1" in table
    assert "time to connect" in table
    assert "NO OUTCOME" in table
    stream = io.StringIO()
    bar = ProgressBar(stream)
    for done in (0, 1, 1, 4):
        bar(Progress(done=done, total=4, elapsed_s=1.0, outcomes={"connected": done}))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # not a terminal: one line per change of decile
    assert lines[-1].startswith("[" + "#" * 30 + "] 4/4")


def test_layout_layers_states_by_distance_from_start() -> None:
    positions = layout(DEFINITION)
    assert positions["CollisionCheck"][1] < positions["IsFree"][1] < positions["Initiate"][1]
    # longest-path layers with the loop back edge ignored: the end state sits on the deepest layer
    assert all(
        y <= positions["RecordOutcome"][1] for name, (_, y) in positions.items() if name != "RecordOutcome"
    )
    assert positions["WaitForToken"][1] > positions["Initiate"][1]
    assert len(set(positions.values())) == len(positions)


def test_report_is_self_contained_and_escapes_content() -> None:
    page = render_report(build_result(_raw()), DEFINITION)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # no external requests
    assert "@import" not in page
    for state in DEFINITION["States"]:
        assert f'data-state="{state}"' in page
    assert 'data-state="Initiate" data-count="1"' in page
    assert page.count('class="email"') == 4


@pytest.mark.browser
def test_report_renders_in_headless_chromium(tmp_path: Path, dump_dom: Callable[..., str]) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_report(build_result(_raw()), DEFINITION), encoding="utf-8")
    dom = dump_dom(page)
    assert 'data-rendered="4"' in dom  # the page's script ran to the end
    assert re.search(r'<div id="js-errors"></div>', dom), "a JS error was reported in the page"
