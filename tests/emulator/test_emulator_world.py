"""The simulated org: customers who accept, decline, ignore or open a chat by hand, agents, and the events."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from email2chat.clock import ManualClock
from email2chat.genesys.models import ChatStatus, Conversation
from emulator_harness import CONVERSATION_ID, Api, seed, topics

from simulator.emulator import GenesysEmulator


def status(emulator: GenesysEmulator, participant_id: str | None = None) -> ChatStatus:
    """The guide's ChatSession status, read through the library's one mapping."""
    return Conversation.from_api(emulator.conversation(CONVERSATION_ID)).chat_status(participant_id)


def upgrade(emulator: GenesysEmulator) -> dict[str, Any]:
    """initiateChat then the push with the deep link, as the workflow does."""
    api = Api(emulator)
    session = api.initiate().json()
    assert api.push(session["id"]).status_code == 202
    return dict(session)


def test_seeded_conversation_has_the_real_shape(emulator: GenesysEmulator, clock: ManualClock) -> None:
    message_id = seed(emulator, queue_wait_s=1200, attributes={"Account_ID": "A-1", "Product_Type": "card"})
    api = Api(emulator)

    conversation = Conversation.from_api(api.get(f"/api/v2/conversations/{CONVERSATION_ID}").json())
    message = api.get(f"/api/v2/conversations/emails/{CONVERSATION_ID}/messages/{message_id}").json()
    listing = api.get(f"/api/v2/conversations/emails/{CONVERSATION_ID}/messages").json()

    customer = conversation.customer()
    assert customer is not None
    assert customer.attributes == {"Account_ID": "A-1", "Product_Type": "card"}
    assert [(leg.media_type, leg.state) for leg in customer.media] == [("email", "connected")]
    assert [p.purpose for p in conversation.participants] == ["customer", "acd"]
    assert conversation.start_time == "2023-11-14T21:53:20.000Z"  # now (22:13:20) minus 20 min in queue
    assert not conversation.email_answered()
    assert (message["subject"], message["textBody"]) == (
        "Charged twice, urgent",
        "Please refund the second payment.",
    )
    assert message["from"] == {"email": "jane@example.com", "name": "Jane Doe"}
    assert [m["id"] for m in listing["entities"]] == [message_id]
    assert "textBody" not in listing["entities"][0]  # a listing carries summaries: fetch the body


def test_a_customer_who_accepts_connects_and_an_agent_is_assigned(
    emulator: GenesysEmulator, clock: ManualClock, events: list[dict[str, Any]]
) -> None:
    seed(emulator, customer_action="accept", answer_after_s=2, agent_delay_s=3)
    session = upgrade(emulator)

    clock.advance(1.9)
    emulator.tick()
    waiting = status(emulator, session["participantId"])
    clock.advance(0.1)
    emulator.tick()
    connected = status(emulator, session["participantId"])
    agent_before = Conversation.from_api(emulator.conversation(CONVERSATION_ID)).agent_connected_time()
    clock.advance(3)
    emulator.tick()
    conversation = Conversation.from_api(emulator.conversation(CONVERSATION_ID))

    assert (waiting, connected) == (ChatStatus.WAITING, ChatStatus.CONNECTED)
    assert agent_before is None
    assert conversation.agent_connected_time() == "2023-11-14T22:13:25.000Z"
    [(agent, _)] = conversation.chat_legs("agent")
    assert agent.user_id
    assert topics(events) == ["customer.start", "user.start"]
    assert events[0]["detail"]["eventBody"]["participantId"] == session["participantId"]
    assert events[0]["detail"]["eventBody"]["mediaType"] == "CHAT"
    assert events[1]["detail"]["eventBody"]["userId"] == agent.user_id


def test_agent_assignments_still_to_come_are_counted_for_connected_chats_only(
    emulator: GenesysEmulator, clock: ManualClock
) -> None:
    seed(emulator, customer_action="accept", answer_after_s=1, agent_delay_s=3)
    upgrade(emulator)
    before_answer = emulator.pending_agent_assignments()
    clock.advance(1)
    emulator.tick()
    connected = emulator.pending_agent_assignments()
    clock.advance(3)
    emulator.tick()

    assert (before_answer, connected, emulator.pending_agent_assignments()) == (0, 1, 0)


def test_no_agent_assignment_is_pending_for_a_customer_who_left(
    emulator: GenesysEmulator, clock: ManualClock
) -> None:
    seed(emulator, customer_action="accept", answer_after_s=1, agent_delay_s=100)
    upgrade(emulator)
    clock.advance(1)
    emulator.tick()

    emulator.customer_leaves_chat(CONVERSATION_ID)

    assert emulator.pending_agent_assignments() == 0


def test_a_customer_who_declines_ends_the_leg_without_connecting(
    emulator: GenesysEmulator, clock: ManualClock, events: list[dict[str, Any]]
) -> None:
    seed(emulator, customer_action="decline", answer_after_s=5)
    session = upgrade(emulator)

    clock.advance(5)
    emulator.tick()

    assert status(emulator, session["participantId"]) is ChatStatus.DECLINED
    [leg] = emulator.chat_legs(CONVERSATION_ID)
    assert (leg["state"], leg["disconnect_type"], leg["connected_time"]) == ("disconnected", "client", None)
    assert topics(events) == ["customer.end"]
    assert events[0]["detail"]["eventBody"]["disconnectType"] == "client"


def test_a_customer_who_ignores_the_push_stays_waiting(
    emulator: GenesysEmulator, clock: ManualClock, events: list[dict[str, Any]]
) -> None:
    seed(emulator, customer_action="ignore")
    session = upgrade(emulator)

    clock.advance(3600)
    emulator.tick()

    assert status(emulator, session["participantId"]) is ChatStatus.WAITING
    assert events == []


def test_the_customer_acts_only_once_the_push_arrives(emulator: GenesysEmulator, clock: ManualClock) -> None:
    seed(emulator, customer_action="accept", answer_after_s=2)
    api = Api(emulator)
    session = api.initiate().json()

    clock.advance(600)  # no push yet: the customer knows nothing
    emulator.tick()
    before_push = status(emulator, session["participantId"])
    api.push(session["id"])
    clock.advance(2)
    emulator.tick()

    assert before_push is ChatStatus.WAITING
    assert status(emulator, session["participantId"]) is ChatStatus.CONNECTED


def test_reads_apply_what_is_due_without_an_explicit_tick(
    emulator: GenesysEmulator, clock: ManualClock
) -> None:
    seed(emulator, customer_action="accept", answer_after_s=2)
    session = upgrade(emulator)
    clock.advance(2)

    conversation = Conversation.from_api(Api(emulator).get(f"/api/v2/conversations/{CONVERSATION_ID}").json())

    assert conversation.chat_status(session["participantId"]) is ChatStatus.CONNECTED


def test_a_customer_who_leaves_after_connecting_closes_the_chat(
    emulator: GenesysEmulator, clock: ManualClock, events: list[dict[str, Any]]
) -> None:
    seed(emulator, customer_action="accept", answer_after_s=1, agent_delay_s=100)
    session = upgrade(emulator)
    clock.advance(1)
    emulator.tick()

    emulator.customer_leaves_chat(CONVERSATION_ID)
    clock.advance(100)
    emulator.tick()

    assert status(emulator, session["participantId"]) is ChatStatus.CLOSED
    assert topics(events) == ["customer.start", "customer.end"]  # no agent for a customer who left
    assert events[1]["detail"]["eventBody"]["disconnectType"] == "client"


def test_cleanup_before_the_customer_answers_wins(
    emulator: GenesysEmulator, clock: ManualClock, events: list[dict[str, Any]]
) -> None:
    seed(emulator, customer_action="accept", answer_after_s=10)
    session = upgrade(emulator)
    api = Api(emulator)

    answer = api.patch(
        f"/api/v2/conversations/{CONVERSATION_ID}/participants/{session['participantId']}",
        {"state": "disconnected"},
    )
    clock.advance(10)
    emulator.tick()

    assert answer.status_code == 202
    assert status(emulator, session["participantId"]) is ChatStatus.CLOSED
    [leg] = emulator.chat_legs(CONVERSATION_ID)
    assert leg["disconnect_type"] == "system"
    assert events == []


def test_a_manual_chat_is_an_active_customer_initiated_leg(
    emulator: GenesysEmulator, clock: ManualClock, events: list[dict[str, Any]]
) -> None:
    seed(emulator, manual_chat=True, agent_delay_s=4)

    conversation = Conversation.from_api(emulator.conversation(CONVERSATION_ID))
    [leg] = emulator.chat_legs(CONVERSATION_ID)
    clock.advance(4)
    emulator.tick()

    assert len(conversation.active_chat_legs()) == 1  # what the collision check must see
    assert (leg["state"], leg["initiation_method"]) == ("connected", "customer")
    assert topics(events) == ["customer.start", "user.start"]


def test_opening_a_manual_chat_during_an_upgrade_leaves_two_legs(emulator: GenesysEmulator) -> None:
    seed(emulator, customer_action="ignore")
    upgrade(emulator)

    emulator.open_manual_chat(CONVERSATION_ID)

    methods = sorted(leg["initiation_method"] for leg in emulator.chat_legs(CONVERSATION_ID))
    assert methods == ["customer", "workflow"]


def test_an_agent_answering_the_email_shows_on_the_conversation(emulator: GenesysEmulator) -> None:
    seed(emulator)

    emulator.answer_email(CONVERSATION_ID)

    conversation = Conversation.from_api(emulator.conversation(CONVERSATION_ID))
    assert conversation.email_answered()
    assert conversation.chat_status() is ChatStatus.NONE


def test_events_use_the_genesys_eventbridge_envelope(emulator: GenesysEmulator) -> None:
    seed(emulator)

    event = emulator.email_started_event(CONVERSATION_ID)

    assert event["detail-type"] == "v2.detail.events.conversation.{id}.customer.start"
    assert event["source"] == "aws.partner/genesys.com/cloud/local-org/email2chat"
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    detail = event["detail"]
    assert detail["topicName"] == f"v2.detail.events.conversation.{CONVERSATION_ID}.customer.start"
    assert set(detail) == {"topicName", "version", "eventBody", "metadata", "timestamp"}
    assert detail["metadata"]["CorrelationId"]
    body = detail["eventBody"]
    customer = Conversation.from_api(emulator.conversation(CONVERSATION_ID)).customer()
    assert customer is not None
    assert (body["conversationId"], body["participantId"]) == (CONVERSATION_ID, customer.id)
    assert (body["mediaType"], body["subject"]) == ("EMAIL", "Charged twice, urgent")
    assert isinstance(body["eventTime"], int)


def test_events_are_delivered_outside_the_world_lock(clock: ManualClock) -> None:
    read_back: list[list[dict[str, Any]]] = []
    reader_finished_in_sink: list[bool] = []

    def sink(event: dict[str, Any]) -> None:
        # Another thread reads the world while we are in the sink: it would hang if the lock were held.
        reader = threading.Thread(target=lambda: read_back.append(emulator.chat_legs(CONVERSATION_ID)))
        reader.start()
        reader.join(timeout=2)
        reader_finished_in_sink.append(not reader.is_alive())

    with GenesysEmulator(clock=clock, event_sink=sink) as emulator:
        seed(emulator, customer_action="accept", answer_after_s=1)
        upgrade(emulator)
        clock.advance(1)
        emulator.tick()

    assert reader_finished_in_sink == [True]
    assert read_back[0][0]["state"] == "connected"


def test_a_failing_sink_does_not_break_the_emulator(clock: ManualClock) -> None:
    def sink(event: dict[str, Any]) -> None:
        raise RuntimeError("downstream is down")

    with GenesysEmulator(clock=clock, event_sink=sink) as emulator:
        seed(emulator, customer_action="accept", answer_after_s=1)
        upgrade(emulator)
        clock.advance(1)

        answer = Api(emulator).get(f"/api/v2/conversations/{CONVERSATION_ID}")

        assert answer.status_code == 200
        assert topics(emulator.published_events()) == ["customer.start"]


def test_autotick_applies_due_actions_on_its_own(clock: ManualClock) -> None:
    delivered = threading.Event()
    with GenesysEmulator(
        clock=clock, event_sink=lambda e: delivered.set(), autotick_interval_s=0.01
    ) as emulator:
        seed(emulator, customer_action="decline", answer_after_s=30)
        upgrade(emulator)
        clock.advance(30)

        assert delivered.wait(timeout=5)  # waits for the ticker thread, not for simulated time
        assert [leg["state"] for leg in emulator.chat_legs(CONVERSATION_ID)] == ["disconnected"]


def test_seeding_rejects_an_unknown_customer_action(emulator: GenesysEmulator) -> None:
    with pytest.raises(ValueError, match="customer_action"):
        seed(emulator, customer_action="maybe")
