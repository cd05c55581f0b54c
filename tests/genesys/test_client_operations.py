"""Every GenesysPort operation over real HTTP against the emulator; the guards that fire before sending."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from client_harness import CONVERSATION_ID, api_requests, seed
from email2chat.clock import ManualClock
from email2chat.errors import ConversationIdMismatch, MissingConversationId, NotFound, RequestGuardError
from email2chat.genesys.client import GenesysClient
from email2chat.genesys.models import (
    AgentlessEmail,
    CallbackRequest,
    ChatStatus,
    InitiateChatRequest,
    PushNotification,
    RateLimitInfo,
)
from email2chat.genesys.port import GenesysPort

from simulator.emulator import GenesysEmulator


def push_for(session_id: str, conversation_id: str = CONVERSATION_ID) -> PushNotification:
    return PushNotification(
        customer_id="customer-42",
        title="We are ready to help you faster via Chat",
        body="Tap here to start a chat with an agent now.",
        action_url=f"https://gcs.genesys.cloud/chat/session/{session_id}",
        conversation_id=conversation_id,
    )


def test_the_client_implements_the_port(client: GenesysClient) -> None:
    port: GenesysPort = client  # mypy checks the structure; this checks the attribute at runtime
    assert port.last_rate_limit is None


def test_reads_the_conversation_and_the_email_content(
    emulator: GenesysEmulator, client: GenesysClient, clock: ManualClock
) -> None:
    message_id = seed(emulator, queue_wait_s=900)

    conversation = client.get_conversation(CONVERSATION_ID)
    summaries = client.list_email_messages(CONVERSATION_ID)
    message = client.get_email_message(CONVERSATION_ID, message_id)

    customer = conversation.customer()
    assert customer is not None
    assert customer.attributes == {"Account_ID": "A-1", "Product_Type": "card"}
    assert [leg.state for leg in customer.legs("email")] == ["connected"]
    assert conversation.end_time is None
    assert conversation.chat_status() is ChatStatus.NONE
    assert conversation.start_time == "2023-11-14T21:58:20.000Z"  # clock start 22:13:20, 15 min in queue
    assert [m.id for m in summaries] == [message_id]
    assert message.subject == "Charged twice, urgent"
    assert message.text_body == "Please refund the second payment."
    assert message.html_body == "<p>Please refund the second payment.</p>"
    assert message.from_address == "jane@example.com"


def test_unknown_conversation_raises_not_found(emulator: GenesysEmulator, client: GenesysClient) -> None:
    with pytest.raises(NotFound) as raised:
        client.get_conversation("no-such-conversation")
    assert raised.value.code == "not.found"
    assert raised.value.correlation_id == api_requests(emulator, "get_conversation")[-1]["correlation_id"]


def test_initiate_chat_then_push_then_the_customer_connects(
    emulator: GenesysEmulator, client: GenesysClient, clock: ManualClock
) -> None:
    seed(emulator, customer_action="accept", answer_after_s=2, agent_delay_s=3)

    session = client.initiate_chat(
        InitiateChatRequest(CONVERSATION_ID, CONVERSATION_ID, external_conversation_id="crm-77")
    )
    notification_id = client.send_push_notification(push_for(session.id))

    assert session.conversation_id == CONVERSATION_ID
    assert session.state == "alerting"
    assert client.get_conversation(CONVERSATION_ID).chat_status(session.participant_id) is ChatStatus.WAITING
    [sent] = emulator.notifications(CONVERSATION_ID)
    assert sent["id"] == notification_id
    assert sent["recipient"] == {"type": "customer", "id": "customer-42"}
    assert sent["message"]["actionUrl"].endswith(f"/chat/session/{session.id}")
    [leg] = emulator.chat_legs(CONVERSATION_ID)
    assert leg["external_conversation_id"] == "crm-77"

    clock.advance(2)
    assert (
        client.get_conversation(CONVERSATION_ID).chat_status(session.participant_id) is ChatStatus.CONNECTED
    )
    clock.advance(3)
    assert client.get_conversation(CONVERSATION_ID).agent_connected_time() == "2023-11-14T22:13:25.000Z"


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (InitiateChatRequest(email_id=CONVERSATION_ID, conversation_id="conv-other"), ConversationIdMismatch),
        (InitiateChatRequest(email_id=CONVERSATION_ID, conversation_id=""), MissingConversationId),
        (InitiateChatRequest(email_id=CONVERSATION_ID, conversation_id="  "), MissingConversationId),
        (InitiateChatRequest(email_id="", conversation_id=CONVERSATION_ID), MissingConversationId),
    ],
)
def test_initiate_chat_guards_fire_before_any_request(
    emulator: GenesysEmulator,
    client: GenesysClient,
    request_: InitiateChatRequest,
    error: type[RequestGuardError],
) -> None:
    seed(emulator)

    with pytest.raises(error):
        client.initiate_chat(request_)

    assert emulator.request_log() == []  # not even a token request
    assert emulator.chat_legs(CONVERSATION_ID) == []
    assert emulator.disjointed_conversations() == []


def test_attribute_values_must_be_strings_and_are_refused_before_sending(
    emulator: GenesysEmulator, client: GenesysClient
) -> None:
    seed(emulator)
    participant_id = client.get_conversation(CONVERSATION_ID).participants[0].id
    before = len(emulator.request_log())

    with pytest.raises(RequestGuardError, match="Account_Balance"):
        client.patch_participant_attributes(CONVERSATION_ID, participant_id, {"Account_Balance": 12})

    assert len(emulator.request_log()) == before


def test_patch_participant_attributes_merges_strings(
    emulator: GenesysEmulator, client: GenesysClient
) -> None:
    seed(emulator)
    session = client.initiate_chat(InitiateChatRequest(CONVERSATION_ID, CONVERSATION_ID))

    client.patch_participant_attributes(
        CONVERSATION_ID, session.participant_id, {"Account_ID": "A-1", "Product_Type": "card"}
    )
    client.patch_participant_attributes(CONVERSATION_ID, session.participant_id, {"upgraded_from": "email"})

    assert emulator.participant_attributes(CONVERSATION_ID, session.participant_id) == {
        "Account_ID": "A-1",
        "Product_Type": "card",
        "upgraded_from": "email",
    }


def test_disconnecting_an_already_disconnected_leg_counts_as_done(
    emulator: GenesysEmulator, client: GenesysClient
) -> None:
    seed(emulator)
    session = client.initiate_chat(InitiateChatRequest(CONVERSATION_ID, CONVERSATION_ID))

    client.disconnect_participant(CONVERSATION_ID, session.participant_id)
    client.disconnect_participant(CONVERSATION_ID, session.participant_id)  # no error

    statuses = [e["status"] for e in api_requests(emulator, "disconnect_participant")]
    assert statuses == [
        202,
        400,
    ]  # Genesys refused the second one; the client read state back and accepted it
    [leg] = emulator.chat_legs(CONVERSATION_ID)
    assert (leg["state"], leg["disconnect_type"]) == ("disconnected", "system")
    assert client.get_conversation(CONVERSATION_ID).chat_status(session.participant_id) is ChatStatus.CLOSED


def test_disconnecting_an_unknown_participant_is_not_done(
    emulator: GenesysEmulator, client: GenesysClient
) -> None:
    seed(emulator)
    with pytest.raises(NotFound):
        client.disconnect_participant(CONVERSATION_ID, "no-such-participant")


def test_agentless_email_is_stitched_to_the_conversation(
    emulator: GenesysEmulator, client: GenesysClient
) -> None:
    seed(emulator)

    message_id = client.send_agentless_email(
        AgentlessEmail(
            conversation_id=CONVERSATION_ID,
            from_address="support@example.com",
            to_addresses=("jane@example.com",),
            subject="Re: Charged twice, urgent",
            text_body="We can call you back.",
            reply_to_address="support@example.com",
        )
    )

    [sent] = emulator.emails_sent(CONVERSATION_ID)
    assert sent["id"] == message_id
    assert sent["to"] == [{"email": "jane@example.com"}]
    assert message_id in [m.id for m in client.list_email_messages(CONVERSATION_ID)]


def test_create_callback_returns_the_callback_conversation(
    emulator: GenesysEmulator, client: GenesysClient
) -> None:
    callback_id = client.create_callback(
        CallbackRequest("queue-callbacks", ("+15551234567",), "Jane Doe", {"conversationId": CONVERSATION_ID})
    )

    [callback] = emulator.callbacks()
    assert callback["conversationId"] == callback_id
    assert callback["data"] == {"conversationId": CONVERSATION_ID}


def test_rate_limit_headers_reach_the_caller_and_the_observer(
    emulator: GenesysEmulator, make_client: Callable[..., GenesysClient]
) -> None:
    seed(emulator)
    seen: list[RateLimitInfo] = []
    client = make_client(rate_limit_observer=seen.append)

    client.get_conversation(CONVERSATION_ID)
    client.get_conversation(CONVERSATION_ID)

    assert [info.count for info in seen] == [1, 2]  # API answers only: the login host has its own budget
    assert client.last_rate_limit == RateLimitInfo(allowed=300, count=2, reset_seconds=60.0)
    assert client.last_rate_limit.remaining == 298
