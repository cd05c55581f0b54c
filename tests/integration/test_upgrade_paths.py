"""Every path of the upgrade workflow, end to end through the real ASL (issue 5's "Done when").

One mixed scenario runs once for the module (one stack start, ~10 s); each test reads its own emails from
the result. Times are simulated seconds (the clock runs 100x faster than real time)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_builders import ATTRIBUTES, RunPipeline, email_line

pytestmark = pytest.mark.integration

AWAIT_TIMEOUT_S = 300  # the template's AwaitAnswerTimeoutSeconds (the guide's 5 minutes)


LINES = [
    email_line("connected", n=0, deliveries=1),
    email_line("declined", n=1, customer_action="decline", answer_after_s=5),
    email_line("ignored", n=2, customer_action="ignore"),
    email_line("collision", n=3, manual_chat=True),
    # two upgrades of ONE conversation at the same moment (direct form: distinct email ids)
    email_line("race-a", n=0, conversation_id="conv-race", form="direct"),
    email_line("race-b", n=1, conversation_id="conv-race", form="direct"),
    # the same message delivered three times
    email_line("triple", n=2, deliveries=3),
    # the same customer, prompted once already
    email_line("cooldown-first", n=3, customer={"id": "cust-shared", "email": "shared@example.net"}),
    email_line(
        "cooldown-second",
        n=0,
        customer={"id": "cust-shared", "email": "shared@example.net"},
        send_at_s=30,
    ),
    # not urgent by its words; waited 20 minutes already: the wait trigger fires at once
    email_line("wait-now", urgent=False, queue_wait_minutes=20),
    # not urgent, waited 2 minutes: re-checked at 15 minutes, still unanswered, upgraded then. The margin to
    # the trigger must cover the intake's real latency: at 0.01 s per simulated second, 10 ms of Python is a
    # simulated second, and a loaded 2-core runner took over 4 s (7 simulated minutes) to take in this
    # scenario's burst, so an 8-minute wait was already past 15 minutes at intake.
    email_line("wait-later", urgent=False, queue_wait_minutes=2),
    # not urgent, waited 2 minutes, answered by an agent before the re-check: stays not urgent
    email_line("calm-answered", urgent=False, queue_wait_minutes=2, answered_after_s=60),
    {"id": "bad-json", "raw_message": "this is not json {"},
    {"id": "bad-shape", "raw_message": '{"hello": "world"}'},
    # the intake unwraps its own retry envelope before reading: the DLQ keeps the inner garbage
    {"id": "bad-in-envelope", "raw_message": json.dumps({"kind": "email2chat.retry", "body": "garbage <<<"})},
    # well formed, urgent, but Genesys has no such conversation: nothing to upgrade, nothing to retry
    {
        "id": "no-such-conversation",
        "raw_message": json.dumps(
            {
                "email_id": "no-such-conversation",
                "conversation_id": "conv-nowhere",
                "subject": "Card stolen",
                "body": "My card was stolen last night, please block it now.",
                "customer": {"id": "cust-nowhere", "email": "nowhere@example.net"},
            }
        ),
    },
]


@pytest.fixture(scope="module")
def run(pipeline_runner: RunPipeline) -> tuple[dict[str, Any], Any]:
    return pipeline_runner(LINES)


def _email(run: tuple[dict[str, Any], Any], email_id: str) -> dict[str, Any]:
    result, _ = run
    return next(e for e in result["emails"] if e["id"] == email_id)


def _event_times(raw: Any, conversation_id: str, suffix: str) -> list[float]:
    return [
        entry["at"]
        for entry in raw.status_events
        if entry["event"].get("detail-type", "").endswith(suffix)
        and (entry["event"].get("detail") or {}).get("eventBody", {}).get("conversationId") == conversation_id
    ]


def test_every_email_reaches_an_outcome_and_the_run_ends_quiet(run: tuple[dict[str, Any], Any]) -> None:
    result, _ = run
    assert result["missing"] == []
    assert result["timed_out"] is False
    assert result["genesys"]["disjointed_conversations"] == []  # the guide's id trap never happened
    assert all(e["status"] == "SUCCEEDED" for e in result["executions"])


def test_connected(run: tuple[dict[str, Any], Any]) -> None:
    email = _email(run, "connected")
    assert email["outcome"] == "connected"
    assert (email["chat_legs"], email["notifications"], email["fallback_emails"]) == (1, 1, 0)
    assert email["time_to_connect_s"] is not None
    assert email["agent_assignment_s"] is not None
    states = next(e for e in run[0]["executions"] if e["name"] in email["executions"])["states"]
    assert states[0] == "CollisionCheck"
    assert {"Initiate", "Notify", "AwaitAnswer", "CheckStatus", "Connected"} <= set(states)
    assert states.index("RecordOutcome") > states.index("Connected")


def test_attributes_are_preserved_on_the_chat_leg(run: tuple[dict[str, Any], Any]) -> None:
    attributes = _email(run, "connected")["chat_attributes"]
    # chat-side names differ from the email's (the guide's schema trap): no VALUE may be lost
    for name, value in ATTRIBUTES.items():
        assert value in attributes.values(), f"{name}={value} lost on the chat leg: {attributes}"
    assert "Loyalty_Segment" in attributes  # an attribute the schema does not know passes through unchanged


def test_declined_gets_a_fallback_before_the_wait_could_time_out(run: tuple[dict[str, Any], Any]) -> None:
    _, raw = run
    email = _email(run, "declined")
    assert email["outcome"] == "declined_fallback"
    assert email["fallback_emails"] == 1
    (sent,) = raw.conversations["conv-declined"]["emails_sent"]
    assert "conv-declined" in sent["textBody"] + sent["htmlBody"]  # the original conversation id is quoted
    assert "call" in (sent["subject"] + sent["textBody"]).lower()  # a callback is offered
    (declined_at,) = _event_times(raw, "conv-declined", ".customer.end")
    (pushed,) = raw.conversations["conv-declined"]["notifications"]
    # The customer declines 5 simulated seconds after the prompt; the event ends the wait, so the fallback
    # goes out before the 5-minute timeout could have fired (a timed-out wait sends it at AWAIT_TIMEOUT_S or
    # later, see the "ignored" case). Simulated time runs at 100x (each 10 ms of Python is a second): the
    # bound leaves ~2.9 real seconds for the workflow; "under 1.5 s" failed once on a loaded 2-core CI host.
    assert declined_at <= sent["at"] < pushed["at"] + AWAIT_TIMEOUT_S - 5, (
        declined_at,
        sent["at"],
        pushed["at"],
    )


def test_ignored_is_cleaned_up_at_the_timeout(run: tuple[dict[str, Any], Any]) -> None:
    _, raw = run
    email = _email(run, "ignored")
    assert email["outcome"] == "timeout_cleanup"
    (leg,) = raw.conversations["conv-ignored"]["chat_legs"]
    assert leg["state"] in {"disconnected", "terminated"}  # the orphaned leg was closed
    assert email["fallback_emails"] == 1  # the follow-up email
    (pushed,) = raw.conversations["conv-ignored"]["notifications"]
    (followed_up,) = raw.conversations["conv-ignored"]["emails_sent"]
    waited = followed_up["at"] - pushed["at"]
    # after one timed-out wait, not a second one: the upper bound leaves ~2.9 real seconds (0.01 s per
    # simulated second) for check-status, cleanup and fallback; "+ 120 s" (1.2 real s) failed under load.
    assert AWAIT_TIMEOUT_S - 5 <= waited < 2 * AWAIT_TIMEOUT_S - 10


def test_collision_is_skipped_with_one_leg(run: tuple[dict[str, Any], Any]) -> None:
    email = _email(run, "collision")
    assert email["outcome"] == "collision_skipped"
    assert email["chat_legs"] == 1  # the customer's manual chat only
    assert email["notifications"] == 0


def test_two_concurrent_upgrades_of_one_conversation_make_one_leg(run: tuple[dict[str, Any], Any]) -> None:
    _, raw = run
    outcomes = sorted(_email(run, i)["outcome"] for i in ("race-a", "race-b"))
    assert outcomes == ["collision_skipped", "connected"]
    assert len(raw.conversations["conv-race"]["chat_legs"]) == 1
    assert len(raw.conversations["conv-race"]["notifications"]) == 1


def test_a_message_delivered_three_times_starts_one_workflow_and_one_notification(
    run: tuple[dict[str, Any], Any],
) -> None:
    _, raw = run
    email = _email(run, "triple")
    assert len(raw.deliveries["triple"].message_ids) == 3
    assert email["outcome"] == "connected"
    assert len(email["executions"]) == 1
    assert email["notifications"] == 1
    assert email["chat_legs"] == 1


def test_cooldown_skips_a_customer_prompted_recently(run: tuple[dict[str, Any], Any]) -> None:
    # which of the two is first depends on the intake's order (concurrent batches): the invariant is
    # that the customer is prompted once, and the other email is skipped for cooldown
    pair = [_email(run, "cooldown-first"), _email(run, "cooldown-second")]
    assert sorted(e["outcome"] for e in pair) == ["connected", "cooldown_skipped"]
    skipped = next(e for e in pair if e["outcome"] == "cooldown_skipped")
    assert skipped["notifications"] == 0
    assert skipped["chat_legs"] == 0
    assert sum(e["notifications"] for e in pair) == 1


def test_the_wait_trigger(run: tuple[dict[str, Any], Any]) -> None:
    assert _email(run, "wait-now")["outcome"] == "connected"
    later = _email(run, "wait-later")
    assert later["outcome"] == "connected"
    assert "not_urgent" in later["history"]  # first not urgent, upgraded by the 15-minute re-check
    answered = _email(run, "calm-answered")
    assert answered["outcome"] == "not_urgent"
    assert answered["chat_legs"] == 0


def test_malformed_messages_reach_the_dlq_with_a_reason(run: tuple[dict[str, Any], Any]) -> None:
    result, raw = run
    for email_id in ("bad-json", "bad-shape"):
        email = _email(run, email_id)
        assert email["outcome"] == "invalid"
        assert email["reason"]
        assert "redriven" not in email["reason"]  # the handler said why, not just the redrive policy
    bodies = {d["body"] for d in raw.dead_letters}
    assert bodies == {"this is not json {", '{"hello": "world"}', "garbage <<<"}
    assert len(result["dead_letters"]) == 3  # nothing else was dead-lettered
    unwrapped = _email(run, "bad-in-envelope")
    assert unwrapped["outcome"] == "invalid"
    assert unwrapped["dead_letter_copies"] == 1


def test_an_email_for_a_conversation_genesys_does_not_have_is_invalid_at_once(
    run: tuple[dict[str, Any], Any],
) -> None:
    email = _email(run, "no-such-conversation")
    assert email["outcome"] == "invalid"
    assert email["reason"] == "the email's conversation does not exist in Genesys (404)"
    (execution,) = [e for e in run[0]["executions"] if e["email_id"] == "no-such-conversation"]
    assert "Defer" not in execution["states"]  # never re-queued: a 404 does not heal


def test_state_counts_for_the_report(run: tuple[dict[str, Any], Any]) -> None:
    result, _ = run
    counts = result["state_machine"]
    assert counts["executions"] == len(result["executions"])
    assert counts["states"]["CollisionCheck"] == counts["executions"]
    assert counts["states"]["RecordOutcome"] == counts["executions"]
    assert counts["states"]["Connected"] >= result["totals"]["connected"]
    assert any(t["from"] == "CheckStatus" for t in counts["transitions"])
