"""The scenario format: JSON lines, one email per line, or a raw malformed message; the built-in default."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from simulator.runner.scenario import (
    MalformedMessage,
    ScenarioEmail,
    ScenarioError,
    load_scenario,
    parse_lines,
)

EMAIL = {
    "id": "e1",
    "conversation_id": "c1",
    "subject": "Card stolen",
    "body": "My card was stolen",
    "customer": {"id": "cust-1", "email": "a@example.net", "name": "Ada"},
    "attributes": {"Account_ID": "ACC-1", "Priority": 3},
    "queue_wait_minutes": 2,
    "customer_action": "decline",
    "answer_after_s": 4,
    "manual_chat": False,
    "deliveries": 3,
}


def test_an_email_line_parses_with_every_field() -> None:
    scenario = parse_lines([json.dumps(EMAIL)])
    (email,) = scenario.emails
    assert isinstance(email, ScenarioEmail)
    assert email.customer.email == "a@example.net"
    assert email.attributes == {"Account_ID": "ACC-1", "Priority": "3"}  # participant attributes are strings
    assert email.queue_wait_minutes == 2.0
    assert email.customer_action == "decline"
    assert email.deliveries == 3
    assert email.form == "event"  # the Genesys EventBridge envelope unless told otherwise


def test_defaults_fill_the_optional_fields() -> None:
    minimal = {k: EMAIL[k] for k in ("id", "conversation_id", "subject", "body", "customer")}
    (email,) = parse_lines([json.dumps(minimal)]).emails
    assert (email.customer_action, email.answer_after_s, email.deliveries, email.manual_chat) == (
        "accept",
        2.0,
        1,
        False,
    )


def test_a_raw_message_is_kept_verbatim() -> None:
    scenario = parse_lines(['{"id": "bad", "raw_message": "not json {"}', "", "# a comment"])
    (item,) = scenario.items
    assert isinstance(item, MalformedMessage)
    assert item.raw_message == "not json {"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"customer_action": "maybe"}, "customer_action"),
        ({"deliveries": 0}, "deliveries"),
        ({"customer": {"id": "x"}}, "customer"),
        ({"body": ""}, "body"),
        ({"conversation_id": None}, "conversation_id"),
        ({"manual_chat": "yes"}, "manual_chat"),
        ({"form": "fax"}, "form"),
        ({"answered_after_s": True}, "answered_after_s"),
        ({"send_at_s": -1}, "send_at_s"),
        ({"queue_wait_minutes": float("nan")}, "queue_wait_minutes"),
        ({"expect": "conected"}, "expect"),
        ({"agent_delay_s": 10**400}, "agent_delay_s"),
    ],
)
def test_a_bad_line_names_the_line_and_the_field(change: dict[str, object], message: str) -> None:
    bad = {**EMAIL, **change}
    with pytest.raises(ScenarioError, match=rf"s:2: .*{message}"):
        parse_lines([json.dumps(EMAIL), json.dumps({**bad, "id": "e2"})], name="s")


def test_not_json_and_duplicate_ids_are_refused() -> None:
    with pytest.raises(ScenarioError, match="not JSON"):
        parse_lines(["{nope"])
    with pytest.raises(ScenarioError, match="duplicate id"):
        parse_lines([json.dumps(EMAIL), json.dumps(EMAIL)])
    with pytest.raises(ScenarioError, match="no emails"):
        parse_lines(["", "# only a comment"])


def test_the_default_scenario_covers_every_outcome_with_about_fifty_emails() -> None:
    scenario = load_scenario()
    assert 45 <= len(scenario) <= 60
    expected = Counter(item.expect for item in scenario.items)
    for outcome in (
        "connected",
        "declined_fallback",
        "timeout_cleanup",
        "collision_skipped",
        "cooldown_skipped",
        "not_urgent",
        "invalid",
    ):
        assert expected[outcome] >= 2, outcome
    emails = scenario.emails
    assert len({e.conversation_id for e in emails}) == len(emails)  # results are matched per conversation
    assert any(e.deliveries > 1 for e in emails)  # duplicates
    assert any(e.form == "direct" for e in emails)
    assert any(e.form == "event" for e in emails)
    assert any(e.queue_wait_minutes > 15 for e in emails)  # the wait trigger


def test_a_scenario_file_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(EMAIL) + "\n")
    scenario = load_scenario(path)
    assert scenario.name == "mine.jsonl"
    assert [e.id for e in scenario.emails] == ["e1"]
